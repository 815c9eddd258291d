"""Log events endpoint: the real handler + pipeline against a real moto server (DynamoDB, S3)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid

import orjson
import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from ingest.store import Store
from tests.conftest import EVENTS, load_event, partition_items, payload, reject_keys, scan_all

ENDPOINT = "logs_events"
SAMPLES = EVENTS / ENDPOINT


def items(store: Store, tenant: str, dataset: str) -> list[dict]:
    return partition_items(store.dynamodb, f"{tenant}#logs#{dataset}", store.settings.events_table)


def rejects_of(store: Store, tenant: str, request_id: str) -> list[str]:
    return reject_keys(store.s3, store.settings.rejects_bucket, f"rejects/tenant={tenant}/", request_id)


def s3_json(store: Store, key: str) -> dict:
    return json.loads(store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=key)["Body"].read())


def sample_body(name: str) -> bytes:
    event = load_event(ENDPOINT, name)
    return base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()


def event_of_size(size: int, **fields) -> dict:
    event = {**fields, "message": ""}
    event["message"] = "a" * (size - len(orjson.dumps(event)))
    return event


@pytest.fixture
def send(invoke, http_event, new_key):
    """POST to a fresh dataset of a fresh tenant; returns (status, headers, body)."""
    key, tenant = new_key()

    def post(body: bytes, headers: dict | None = None, dataset: str | None = None, method: str = "POST"):
        headers = {"x-api-key": key, "Content-Type": "application/json", **(headers or {})}
        headers = {name: value for name, value in headers.items() if value is not None}  # None: not sent
        event = http_event(ENDPOINT, body, headers, f"/v1/{dataset or post.dataset}")
        event["httpMethod"] = method
        return invoke(ENDPOINT, event)

    post.tenant = tenant
    post.dataset = f"ds-{uuid.uuid4().hex[:10]}"
    return post


# --- Done when ----------------------------------------------------------------------------------


def test_seed_curl_example_is_accepted_and_both_events_are_stored_with_their_service(invoke, store):
    # Other samples of the sample tenant send the same lines (the gzip one, with another service):
    # start from a partition without them, so this request is the one that stores them.
    this_request = "requestId:6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1#"
    for item in items(store, "sample", "logs"):
        if item["sk"]["S"].startswith(this_request):
            store.dynamodb.delete_item(TableName=store.settings.events_table, Key={"pk": item["pk"], "sk": item["sk"]})
    status, headers, body = invoke(ENDPOINT, load_event(ENDPOINT, "valid_seed_curl_example"))
    assert (status, body) == (202, {"message": "Request Accepted"})
    # The sample tenant's partition is shared with other samples: this request's items only.
    stored = sorted((item for item in items(store, "sample", "logs") if item["sk"]["S"].startswith(this_request)),
                    key=lambda item: payload(item)["message"])
    seed = orjson.loads(sample_body("valid_seed_curl_example"))
    assert [payload(item) for item in stored] == seed  # same requestId, two distinct lines: both kept
    for item in stored:
        assert item["service"] == {"S": "my-service"} and "namespace" not in item
        assert item["stream"] == {"S": "logs"} and item["tenant"] == {"S": "sample"}
        assert item["sk"]["S"].startswith("requestId:6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1#sha256:")
        assert item["event_time_source"] == {"S": "received_at"}


def test_three_good_two_bad_stores_the_three_names_the_two_and_keeps_them_raw(send, store):
    good = [{"message": f"good {i}", "i": i} for i in (0, 2, 4)]
    bad_string, bad_large = "bad 1: not an object", event_of_size(262_145, id="too-big")
    batch = [good[0], bad_string, good[1], bad_large, good[2]]
    status, headers, body = send(orjson.dumps(batch))
    assert status == 400
    assert body == {
        "message": "Bad Request",
        "invalid": [
            {"index": 1, "reason": "The event must be a JSON object; it is a string."},
            {"index": 3, "reason": "The event is 262,145 bytes as compact JSON; the limit is 262,144 bytes (256 KiB) "
                                   "per event."},
        ],
    }
    stored = items(store, send.tenant, send.dataset)
    assert sorted((payload(item) for item in stored), key=lambda event: event["i"]) == good

    # only the rejected events, no body
    [events_key, meta_key] = rejects_of(store, send.tenant, headers["X-Request-Id"])
    meta = s3_json(store, meta_key)
    events = store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=events_key)["Body"].read()
    assert [entry["index"] for entry in meta["events"]] == [1, 3]
    assert [events[entry["start"]:entry["end"]] for entry in meta["events"]] == [orjson.dumps(bad_string),
                                                                                 orjson.dumps(bad_large)]
    assert [error["index"] for error in meta["errors"]] == [1, 3]
    assert meta["path_parameters"] == {"dataset": send.dataset} and "x-api-key" not in json.dumps(meta)


def test_an_event_of_exactly_262144_bytes_is_stored_and_262145_is_rejected(send, store):
    exact, over = event_of_size(262_144, id="exact"), event_of_size(262_145, id="over")
    assert (len(orjson.dumps(exact)), len(orjson.dumps(over))) == (262_144, 262_145)
    status, _, body = send(json.dumps([exact, over], indent=2).encode())  # whitespace does not count
    assert status == 400 and [entry["index"] for entry in body["invalid"]] == [1]
    [item] = items(store, send.tenant, send.dataset)
    assert item["sk"] == {"S": "id:exact"} and item["payload"]["B"] == orjson.dumps(exact)


# --- storage: exact round trip, attributes, dedup -----------------------------------------------


def test_numbers_nesting_and_unicode_round_trip_exactly(invoke, store):
    assert invoke(ENDPOINT, load_event(ENDPOINT, "valid_exact_numbers"))[0] == 202
    [item] = [item for item in items(store, "sample", "logs") if item["sk"]["S"] == "id:numbers-1"]
    assert item["payload"]["B"] == (
        '{"id":"numbers-1","big":123456789012345678901234567890,"u64":18446744073709551615,'
        '"i64":-9223372036854775808,"below_i64":-9223372036854775809,"pi":3.141592653589793,"tenth":0.1,'
        '"huge":1e400,"neg_zero":-0.0,"text":"été 🚀 \\"q\\" \\\\","nested":{"a":[1,[2,[3,{"b":null}]]]}}'
    ).encode()


def test_a_retried_request_stores_nothing_twice(send, store):
    batch = orjson.dumps([{"message": "line", "requestId": "r-1", "timestamp": 1_700_000_000_000 + i} for i in range(30)]
                         + [{"id": "evt-9", "message": "with id"}, {"message": "no ids at all"}])
    for _ in range(3):
        assert send(batch)[:3:2] == (202, {"message": "Request Accepted"})
    stored = items(store, send.tenant, send.dataset)
    assert len(stored) == 32
    by_time = [item for item in stored if item["event_time_source"]["S"] == "timestamp"]
    assert sorted(int(item["event_time"]["N"]) for item in by_time) == [1_700_000_000_000 + i for i in range(30)]


def test_keep_first_on_id_within_a_dataset_and_not_across_datasets(send, store):
    assert send(orjson.dumps([{"id": "a", "v": 1}, {"id": "a", "v": 2}]))[0] == 202
    assert send(orjson.dumps([{"id": "a", "v": 3}]))[0] == 202
    [item] = items(store, send.tenant, send.dataset)
    assert payload(item) == {"id": "a", "v": 1}
    other = f"{send.dataset}-other"
    assert send(orjson.dumps([{"id": "a", "v": 4}]), dataset=other)[0] == 202
    assert [payload(item) for item in items(store, send.tenant, other)] == [{"id": "a", "v": 4}]


def test_dedup_lasts_as_long_as_the_item_the_family_retention(send, store, settings):
    assert send(b'[{"message": "no time field: received time is the event time"}]')[0] == 202
    [item] = items(store, send.tenant, send.dataset)
    assert item["event_time_source"] == {"S": "received_at"}
    received = int(item["event_time"]["N"]) // 1000
    retention = settings.retention_seconds("logs")
    assert received + retention - 2 <= int(item["expires_at"]["N"]) <= received + retention + 2


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded", None])
def test_the_body_is_json_whatever_the_content_type(send, store, content_type):
    status, _, _ = send(b'[{"m": 1}]', {"Content-Type": content_type})
    assert status == 202 and [payload(item) for item in items(store, send.tenant, send.dataset)] == [{"m": 1}]


def test_gzip_and_the_undefined_headers_of_the_real_client(send, store):
    body = gzip.compress(orjson.dumps([{"message": "zipped", "requestId": "r"}]))
    headers = {"Content-Encoding": "gzip", "x-service": "undefined", "x-namespace": "undefined"}
    assert send(body, headers)[0] == 202
    [item] = items(store, send.tenant, send.dataset)
    assert payload(item) == {"message": "zipped", "requestId": "r"}
    assert "service" not in item and "namespace" not in item


# --- whole-request errors -----------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["..", "logs%2F..%2Fother", "l%D0%BEgs", "%2E%2E", "a" * 129, "logs%23x"])
def test_dataset_attacks_are_400_and_reach_no_key(send, store, dataset):
    status, headers, body = send(b'[{"message": "x"}]', dataset=dataset)
    assert status == 400 and body["message"] == "Bad Request" and "Invalid dataset" in body["reason"]
    scanned = scan_all(
        store.dynamodb,
        TableName=store.settings.events_table,
        FilterExpression="tenant = :t",
        ExpressionAttributeValues={":t": {"S": send.tenant}},
    )
    assert scanned == []
    keys = rejects_of(store, send.tenant, headers["X-Request-Id"])
    assert [key.rsplit(".", 1)[1] for key in keys] == ["body", "json"]  # kept raw, under a fixed key shape
    assert all(key.startswith(f"rejects/tenant={send.tenant}/endpoint=logs_events/date=") for key in keys)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"[]", "carries no events"),
        (b'{"message": "x"}', "must be a JSON array of event objects; it is an object"),
        (b'[{"a": 1},]', "line 1, column 10: trailing comma"),
        (b'[{"message": "caf\xe9"}]', "not valid UTF-8 (byte 17)"),
        (b"[" * 5000 + b"]" * 5000, "deeper than 1024 levels"),
        (b"[" + b'{"a":' * 300 + b"1" + b"}" * 300 + b"]", "Event 0 nests arrays and objects deeper than 254 levels"),
        (b"[{123456789012345678901234: 1}]", "column 3: unexpected character, expected a string key"),
        (b'[{"a": 1, 123456789012345678901234: 2}]', "an object key is a number; keys must be strings"),
    ],
)
def test_unusable_bodies_are_400_with_a_reason_and_kept_raw(send, store, body, reason):
    status, headers, answer = send(body)
    assert status == 400 and answer["message"] == "Bad Request" and reason in answer["reason"]
    keys = rejects_of(store, send.tenant, headers["X-Request-Id"])
    body_key = next(key for key in keys if key.endswith(".body"))
    assert store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=body_key)["Body"].read() == body


def test_bodies_over_the_limits_are_413(send):
    status, _, body = send(b" " * (4 * 1024 * 1024 + 1))
    assert status == 413 and body == {
        "message": "Payload Too Large", "reason": "Request body is 4194305 bytes; the limit is 4194304 bytes."
    }
    inflated = gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]")
    status, _, body = send(inflated, {"Content-Encoding": "gzip"})
    assert status == 413 and "6291456 bytes" in body["reason"]


def test_a_gzip_body_may_inflate_past_the_wire_limit(send, store):
    events = [{"message": "x" * 4_000, "n": i} for i in range(1_200)]
    raw = orjson.dumps(events)
    assert 4 * 1024 * 1024 < len(raw) <= 6 * 1024 * 1024
    status, _, body = send(gzip.compress(raw), {"Content-Encoding": "gzip"})
    assert (status, body) == (202, {"message": "Request Accepted"})
    assert sorted(payload(item)["n"] for item in items(store, send.tenant, send.dataset)) == list(range(1_200))


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_before_authentication(invoke, http_event, method):
    event = http_event(ENDPOINT, b"", {}, "/v1/logs")
    event["httpMethod"] = method
    status, headers, body = invoke(ENDPOINT, event)
    assert (status, body, headers["Allow"]) == (405, {"message": "Method Not Allowed"}, "POST")


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "nope"}, {"x-api-key": "ABCDEFGH." + "B" * 48}])
def test_missing_or_wrong_keys_are_exactly_unauthorised(invoke, http_event, headers):
    status, _, body = invoke(ENDPOINT, http_event(ENDPOINT, b'[{"m": 1}]', headers, "/v1/logs"))
    assert (status, body) == (401, {"message": "Unauthorised"})


def test_storage_failure_is_service_unavailable_and_retryable(settings, store, new_key, http_event):
    broken = Settings(**{**settings.model_dump(), "events_table": "no-such-table"})
    pipeline = Pipeline(catalog.get(ENDPOINT), broken, Store(broken, dynamodb=store.dynamodb, s3=store.s3))
    key, _ = new_key()
    response = pipeline.handle(http_event(ENDPOINT, b'[{"m": 1}]', {"x-api-key": key}, "/v1/logs"))
    assert (response["statusCode"], json.loads(response["body"])) == (503, {"message": "Service Unavailable"})
    assert response["headers"]["Retry-After"] == "1"


# --- every sample file answers as its name says ----------------------------------------------


def expected_status(sample: str) -> int:
    prefix = sample.split("_")[0]
    return {"valid": 202, "partial": 400, "invalid": 400, "too": 413, "missing": 401, "wrong": 401, "method": 405}[prefix]


@pytest.mark.parametrize("sample", sorted(path.stem for path in SAMPLES.glob("*.json")))
def test_every_sample_event_gets_its_documented_answer(invoke, sample):
    status, headers, body = invoke(ENDPOINT, load_event(ENDPOINT, sample))
    assert status == expected_status(sample), body
    assert headers["X-Request-Id"]
    if status == 202:
        assert body == {"message": "Request Accepted"}
    elif sample.startswith("partial_") or sample in ("invalid_events_not_objects", "invalid_event_over_256_kib"):
        assert body["message"] == "Bad Request" and body["invalid"]
    elif status == 400:
        assert body["message"] == "Bad Request" and body["reason"]
