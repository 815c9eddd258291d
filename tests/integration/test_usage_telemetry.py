"""The usage SDK's telemetry routes: real handlers + pipeline + moto, read back from storage directly.

Keyed reports are kept per tenant in the route's telemetry stream for 7 days; the keyless report of a
refused key is kept under no tenant, for a day, with the key only as its SHA-256 and prefix — never in
clear, not in the table, not in S3, not in the logs.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import time
import uuid

import orjson
import pytest

from ingest import catalog, layout
from ingest.auth import generate_key, hash_key
from ingest.pipeline import Pipeline
from local.context import LocalContext
from tests.conftest import partition_items, payload, reject_keys, scan_all
from tests.integration.test_key_secrecy import log_lines  # noqa: F401 (a fixture: the handlers' JSON log lines)

KEYED = ["usage_telemetry_lifecycle", "usage_telemetry_extraction_issues", "usage_telemetry_metrics_incremental"]
INVALID_KEY = "usage_telemetry_invalid_api_key"
USER_AGENT = "Java-http-client/17.0.2 v:0.4.0 id:test-instance"
DAY = 86_400


def stream_items(store, tenant: str, endpoint: str) -> list[dict]:
    stream = catalog.get(endpoint).telemetry_stream
    return partition_items(store.dynamodb, f"{tenant}#usage#{stream}", store.settings.events_table)


def all_rejects(store) -> list[str]:
    s3 = store.s3
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=store.settings.rejects_bucket)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


@pytest.fixture
def report(invoke, http_event, new_key):
    """POST a report as the SDK does (no Content-Type) as a fresh tenant; returns (status, headers, body)."""
    key, tenant = new_key()

    def call(endpoint: str, body: bytes, headers: dict | None = None):
        base = {"User-Agent": USER_AGENT} if endpoint == INVALID_KEY else {"X-API-Key": key, "User-Agent": USER_AGENT}
        return invoke(endpoint, http_event(endpoint, body, {**base, **(headers or {})}))

    call.tenant, call.key = tenant, key
    return call


@pytest.mark.parametrize("endpoint", KEYED)
def test_a_keyed_report_without_content_type_is_200_and_kept_for_the_tenant_for_7_days(report, store, endpoint):
    body = json.dumps({"instanceId": uuid.uuid4().hex, "eventsSent": 12}).encode()
    before = int(time.time())
    status, headers, answer = report(endpoint, body)
    assert (status, answer) == (200, {"message": "Telemetry received"})
    assert headers["X-Request-Id"]
    [item] = stream_items(store, report.tenant, endpoint)
    assert payload(item) == json.loads(body)
    assert item["tenant"]["S"] == report.tenant and item["user_agent"]["S"] == USER_AGENT
    # The route's retention, not the family's 30 days: between 7 days from before and after the call.
    assert before + 7 * DAY <= int(item["expires_at"]["N"]) <= int(time.time()) + 7 * DAY


def test_a_retried_report_is_kept_once_and_another_tenant_sees_none_of_it(report, store, new_key, invoke, http_event):
    body = b'{"type": "STARTED", "instanceId": "retry-1"}'
    for _ in range(3):  # the SDK retries on I/O errors: the same bytes again
        assert report("usage_telemetry_lifecycle", body)[0] == 200
    assert len(stream_items(store, report.tenant, "usage_telemetry_lifecycle")) == 1
    other_key, other = new_key()
    event = http_event("usage_telemetry_lifecycle", body, {"X-API-Key": other_key, "User-Agent": USER_AGENT})
    assert invoke("usage_telemetry_lifecycle", event)[0] == 200
    # The other tenant's copy is its own item; the first tenant still has exactly one.
    assert len(stream_items(store, other, "usage_telemetry_lifecycle")) == 1
    assert len(stream_items(store, report.tenant, "usage_telemetry_lifecycle")) == 1


@pytest.mark.parametrize(("body", "message"), [
    (b'["STARTED"]', "one JSON object"),
    (b'{"type": ', "Malformed JSON at line 1"),
    (b"", "empty"),
])
def test_a_report_that_is_not_one_json_object_is_a_400_kept_raw_for_the_tenant(report, store, body, message):
    status, headers, answer = report("usage_telemetry_lifecycle", body)
    assert status == 400 and message in answer["message"]
    assert stream_items(store, report.tenant, "usage_telemetry_lifecycle") == []
    prefix = f"rejects/tenant={report.tenant}/endpoint=usage_telemetry_lifecycle/"
    kept = reject_keys(store.s3, store.settings.rejects_bucket, prefix, headers["X-Request-Id"])
    bodies = [store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=key)["Body"].read()
              for key in kept if key.endswith(".body")]
    assert bodies == [body]


def test_a_report_over_64_kib_is_a_413_in_the_usage_dialect_and_nothing_is_stored(report, store):
    body = json.dumps({"padding": "x" * 64 * 1024}).encode()
    status, _, answer = report("usage_telemetry_metrics_incremental", body)
    assert status == 413 and set(answer) == {"message"} and "65536" in answer["message"]
    assert stream_items(store, report.tenant, "usage_telemetry_metrics_incremental") == []


def test_a_keyed_report_needs_the_key(invoke, http_event, store):
    status, _, answer = invoke("usage_telemetry_lifecycle", http_event("usage_telemetry_lifecycle", b"{}", {}))
    assert (status, answer) == (401, {"message": "Missing API key."})


# --- the keyless report of a refused key -----------------------------------------------------------


def keyless_items(store) -> list[dict]:
    return stream_items(store, layout.KEYLESS_TENANT, INVALID_KEY)


def item_of(store, refused: str) -> list[dict]:
    digest = hash_key(refused)
    return [item for item in keyless_items(store) if digest in item["payload"]["B"].decode()]


REFUSED_KEYS = {
    "one of ours": generate_key,
    "the SDK's format without the prefix": lambda: base64.b64encode(secrets.token_bytes(36)).decode(),
}


@pytest.mark.parametrize("kind", sorted(REFUSED_KEYS))  # fixed ids: every xdist worker collects the same tests
def test_the_invalid_key_report_is_200_kept_under_no_tenant_with_the_key_only_hashed(report, store, log_lines, capfd,
                                                                                     kind):
    refused = REFUSED_KEYS[kind]()
    body = json.dumps({"apiKey": refused, "instanceId": "i-1", "nested": {"note": f"used {refused}"}}).encode()
    before = int(time.time())
    status, headers, answer = report(INVALID_KEY, body)
    assert (status, answer) == (200, {"message": "Telemetry received"})
    [item] = item_of(store, refused)
    assert item["tenant"]["S"] == layout.KEYLESS_TENANT
    stored = payload(item)
    expected = {"sha256": hash_key(refused)}
    if "." in refused:
        expected["prefix"] = refused.split(".")[0]
    # The key under its field, and the key quoted in free text elsewhere: both reduced to the digest.
    quoted = f"[key sha256:{expected['sha256']}" + (f" prefix:{expected['prefix']}]" if "prefix" in expected else "]")
    assert stored == {"apiKey": expected, "instanceId": "i-1", "nested": {"note": f"used {quoted}"}}
    assert before + DAY <= int(item["expires_at"]["N"]) <= int(time.time()) + DAY
    # Nowhere in clear: not in any item of the table, not in any S3 object's name, not in the logs.
    secret = refused.split(".")[-1]
    assert not [i for i in scan_all(store.dynamodb, TableName=store.settings.events_table) if secret in str(i)]
    assert not [key for key in all_rejects(store) if secret in key]
    logged = log_lines.getvalue() + "".join(capfd.readouterr())
    assert INVALID_KEY in logged and headers["X-Request-Id"] in logged  # the request's log line was seen
    assert secret not in logged


def test_a_bad_invalid_key_report_is_a_400_and_nothing_of_it_is_kept_anywhere(report, store, log_lines, capfd):
    refused = generate_key()
    rejects_before = set(all_rejects(store))
    for body in (json.dumps(refused).encode(), f'{{"apiKey": "{refused}",'.encode()):
        status, _, answer = report(INVALID_KEY, body)
        assert status == 400 and refused not in json.dumps(answer)
    oversized = json.dumps({"apiKey": refused, "padding": "x" * 8 * 1024}).encode()
    status, _, answer = report(INVALID_KEY, oversized)
    assert status == 413 and set(answer) == {"message"}
    assert item_of(store, refused) == []
    # The body may carry the key in clear: no raw reject is kept of it (the other routes keep theirs).
    new = set(all_rejects(store)) - rejects_before
    assert not [key for key in new if f"endpoint={INVALID_KEY}" in key]
    logged = log_lines.getvalue() + "".join(capfd.readouterr())
    assert INVALID_KEY in logged and refused.split(".")[1] not in logged


def test_the_invalid_key_report_never_asks_for_a_key_and_a_key_sent_anyway_is_ignored(report, store):
    refused = generate_key()
    status, headers, _ = report(INVALID_KEY, json.dumps({"apiKey": refused}).encode(), {"X-API-Key": refused})
    assert status == 200
    assert "RateLimit-Limit" in headers  # the route's own bound, counted for every caller together
    [item] = item_of(store, refused)
    assert item["tenant"]["S"] == layout.KEYLESS_TENANT


def test_the_invalid_key_report_is_bounded_in_the_handler_for_all_callers_together(settings, store, http_event):
    # The same route with a bound of 2 a minute, under a name of its own (its own counter).
    route = dataclasses.replace(catalog.get(INVALID_KEY), name=f"bounded_{uuid.uuid4().hex[:8]}", keyless_rate_limit=2)
    pipeline = Pipeline(route, settings, store)
    answers = []
    for index in range(3):
        event = http_event(INVALID_KEY, json.dumps({"apiKey": f"k{index}"}).encode(), {"User-Agent": f"ua-{index}"})
        answer = pipeline.handle(event, LocalContext(route.name, f"bounded-{uuid.uuid4().hex[:8]}"))
        answers.append((answer["statusCode"], orjson.loads(answer["body"])))
    assert [status for status, _ in answers] == [200, 200, 429]
    assert set(answers[2][1]) == {"message"}
