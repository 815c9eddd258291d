"""Usage events over real HTTP against `python -m local.server`, read back through its emulator endpoint."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest
import requests
from ingest.settings import Settings

from tests.conftest import partition_items, payload, reject_keys

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table
BUCKET = Settings().rejects_bucket
TIME = "2024-03-01T12:00:00Z"


def put_object(bucket: str, **fields) -> dict:
    return {"action": "PutObject", "timestamp": TIME, "provider": "wasabi", "bucket": bucket, "objectKey": "a.bin",
            "bytes": 2048, **fields}


def stored_for(dynamodb, bucket: str, stream: str = "s3") -> list[dict]:
    events = [payload(item) for item in partition_items(dynamodb, f"local#usage#{stream}", TABLE)]
    return [event for event in events if event.get("bucket") == bucket or event.get("instanceId") == bucket]


def test_one_event_in_odd_header_case_twice_is_one_normalized_item_without_extras(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    bucket = f"e2e-{uuid.uuid4().hex[:8]}"
    sent = put_object(bucket, timestamp="2024-03-01T12:00:00+08:00", unknown_foo="bar")
    for expected in ("Event processed successfully", "duplicate"):
        response = requests.post(f"{base}/s3", data=json.dumps(sent), headers={"x-ApI-kEy": live_key}, timeout=30)
        assert response.status_code == 200 and expected in response.json()["message"]
    [stored] = stored_for(dynamodb, bucket)
    assert stored["timestamp"] == "2024-03-01T04:00:00Z"
    assert "unknown_foo" not in stored and stored["bytes"] == 2048


def test_batch_with_3_valid_and_2_invalid_over_http(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, s3 = aws_clients
    bucket = f"e2e-{uuid.uuid4().hex[:8]}"
    batch = [put_object(bucket, bytes=1), put_object(bucket, provider="gcs"), put_object(bucket, bytes=2),
             put_object(bucket, timestamp="soon"), put_object(bucket, bytes=3)]
    response = requests.post(
        f"{base}/s3/batch", data=gzip.compress(json.dumps(batch).encode()),
        headers={"X-API-Key": live_key, "Content-Encoding": "gzip", "Content-Type": "application/json"}, timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert [event["status"] for event in body["events"]] == ["stored", "rejected", "stored", "rejected", "stored"]
    assert [event["errors"][0]["path"] for event in body["events"] if event["status"] == "rejected"] == [
        "[1].provider", "[3].timestamp"
    ]
    assert sorted(payload["bytes"] for payload in stored_for(dynamodb, bucket)) == [1, 2, 3]
    request_id = response.headers["X-Request-Id"]
    keys = reject_keys(s3, BUCKET, "rejects/tenant=local/endpoint=usage_s3_batch/", request_id)
    [key] = [key for key in keys if key.endswith(".json")]
    meta = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    events = s3.get_object(Bucket=BUCKET, Key=meta["events_key"])["Body"].read()
    # each the bytes sent for it: its slice of the body, once inflated
    assert [events[entry["start"]:entry["end"]] for entry in meta["events"]] == [
        json.dumps(batch[1]).encode(), json.dumps(batch[3]).encode()]


def test_invalid_single_event_is_400_naming_the_field(live_server, live_key):
    base, _ = live_server
    response = requests.post(f"{base}/s3", json=put_object("b", bytes=-5), headers={"X-API-Key": live_key}, timeout=30)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "bytes", "message": "Input should be greater than or equal to 0"}]


def test_ec2_usage_interval_over_http(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    instance = f"i-{uuid.uuid4().hex[:12]}"
    event = {"action": "InstanceUsage", "timestamp": "2024-03-01T12:00:00", "provider": "aws", "instanceId": instance,
             "region": "eu-central-1", "instanceType": "c7g.large", "vcpus": 2, "memoryMib": 4096,
             "durationSeconds": 300}
    response = requests.post(f"{base}/ec2", json=event, headers={"X-API-Key": live_key}, timeout=30)
    assert response.status_code == 200
    [stored] = stored_for(dynamodb, instance, "ec2")
    assert stored["timestamp"] == "2024-03-01T12:00:00Z" and stored["durationSeconds"] == 300.0


@pytest.mark.parametrize(
    ("headers", "status"), [("valid", 200), ({}, 401), ({"X-API-Key": "NOTAKEY1." + "A" * 48}, 401)]
)
def test_ping(live_server, live_key, headers, status):
    base, _ = live_server
    headers = {"X-API-KEY": live_key} if headers == "valid" else headers
    response = requests.get(f"{base}/ping", headers=headers, timeout=30)
    assert response.status_code == status
    refusals = [{"message": "Missing API key."}, {"message": "Invalid API key."}]
    expected = [{"message": "pong"}] if status == 200 else refusals
    assert response.json() in expected


def test_recommended_batch_size_is_plain_text(live_server, live_key):
    base, _ = live_server
    response = requests.get(f"{base}/s3/recommendedBatchSize", headers={"X-API-Key": live_key}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "1000" and int(response.text) == 1000
    assert requests.get(f"{base}/s3/recommendedBatchSize", timeout=30).status_code == 401
