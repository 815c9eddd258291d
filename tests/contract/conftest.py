"""The service as `make serve` runs it, for the contract test: its own server, emulator and key."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def contract_server():
    """`python -m local.server` on free ports; yields (base_url, aws_endpoint, key).

    The key the server registers (INGEST_API_KEY) has the default 1,000 requests a minute, which a
    contract run can exceed; the test registers its own key with a higher limit (contract_key)."""
    from ingest.auth import generate_key

    key = generate_key()
    env = {**os.environ, "PORT": "0", "EMULATOR_PORT": "0", "INGEST_API_KEY": key, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": f"{ROOT / 'layers' / 'runtime' / 'python'}{os.pathsep}{ROOT}"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "local.server"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
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
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # never block on a full pipe
    yield base, aws
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def contract_key(contract_server) -> str:
    """A key for tenant `contract`, allowed every family, with the highest rate limit."""
    import boto3

    from ingest.auth import MAX_RATE_LIMIT, generate_key, key_record
    from ingest.settings import Settings
    from ingest.store import Store

    _, aws = contract_server
    key = generate_key()
    store = Store(Settings(), dynamodb=boto3.client("dynamodb", endpoint_url=aws))
    store.put_key(key_record(key, "contract", "schemathesis", rate_limit=MAX_RATE_LIMIT))
    return key
