"""The service as `make serve` runs it, for the contract test: its own server, emulator and key."""

from __future__ import annotations

import pytest

from tests.conftest import local_server


@pytest.fixture(scope="session")
def contract_server():
    """`python -m local.server` on free ports; yields (base_url, aws_endpoint).

    The key the server registers (INGEST_API_KEY) has the default 1,000 requests a minute, which a
    contract run can exceed; the test registers its own key with a higher limit (contract_key)."""
    from ingest.auth import generate_key

    with local_server(generate_key()) as addresses:
        yield addresses


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
