"""The local server as a user runs it (`python -m local.server`), on free ports, over real HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import local_server


@pytest.fixture(scope="session")
def live_key():
    from ingest.auth import generate_key

    return generate_key()


@pytest.fixture(scope="session")
def live_server(live_key):
    """`python -m local.server` with its embedded moto; yields (base_url, aws_endpoint)."""
    with local_server(live_key) as addresses:
        yield addresses


@pytest.fixture(scope="session")
def aws_clients(live_server):
    import boto3

    _, aws = live_server
    return boto3.client("dynamodb", endpoint_url=aws), boto3.client("s3", endpoint_url=aws)
