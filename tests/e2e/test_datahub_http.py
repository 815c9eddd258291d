"""DataHub over real HTTP against `make serve`'s server, read back through the emulator endpoint."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest
import requests

from ingest.settings import Settings
from local.emulator import SAMPLE_KEY  # noqa: F401  (documents which key the samples carry)
from tests.conftest import EVENTS, partition_items, payload, reject_keys

pytestmark = pytest.mark.e2e
SAMPLE = json.loads(json.loads((EVENTS / "datahub_events" / "valid_guide_sample.json").read_text())["body"])
TABLE = Settings().events_table
BUCKET = Settings().rejects_bucket


def post(base, key, body, **headers):
    return requests.post(
        f"{base}/datahub/v1/events",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
        timeout=30,
    )


def test_guide_sample_twice_is_one_item_readable_from_the_emulator(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    for _ in range(2):
        response = post(base, live_key, json.dumps(SAMPLE))
        assert response.status_code == 201 and response.json() == {"message": "Ingestion success"}
        assert response.headers["X-Request-Id"]
    found = partition_items(dynamodb, "local#datahub#Datadog", TABLE)
    assert len(found) == 1
    assert payload(found[0])["id"] == SAMPLE["events"][0]["id"]


def test_gzip_body_over_http(live_server, live_key):
    base, _ = live_server
    response = post(base, live_key, gzip.compress(json.dumps(SAMPLE).encode()), **{"Content-Encoding": "gzip"})
    assert response.status_code == 201


def test_bad_batch_stores_nothing_and_its_raw_body_is_in_s3(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, s3 = aws_clients
    provider = f"e2e-{uuid.uuid4().hex[:8]}"
    raw = json.dumps(
        {"events": [{"provider": provider, "time": "2024-01-01T00:00:00Z"}, {"provider": provider, "time": "yesterday"}]}
    ).encode()
    response = post(base, live_key, raw)
    assert response.status_code == 400 and "events[1].time" in response.json()["error"]
    request_id = response.headers["X-Request-Id"]
    assert not partition_items(dynamodb, f"local#datahub#{provider}", TABLE)
    keys = reject_keys(s3, BUCKET, "rejects/tenant=local/", request_id)
    [body_key] = [k for k in keys if k.endswith(".body")]
    assert s3.get_object(Bucket=BUCKET, Key=body_key)["Body"].read() == raw


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), ({"authorization": "Bearer " + "A" * 8 + "." + "B" * 48}, 401)],
)
def test_missing_or_wrong_keys_are_401_in_the_dialect(live_server, headers, status):
    base, _ = live_server
    response = requests.post(f"{base}/datahub/v1/events", data=json.dumps(SAMPLE), headers=headers, timeout=30)
    assert response.status_code == status and set(response.json()) == {"error"}


def test_body_over_the_cap_is_413(live_server, live_key):
    base, _ = live_server
    response = post(base, live_key, b" " * (2 * 1024 * 1024 + 1))
    assert response.status_code == 413 and "limit" in response.json()["error"]


def test_unknown_route_answers_like_the_deployed_gateway(live_server):
    base, _ = live_server
    response = requests.get(f"{base}/nope", timeout=30)  # no family's path: the service API's 404
    assert response.status_code == 404 and response.json() == {"message": "No route matches this method and path."}
    response = requests.get(f"{base}/datahub/v1/nope", timeout=30)  # the DataHub API's 404, in its dialect
    assert response.status_code == 404 and response.json() == {"error": "No route matches this method and path."}
    assert response.headers["X-Request-Id"]
