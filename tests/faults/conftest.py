"""Fault-injection fixtures: one proxy in front of the session's moto server, rules cleared per test.

The service under test talks to moto only through the proxy (a Store whose clients' endpoint_url is
the proxy); the tests read storage back through the session's own `store`, whose clients talk to
moto directly, so nothing a fault does can change what a test sees there.
"""

from __future__ import annotations

import boto3
import pytest

from tests.faults.proxy import FaultProxy

# Short enough that a fault costs a test a few seconds at most (see test_invariants.py).
SHORT = {"aws_budget_seconds": 2, "aws_max_attempts": 2, "aws_read_timeout": 1, "aws_connect_timeout": 1}


@pytest.fixture(scope="session")
def proxy(aws_endpoint):
    proxy = FaultProxy(aws_endpoint).start()
    yield proxy
    proxy.stop()


@pytest.fixture(autouse=True)
def _clear_faults(proxy):
    """Every test starts and ends with no rule armed, no call recorded and nothing in flight."""
    proxy.clear()
    proxy.forget()
    yield
    proxy.clear()
    proxy.wait_idle(timeout=10)
    proxy.forget()


def short_settings(settings, **overrides):
    from ingest.settings import Settings

    return Settings(**{**settings.model_dump(), **SHORT, **overrides})


def proxied_store(settings, proxy: FaultProxy):
    """A Store for `settings` whose DynamoDB and S3 clients go through the proxy.

    The clients are built with the botocore Config the Store itself would use for these settings
    (read off a Store-made client: retries, timeouts), so whatever the Store does with its clients
    is what runs here; only the endpoint differs."""
    from ingest.store import Store

    clients = {
        service: boto3.client(service, endpoint_url=proxy.url, config=store_config(settings, service))
        for service in ("dynamodb", "s3")
    }
    return Store(settings, dynamodb=clients["dynamodb"], s3=clients["s3"])


_CONFIGS: dict[tuple[str, str], object] = {}


def store_config(settings, service: str):
    """The botocore Config of the client a Store makes itself for these settings (once per settings)."""
    from ingest.store import Store

    key = (settings.model_dump_json(), service)
    if key not in _CONFIGS:
        _CONFIGS[key] = getattr(Store(settings), service).meta.config
    return _CONFIGS[key]


@pytest.fixture
def fast_settings(settings):
    """Settings(aws_budget_seconds=2, aws_max_attempts=2, aws_read_timeout=1, aws_connect_timeout=1)."""
    return short_settings(settings)


@pytest.fixture
def faulty_store(fast_settings, proxy):
    """A Store with the short budget whose every AWS call goes through the proxy (fresh clients, so
    botocore's retry quota starts full in every test)."""
    return proxied_store(fast_settings, proxy)
