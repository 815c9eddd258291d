"""Helpers for the key, scope, rate-limit and tenancy tests: any catalog endpoint, any key."""

from __future__ import annotations

import copy
import json
import uuid

from ingest import catalog
from ingest.catalog import Endpoint
from ingest.observability import metrics
from local.context import LocalContext
from tests.conftest import EVENTS

CREDENTIAL_HEADERS = ("authorization", "x-api-key")


def credential(endpoint: Endpoint, key: str) -> dict[str, str]:
    """The family's own credential header carrying `key`."""
    scheme = endpoint.auth
    return {scheme.header: (f"{scheme.word} " if scheme.word else "") + key}


def other_family_credential(endpoint: Endpoint, key: str) -> dict[str, str]:
    """A credential header of another scheme: right key, wrong header."""
    if endpoint.auth.header_key == "x-api-key":
        return {"Authorization": f"Bearer {key}"}
    return {"X-API-Key": key}


def valid_sample(endpoint: Endpoint) -> dict | None:
    """The endpoint's first valid sample event (a complete API Gateway event), if it has one."""
    samples = sorted((EVENTS / endpoint.name).glob("valid*.json"))
    return json.loads(samples[0].read_text()) if samples else None


def with_headers(event: dict, headers: dict[str, str | list[str]]) -> dict:
    """A copy of `event` with its credentials replaced by `headers` and a fresh request id."""
    event = copy.deepcopy(event)
    single = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in CREDENTIAL_HEADERS}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() not in CREDENTIAL_HEADERS}
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        single[name] = values[-1]
        multi[name] = values
    event["headers"], event["multiValueHeaders"] = single, multi
    event.setdefault("requestContext", {})["requestId"] = f"keys-{uuid.uuid4().hex[:12]}"
    return event


def keyed_sample(endpoint: Endpoint, key: str) -> dict:
    sample = valid_sample(endpoint)
    assert sample is not None, f"{endpoint.name} has no valid sample event"
    return with_headers(sample, credential(endpoint, key))


def endpoints_with_samples() -> list[Endpoint]:
    """The keyed endpoints with a valid sample (a keyless route has no key to get wrong)."""
    return [endpoint for endpoint in catalog.ENDPOINTS if not endpoint.public and valid_sample(endpoint) is not None]


def one_endpoint_per_family() -> list[Endpoint]:
    chosen: dict[str, Endpoint] = {}
    for endpoint in endpoints_with_samples():
        if getattr(endpoint, "kind", "ingest") == "ingest":
            chosen.setdefault(endpoint.family, endpoint)
    return list(chosen.values())


def succeeded(status: int) -> bool:
    return 200 <= status < 300


def succeeded_again(endpoint: Endpoint, status: int) -> bool:
    """A repeat of the endpoint's valid sample got past the key: a success, or for a sample that
    succeeds once per tenant (`valid_*_once`: a dataset create) the 409 of its second time."""
    samples = sorted((EVENTS / endpoint.name).glob("valid*.json"))
    once = bool(samples) and samples[0].stem.endswith("_once")
    return succeeded(status) or (once and status == 409)


def handle(pipeline, event: dict) -> dict:
    """Call a Pipeline directly, as its handler would (metrics flushed per call there; cleared here)."""
    try:
        return pipeline.handle(event, LocalContext(pipeline.endpoint.name, event["requestContext"]["requestId"]))
    finally:
        metrics.clear_metrics()
