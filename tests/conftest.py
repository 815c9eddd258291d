"""Shared fixtures: one real moto server per test session, handlers invoked with sample events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from local.environment import apply_local_defaults

apply_local_defaults()
os.environ.pop("AWS_ENDPOINT_URL", None)  # the session's own emulator, never a developer's

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def aws_endpoint():
    """A real moto server (HTTP) with the stack's tables and bucket, on a free port."""
    from ingest.auth import MAX_RATE_LIMIT
    from ingest.settings import get_settings
    from local import emulator

    server = emulator.start_moto(port=0)
    emulator.bootstrap(get_settings())
    # Every sample event under events/ carries this one key, and the suite sends them by the
    # thousand within a minute: it must not meet the per-key rate limit (tests of the limit use
    # keys of their own).
    emulator.register_key(
        get_settings(), emulator.SAMPLE_KEY, emulator.SAMPLE_TENANT, name="sample events", rate_limit=MAX_RATE_LIMIT
    )
    yield os.environ["AWS_ENDPOINT_URL"]
    server.stop()


@pytest.fixture(scope="session")
def settings(aws_endpoint):
    from ingest.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def store(settings):
    from ingest.store import Store

    return Store(settings)


@pytest.fixture
def new_key(settings):
    """Register a key for a fresh tenant; returns (key, tenant)."""
    from local import emulator

    def make(tenant: str | None = None) -> tuple[str, str]:
        tenant = tenant or f"t-{uuid.uuid4().hex[:12]}"
        return emulator.register_key(settings, None, tenant), tenant

    return make


@pytest.fixture
def cli(aws_endpoint):
    """`python -m cli ...` in process (click's runner) against the session's moto; asserts the exit code."""
    from click.testing import CliRunner

    from cli.__main__ import main

    runner = CliRunner()

    def run(*args: str, expect: int = 0):
        result = runner.invoke(main, [*args, "--endpoint-url", aws_endpoint], catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result

    return run


def load_event(endpoint: str, name: str) -> dict:
    return json.loads((EVENTS / endpoint / f"{name}.json").read_text())


@pytest.fixture
def invoke(aws_endpoint):
    """Call an endpoint's real handler with an API Gateway event; returns (status, headers, body)."""
    from local import handlers
    from local.context import LocalContext

    def call(endpoint: str, event: dict):
        event = json.loads(json.dumps(event))
        event["requestContext"]["requestId"] = f"{event['requestContext'].get('requestId', 'req')}-{uuid.uuid4().hex[:8]}"
        response = handlers.load(endpoint)(event, LocalContext(endpoint, event["requestContext"]["requestId"]))
        body = response["body"]
        return response["statusCode"], response["headers"], json.loads(body) if body else None

    return call


@pytest.fixture
def http_event():
    """Build an API Gateway event for an endpoint, the way the local server does."""
    from ingest import catalog
    from local import apigw

    def build(endpoint: str, body: bytes, headers: dict[str, str], path: str | None = None) -> dict:
        spec = catalog.get(endpoint)
        path = path or spec.path
        matched = apigw.match(spec.method, path)
        params = matched[1] if matched else {}
        return apigw.to_event(spec, params, spec.method, path, list(headers.items()), body, "127.0.0.1")

    return build


def partition_items(dynamodb, pk: str, table: str | None = None) -> list[dict]:
    """Every item of one partition: all Query pages, consistent reads (one page stops at 1 MB)."""
    from ingest.settings import Settings

    pages = dynamodb.get_paginator("query").paginate(
        TableName=table or Settings().events_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def payload(item: dict) -> dict:
    """The stored event of an events-table item (compact JSON bytes)."""
    import orjson

    return orjson.loads(item["payload"]["B"])


def scan_all(dynamodb, **kwargs) -> list[dict]:
    """Every item a Scan matches, across all pages (one page stops at 1 MB of the shared test table)."""
    return [item for page in dynamodb.get_paginator("scan").paginate(**kwargs) for item in page["Items"]]


@contextmanager
def local_server(api_key: str):
    """`python -m local.server` as `make serve` runs it, on free ports with its own embedded moto.

    Yields (base_url, aws_endpoint) once the server printed both; stops it afterwards."""
    env = {
        **os.environ,
        "PORT": "0",
        "EMULATOR_PORT": "0",
        "INGEST_API_KEY": api_key,
        "PYTHONPATH": f"{ROOT / 'layers' / 'runtime' / 'python'}{os.pathsep}{ROOT}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "local.server"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = aws = None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (base and aws):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ingest API listening on "):
            base = line.split()[-1]
        elif line.startswith("AWS endpoint"):
            aws = line.split()[-1]
    if not (base and aws):
        process.kill()
        raise RuntimeError("local server did not start:\n" + "".join(lines))
    # Keep draining its output so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    try:
        yield base, aws
    finally:
        process.terminate()
        process.wait(timeout=10)


def reject_keys(s3, bucket: str, prefix: str, request_id: str) -> list[str]:
    """The objects of the reject an X-Request-Id names (metadata, body or events; not the pointer),
    sorted, read from S3 directly: the request's `<request id>.request` pointer names the reject's
    metadata key, and its objects share that key's stem (ingest.layout)."""
    keys = [entry["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for entry in page.get("Contents", [])]
    stems = {s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().removesuffix(".json")
             for key in keys if key.rsplit("/", 1)[-1] == f"{request_id}.request"}
    return sorted(key for key in keys if key.rsplit(".", 1)[0] in stems)
