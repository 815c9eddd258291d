"""Usage endpoints: real handlers + pipeline + a real moto server (DynamoDB, S3), read back from storage."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from tests.conftest import load_event, partition_items, payload, reject_keys

TIME = "2024-03-01T12:00:00Z"


def get_object(bucket: str, **fields) -> dict:
    return {"action": "GetObject", "timestamp": TIME, "provider": "aws", "bucket": bucket, "objectKey": "a.txt",
            "bytes": 100, **fields}


def unique_bucket() -> str:
    return f"bucket-{uuid.uuid4().hex[:10]}"


def items(store, tenant: str, stream: str = "s3") -> list[dict]:
    return partition_items(store.dynamodb, f"{tenant}#usage#{stream}", store.settings.events_table)


def payloads(store, tenant: str, stream: str = "s3") -> list[dict]:
    return [payload(item) for item in items(store, tenant, stream)]


def reject_objects(store, tenant: str, endpoint: str, request_id: str) -> list[str]:
    prefix = f"rejects/tenant={tenant}/endpoint={endpoint}/"
    return reject_keys(store.s3, store.settings.rejects_bucket, prefix, request_id)


def read_object(store, key: str) -> bytes:
    return store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=key)["Body"].read()


@pytest.fixture
def send(invoke, http_event, new_key):
    """POST/GET to a usage endpoint as a fresh tenant; returns (status, headers, body)."""
    key, tenant = new_key()

    def call(endpoint: str, body: object = None, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        headers = {"X-API-Key": key, "Content-Type": "application/json", **(headers or {})}
        return invoke(endpoint, http_event(endpoint, data, headers))

    call.tenant = tenant
    call.key = key
    return call


# --- Done when: the same event twice is stored once ---------------------------------------------------


def test_the_same_event_sent_twice_is_stored_once_and_both_answers_are_200(send, store):
    event = get_object(unique_bucket())
    first = send("usage_s3", event)
    second = send("usage_s3", event)
    assert first[0] == second[0] == 200
    assert first[2] == {"message": "Event processed successfully"}
    assert "duplicate" in second[2]["message"]
    [item] = items(store, send.tenant)
    assert orjson.loads(item["payload"]["B"]) == event


def test_a_retry_through_the_batch_route_is_reported_as_duplicate(send, store):
    bucket = unique_bucket()
    assert send("usage_s3", get_object(bucket))[0] == 200
    batch = [get_object(bucket), get_object(bucket, bytes=7), get_object(bucket, bytes=7)]
    status, _, body = send("usage_s3_batch", batch)
    assert status == 200
    assert [event["status"] for event in body["events"]] == ["duplicate", "stored", "duplicate"]
    assert sorted(payload["bytes"] for payload in payloads(store, send.tenant)) == [7, 100]


def test_dedup_key_is_the_payload_hash_and_lasts_as_long_as_the_item(send, store):
    assert send("usage_s3", get_object(unique_bucket()))[0] == 200
    [item] = items(store, send.tenant)
    assert item["sk"]["S"] == hashlib.sha256(item["payload"]["B"]).hexdigest()
    received = datetime.fromisoformat(item["received_at"]["S"].replace("Z", "+00:00"))
    retention = Settings().retention_seconds("usage")
    assert int(item["expires_at"]["N"]) == int(received.timestamp()) + retention
    assert (item["family"]["S"], item["stream"]["S"], item["endpoint"]["S"]) == ("usage", "s3", "usage_s3")


# --- Done when: unknown fields dropped, not kept anywhere ----------------------------------------------


def test_an_event_with_an_unknown_field_is_stored_without_it_and_not_kept_raw(send, store):
    event = get_object(unique_bucket())
    status, headers, _ = send("usage_s3", {**event, "unknown_foo": "secret-bar", "requestLatencyMs": 12})
    assert status == 200
    [stored] = payloads(store, send.tenant)
    assert stored == event
    assert reject_objects(store, send.tenant, "usage_s3", headers["X-Request-Id"]) == []


# --- Done when: offsets honoured, stored as UTC --------------------------------------------------------


def test_an_offset_timestamp_is_stored_normalized_to_utc(send, store):
    event = get_object(unique_bucket(), timestamp="2024-03-01T12:00:00+08:00")
    assert send("usage_s3", event)[0] == 200
    [item] = items(store, send.tenant)
    assert orjson.loads(item["payload"]["B"])["timestamp"] == "2024-03-01T04:00:00Z"
    assert int(item["event_time"]["N"]) == int(datetime(2024, 3, 1, 4, tzinfo=UTC).timestamp() * 1000)


def test_the_same_instant_in_another_zone_is_a_duplicate(send, store):
    bucket = unique_bucket()
    assert send("usage_s3", get_object(bucket, timestamp="2024-03-01T04:00:00"))[0] == 200
    status, _, body = send("usage_s3", get_object(bucket, timestamp="2024-03-01T12:00:00+08:00"))
    assert status == 200 and "duplicate" in body["message"]
    assert len(items(store, send.tenant)) == 1


# --- Done when: 3 valid + 2 invalid → 3 stored, 2 raw in S3, said per event -----------------------------


def test_a_batch_of_3_valid_and_2_invalid_stores_3_and_keeps_the_2_raw(send, store):
    bucket = unique_bucket()
    invalid_one = get_object(bucket, bytes="lots", unknown_kept_raw="yes")
    invalid_two = {"action": "RestoreObject", "timestamp": TIME, "provider": "aws", "bucket": bucket}
    batch = [
        get_object(bucket, bytes=1, droppedField="accepted-unknown-1"),
        invalid_one,
        get_object(bucket, bytes=2),
        invalid_two,
        get_object(bucket, bytes=3, timestamp="2024-03-01T12:00:00-01:00"),
    ]
    status, headers, body = send("usage_s3_batch", batch)

    assert status == 200
    assert (body["stored"], body["duplicates"], body["rejected"]) == (3, 0, 2)
    assert [(event["index"], event["status"]) for event in body["events"]] == [
        (0, "stored"), (1, "rejected"), (2, "stored"), (3, "rejected"), (4, "stored")
    ]
    assert body["events"][1]["errors"] == [{"path": "[1].bytes", "message": "Input should be a valid integer"}]
    assert body["events"][3]["errors"][0]["path"] == "[3].action"
    assert "RestoreObject" in body["events"][3]["errors"][0]["message"]

    stored = sorted(payloads(store, send.tenant), key=lambda payload: payload["bytes"])
    assert [payload["bytes"] for payload in stored] == [1, 2, 3]
    assert stored[2]["timestamp"] == "2024-03-01T13:00:00Z"
    assert all("droppedField" not in payload for payload in stored)

    [events_key, meta_key] = reject_objects(store, send.tenant, "usage_s3_batch", headers["X-Request-Id"])
    meta = json.loads(read_object(store, meta_key))
    events = read_object(store, events_key)
    assert meta["events_key"] == events_key and [event["index"] for event in meta["events"]] == [1, 3]
    raw = [events[event["start"]:event["end"]] for event in meta["events"]]
    assert raw == [json.dumps(invalid_one).encode(), json.dumps(invalid_two).encode()]  # the bytes sent, extras and all
    assert json.dumps(invalid_one).encode() in events.splitlines()[0]  # readable: one line per event, beside its errors
    assert json.loads(events.splitlines()[0])["errors"][0]["path"] == "[1].bytes"
    assert [error["path"] for error in meta["errors"]] == ["[1].bytes", "[3].action"]
    assert b"accepted-unknown-1" not in read_object(store, meta_key) + events  # accepted events' extras are kept nowhere
    assert "X-API-Key" not in json.dumps(meta) and send.key not in json.dumps(meta)


def test_an_invalid_single_event_is_400_naming_the_field_and_kept_raw(send, store):
    raw = b'{"action": "PutObject", "timestamp": "2024-03-01T12:00:00Z", "provider": "aws", "bucket": "b",  "bytes": 5}'
    status, headers, body = send("usage_s3", raw=raw)
    assert status == 400
    assert body["errors"] == [{"path": "objectKey", "message": "Field required"}]
    assert "objectKey: Field required" in body["message"]
    assert items(store, send.tenant) == []
    [events_key, meta_key] = reject_objects(store, send.tenant, "usage_s3", headers["X-Request-Id"])
    [entry] = json.loads(read_object(store, meta_key))["events"]
    assert read_object(store, events_key)[entry["start"]:entry["end"]] == raw  # the whole body, byte for byte


# --- bad request bodies: clear 400s, the body kept raw ---------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "raw", "message"),
    [
        ("usage_s3_batch", b'{"action": "ListBuckets"}', "must be a JSON array of S3 usage events; got an object"),
        ("usage_s3_batch", b"[]", "carries no events"),
        ("usage_s3_batch", b"[1,]", "Malformed JSON at line 1, column 3: trailing comma"),
        ("usage_s3", b"[]", "must be one JSON object (an S3 usage event); send arrays of events to /s3/batch"),
        ("usage_s3", b"", "The request body is empty."),
        ("usage_ec2_batch", b'"InstanceStarted"', "must be a JSON array of EC2 usage events; got a string"),
    ],
)
def test_unusable_bodies_are_400_in_the_dialect_and_kept_raw(send, store, endpoint, raw, message):
    status, headers, body = send(endpoint, raw=raw)
    assert status == 400 and message in body["message"]
    kept = reject_objects(store, send.tenant, endpoint, headers["X-Request-Id"])
    assert [key.rsplit(".", 1)[1] for key in kept] == ["body", "json"]
    assert read_object(store, kept[0]) == raw


def test_an_oversize_batch_is_400_with_the_limit(send, store):
    status, _, body = send("usage_s3_batch", [get_object("b")] * 1_001)
    assert status == 400
    assert body["message"] == "The request body carries 1001 events; the limit is 1000 events per request."


def test_the_configured_limit_governs_the_batch_route_and_the_recommended_size(new_key, http_event, aws_endpoint):
    key, _ = new_key()
    settings = Settings(limits={"usage_s3_batch": {"max_events": 2}})
    headers = {"X-API-Key": key}
    size_route = Pipeline(catalog.get("usage_s3_batch_size"), settings)
    size = size_route.handle(http_event("usage_s3_batch_size", b"", headers))
    assert (size["statusCode"], size["body"]) == (200, "2")
    assert size["headers"]["Content-Type"].startswith("text/plain")
    batch = Pipeline(catalog.get("usage_s3_batch"), settings)
    over = batch.handle(http_event("usage_s3_batch", json.dumps([get_object("b")] * 3).encode(), headers))
    assert over["statusCode"] == 400 and "the limit is 2 events" in over["body"]
    within = batch.handle(http_event("usage_s3_batch", json.dumps([get_object("b")] * 2).encode(), headers))
    assert within["statusCode"] == 200


# --- auth, ping, batch size ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-API-Key", "x-api-key", "X-API-KEY", "x-Api-kEy"])
def test_the_key_header_is_matched_in_any_case(invoke, http_event, new_key, header):
    key, _ = new_key()
    status, _, body = invoke("usage_ping", http_event("usage_ping", b"", {header: key}))
    assert (status, body) == (200, {"message": "pong"})
    body = json.dumps(get_object(unique_bucket())).encode()
    status, _, _ = invoke("usage_s3", http_event("usage_s3", body, {header: key}))
    assert status == 200


def test_ping_and_ingest_without_a_valid_key_are_401(invoke, http_event):
    for endpoint in ("usage_ping", "usage_s3", "usage_s3_batch", "usage_s3_batch_size", "usage_ec2"):
        for headers in ({}, {"X-API-Key": "NOTAKEY1." + "A" * 48}, {"X-API-Key": "short"},
                        {"Authorization": "Bearer " + "A" * 8 + "." + "B" * 48}):
            status, _, body = invoke(endpoint, http_event(endpoint, b"{}", headers))
            assert status == 401 and body["message"] in ("Missing API key.", "Invalid API key."), (endpoint, headers)


def test_recommended_batch_size_is_a_plain_text_integer(invoke):
    status, headers, body = invoke("usage_s3_batch_size", load_event("usage_s3_batch_size", "valid"))
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body == 1000  # the fixture parses the body as JSON: a bare integer


# --- EC2 ------------------------------------------------------------------------------------------------


def test_ec2_lifecycle_is_stored_in_its_own_stream(send, store):
    instance = f"i-{uuid.uuid4().hex[:17]}"
    common = {"timestamp": TIME, "provider": "aws", "instanceId": instance, "region": "us-east-1"}
    batch = [
        {**common, "action": "InstanceStarted", "instanceType": "m7g.large", "vcpus": 2, "memoryMib": 8192},
        {**common, "action": "InstanceUsage", "instanceType": "m7g.large", "vcpus": 2, "memoryMib": 8192,
         "durationSeconds": 3600, "timestamp": "2024-03-01T12:00:00+01:00"},
        {**common, "action": "InstanceStopped", "terminated": True},
        {**common, "action": "InstanceUsage", "instanceType": "m7g.large", "vcpus": 2},
    ]
    status, _, body = send("usage_ec2_batch", batch)
    assert status == 200 and [event["status"] for event in body["events"]] == ["stored"] * 3 + ["rejected"]
    assert {error["path"] for error in body["events"][3]["errors"]} == {"[3].memoryMib", "[3].durationSeconds"}
    stored = {payload["action"]: payload for payload in payloads(store, send.tenant, "ec2")}
    assert set(stored) == {"InstanceStarted", "InstanceUsage", "InstanceStopped"}
    assert stored["InstanceUsage"]["timestamp"] == "2024-03-01T11:00:00Z"
    assert stored["InstanceUsage"]["durationSeconds"] == 3600.0
    assert payloads(store, send.tenant, "s3") == []
    status, _, body = send("usage_ec2", batch[0])  # an SDK retry through the single route
    assert status == 200 and "duplicate" in body["message"]
    assert len(payloads(store, send.tenant, "ec2")) == 3
