"""The local server as a user runs it (`python -m local.server`), on free ports, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def live_key():
    from ingest.auth import generate_key

    return generate_key()


@pytest.fixture(scope="session")
def live_server(live_key):
    """Start `python -m local.server` with its embedded moto; yields (base_url, aws_endpoint)."""
    env = {
        **os.environ,
        "PORT": "0",
        "EMULATOR_PORT": "0",
        "INGEST_API_KEY": live_key,
        "PYTHONPATH": f"{ROOT / 'layers' / 'runtime' / 'python'}{os.pathsep}{ROOT}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "local.server"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = aws = None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline and not (base and aws):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ingest API listening on "):
            base = line.split()[-1]
        if line.startswith("AWS endpoint"):
            aws = line.split()[-1]
    if not (base and aws):
        process.kill()
        raise RuntimeError("local server did not start:\n" + "".join(lines))
    # keep draining output so the server never blocks on a full pipe
    import threading

    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    yield base, aws
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def aws_clients(live_server):
    import boto3

    _, aws = live_server
    return boto3.client("dynamodb", endpoint_url=aws), boto3.client("s3", endpoint_url=aws)
