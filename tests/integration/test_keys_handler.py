"""Keys through the real handlers and moto: revocation, rotation, expiry, scopes, bad input, equal work."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cli.keys import KeyAdmin
from ingest import catalog
from ingest.catalog import Endpoint
from ingest.pipeline import Pipeline
from ingest.store import Store
from tests.integration.keys_support import (
    credential,
    endpoints_with_samples,
    handle,
    keyed_sample,
    one_endpoint_per_family,
    other_family_credential,
    succeeded,
    succeeded_again,
    valid_sample,
    with_headers,
)

DATAHUB = catalog.get("datahub_events")


@pytest.fixture
def admin(store) -> KeyAdmin:
    return KeyAdmin(store)


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def datahub_body(provider: str | None = None, event_id: str = "e1") -> bytes:
    provider = provider or f"p-{uuid.uuid4().hex[:8]}"
    return json.dumps({"events": [{"provider": provider, "id": event_id, "time": "2024-03-10T23:00:00Z"}]}).encode()


def test_a_revoked_key_stops_working_at_once(admin, invoke, http_event):
    key, record = admin.create(tenant(), ["*"])
    event = http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, key))
    assert invoke(DATAHUB.name, event)[0] == 201
    _, newly = admin.revoke(record["prefix"])
    assert newly
    status, headers, body = invoke(DATAHUB.name, event)
    assert (status, body) == (401, {"error": "Invalid API key."})
    assert "RateLimit-Limit" not in headers  # nothing is counted for a key that is not accepted
    for endpoint in one_endpoint_per_family():  # every family, in its own dialect
        status, _, body = invoke(endpoint.name, keyed_sample(endpoint, key))
        assert status == 401 and key not in json.dumps(body), endpoint.name


def test_revoking_twice_keeps_the_first_time(admin):
    _, record = admin.create(tenant(), ["datahub"])
    first, newly = admin.revoke(record["prefix"])
    again, newly_again = admin.revoke(record["prefix"])
    assert newly and not newly_again and again["revoked_at"] == first["revoked_at"]


def test_rotation_old_and_new_work_during_the_overlap_only_new_after(settings, store, invoke, http_event):
    start = datetime.now(UTC).replace(microsecond=0)
    admin = KeyAdmin(store, clock=lambda: start)
    old_key, old_record = admin.create(tenant(), ["datahub"], name="ci", rate_limit=50)
    new_key, new_record, old_after = admin.rotate(old_record["prefix"], timedelta(hours=24))
    assert new_key != old_key
    assert (new_record["tenant"], new_record["scopes"], new_record["name"], new_record["rate_limit"]) == (
        old_record["tenant"],
        ["datahub"],
        "ci",
        50,
    )
    assert old_after["expires_at"] == (start + timedelta(hours=24)).isoformat()
    assert old_after["rotated_to"] == new_record["prefix"] and new_record["rotated_from"] == old_record["prefix"]

    # During the overlap (now, through the deployed handler code path): both keys are accepted.
    for key in (old_key, new_key):
        assert invoke(DATAHUB.name, http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, key)))[0] == 201

    # After the overlap: the same pipeline, its clock moved past the old key's expiry.
    later = Pipeline(DATAHUB, settings, store, clock=lambda: start + timedelta(hours=24, seconds=1))
    answers = {
        name: handle(later, http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, key)))
        for name, key in (("old", old_key), ("new", new_key))
    }
    assert answers["old"]["statusCode"] == 401 and json.loads(answers["old"]["body"]) == {"error": "Invalid API key."}
    assert answers["new"]["statusCode"] == 201


def test_rotation_with_zero_overlap_retires_the_old_key_at_once(admin, invoke, http_event):
    old_key, old_record = admin.create(tenant(), ["datahub"])
    new_key, _, _ = admin.rotate(old_record["prefix"], timedelta(0))
    assert invoke(DATAHUB.name, http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, old_key)))[0] == 401
    assert invoke(DATAHUB.name, http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, new_key)))[0] == 201


def test_an_expired_key_is_refused(admin, invoke, http_event):
    key, _ = admin.create(tenant(), ["datahub"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert invoke(DATAHUB.name, http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, key)))[0] == 401


@pytest.mark.parametrize("endpoint", one_endpoint_per_family(), ids=lambda e: e.name)
def test_a_key_outside_its_family_scope_gets_403_in_the_dialect(admin, invoke, endpoint):
    other_family = next(family for family in ("datahub", "ops", "usage") if family != endpoint.family)
    key, _ = admin.create(tenant(), [other_family])
    status, headers, body = invoke(endpoint.name, keyed_sample(endpoint, key))
    assert status == 403, (endpoint.name, body)
    assert endpoint.family in json.dumps(body)
    assert headers["RateLimit-Limit"] == "1000"  # counted: the key was authenticated
    allowed, _ = admin.create(tenant(), [endpoint.family])
    assert succeeded(invoke(endpoint.name, keyed_sample(endpoint, allowed))[0])


# --- dataset scopes (log events) ----------------------------------------------------------------

def logs_route() -> tuple[Endpoint, dict]:
    """(endpoint, a valid event for it): the catalog's logs route when it exists."""
    for endpoint in catalog.ENDPOINTS:
        if endpoint.family == "logs" and "{dataset}" in endpoint.path and valid_sample(endpoint):
            return endpoint, valid_sample(endpoint)
    raise AssertionError("the catalog has no logs route with a valid sample event")


def on_dataset(event: dict, dataset: str) -> dict:
    event = json.loads(json.dumps(event))
    event["pathParameters"] = {**(event.get("pathParameters") or {}), "dataset": dataset}
    event["path"] = f"/v1/{dataset}"
    return event


@pytest.mark.parametrize(
    ("scope", "dataset", "allowed"),
    [
        ("logs:app-*", "app-web", True),
        ("logs:app-*", "billing", False),
        ("logs:app", "app", True),
        ("logs:app", "app-web", False),
        ("logs", "anything", True),
        ("datahub", "app", False),
    ],
)
def test_a_dataset_scoped_key_gets_403_on_other_datasets(settings, store, admin, scope, dataset, allowed):
    endpoint, sample = logs_route()
    pipeline = Pipeline(endpoint, settings, store)
    key, _ = admin.create(tenant(), [scope])
    event = with_headers(on_dataset(sample, dataset), credential(endpoint, key))
    response = handle(pipeline, event)
    if allowed:
        assert succeeded(response["statusCode"]), response
    else:
        assert response["statusCode"] == 403, response
        assert (repr(dataset) if scope.startswith("logs") else "logs") in response["body"]


# --- bad input: each a clean 401, in every family ------------------------------------------------


def bad_credentials(endpoint: Endpoint, key: str) -> dict[str, dict]:
    word = credential(endpoint, key)
    [(header, value)] = word.items()
    scheme = value[: len(value) - len(key)]
    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    return {
        "no header": {},
        "wrong shape": {header: scheme + key[:20]},
        "non-base64 payload": {header: scheme + key[:9] + "!" * 48},
        "prefix exists, wrong secret": {header: scheme + wrong_secret},
        "unknown prefix": {header: scheme + "ZZZZ0000" + key[8:]},
        # The usage SDK's format check lets a key without its 8-character prefix through: the real
        # key's own 48 characters, and any other 48 characters of base64, are each a clean 401.
        "key without the prefix": {header: scheme + key[9:]},
        "other base64 without a prefix": {header: scheme + "QUJD" * 12},
        "empty header": {header: ""},
        "two auth headers": {header: [value, value]},
        "trailing spaces": {header: value + "  "},
        "another family's header": other_family_credential(endpoint, key),
    }


BAD_INPUT = [
    (endpoint, case)
    for endpoint in endpoints_with_samples()
    for case in bad_credentials(endpoint, "ABCDEFGH." + "A" * 48)
]


@pytest.fixture(scope="module")
def shared_key(settings):
    key, _ = KeyAdmin(Store(settings)).create("bad-input", ["*"])
    return key


@pytest.mark.parametrize(("endpoint", "case"), BAD_INPUT, ids=lambda v: v.name if isinstance(v, Endpoint) else v)
def test_bad_credentials_are_a_clean_401_in_the_family_dialect(invoke, shared_key, endpoint, case):
    headers = bad_credentials(endpoint, shared_key)[case]
    status, response_headers, body = invoke(endpoint.name, with_headers(valid_sample(endpoint), headers))
    assert status == 401, (endpoint.name, case, body)
    rendered = json.dumps(body)
    assert shared_key not in rendered and shared_key[9:] not in rendered
    assert "RateLimit-Limit" not in response_headers
    # The same sample with the right credential works: the 401 came from the credential alone.
    assert succeeded_again(endpoint, invoke(endpoint.name, keyed_sample(endpoint, shared_key))[0])


def test_unknown_prefix_and_wrong_secret_make_the_same_aws_calls(settings, store, http_event):
    """Equal work, asserted on the calls made (not on time): one consistent GetItem, nothing else."""
    key, _ = KeyAdmin(store).create(tenant(), ["datahub"])
    calls: list[tuple[str, dict]] = []
    dynamodb = store.dynamodb
    # A client of its own, so only this test's calls are recorded.
    import boto3

    client = boto3.client("dynamodb", endpoint_url=dynamodb.meta.endpoint_url)
    client.meta.events.register(
        "provide-client-params.dynamodb.*",
        lambda params, model, **_: calls.append((model.name, {k: params[k] for k in sorted(params) if k != "Key"})),
    )
    pipeline = Pipeline(DATAHUB, settings, Store(settings, dynamodb=client, s3=store.s3))
    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    unknown_prefix = "ZZZZ0000" + key[8:]
    traces = []
    for candidate in (wrong_secret, unknown_prefix):
        calls.clear()
        response = handle(pipeline, http_event(DATAHUB.name, datahub_body(), credential(DATAHUB, candidate)))
        traces.append((response["statusCode"], response["body"], list(calls)))
    assert traces[0] == traces[1]
    assert traces[0][2] == [("GetItem", {"ConsistentRead": True, "TableName": settings.keys_table})]
