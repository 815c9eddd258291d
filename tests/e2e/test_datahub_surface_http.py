"""DataHub datasets and CSV upload over real HTTP against `make serve`'s server (requests builds the
multipart form as a client would), checked against the emulator's table and bucket."""

from __future__ import annotations

import gzip
import io
import time
import uuid
import zipfile

import pytest
import requests

from ingest import layout
from ingest.settings import Settings
from tests.conftest import partition_items, reject_keys

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table
BUCKET = Settings().rejects_bucket
CSV = (
    "usage_date,id,fixed.project_id,label.team,metric.cost,metric.usage\r\n"
    "2024-03-10T23:00:00Z,r1,proj-a,alpha,10.5,3\r\n"
    "2024-03-11T23:00:00Z,,proj-b,\"beta, gamma\",0.25,1\r\n"
    "2024-03-12T23:00:00Z,,proj-c,alpha,7,\r\n"
).encode()


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def upload(base, key, provider, name, content):
    return requests.post(f"{base}/datahub/v1/csv/upload", headers=auth(key), data={"provider": provider},
                         files={"file": (name, content)}, timeout=60)


def live(dynamodb, provider: str) -> list[dict]:
    now = int(time.time())
    return [item for item in partition_items(dynamodb, f"local#datahub#{provider}", TABLE) if layout.is_live(item, now)]


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_a_csv_plain_gzipped_and_zipped_stores_the_same_events_once(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    provider = f"csv-{uuid.uuid4().hex[:8]}"
    for name, content in (("c.csv", CSV), ("c.csv.gz", gzip.compress(CSV)), ("c.zip", zipped("c.csv", CSV))):
        response = upload(base, live_key, provider, name, content)
        assert response.status_code == 201, response.text
        assert response.headers["X-Request-Id"]
        body = response.json()
        assert body["ingestedRows"] == 3 and body["batch"].startswith(f"{name}_")
    assert len(live(dynamodb, provider)) == 3
    dataset = requests.get(f"{base}/datahub/v1/datasets/{provider}", headers=auth(live_key), timeout=30).json()
    assert dataset["records"] == 3


def test_a_bad_csv_stores_nothing_and_keeps_the_upload_in_s3(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, s3 = aws_clients
    provider = f"csv-{uuid.uuid4().hex[:8]}"
    bad = b"usage_date,label.team,metric.cost\r\n2024-03-10T23:00:00Z,a,1\r\n2024-03-10T23:00:00Z,b,many\r\n"
    response = upload(base, live_key, provider, "bad.csv", bad)
    assert response.status_code == 400 and "row 3, column metric.cost" in response.json()["error"]
    assert not live(dynamodb, provider)
    keys = reject_keys(s3, BUCKET, "rejects/tenant=local/", response.headers["X-Request-Id"])
    [body_key] = [key for key in keys if key.endswith(".body")]
    assert bad in s3.get_object(Bucket=BUCKET, Key=body_key)["Body"].read()


def test_dataset_crud_and_exact_records_over_http(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    name = f"E2E Dataset {uuid.uuid4().hex[:6]}"
    url = f"{base}/datahub/v1/datasets"
    created = requests.post(url, json={"name": name, "description": "e2e"}, headers=auth(live_key), timeout=30)
    assert created.status_code == 201 and created.json()["records"] == 0
    assert requests.post(url, json={"name": name}, headers=auth(live_key), timeout=30).status_code == 409
    one = f"{url}/{requests.utils.quote(name)}"
    events = [{"provider": name, "id": f"e{i}", "time": "2024-03-10T23:00:00Z"} for i in range(5)]
    assert requests.post(f"{base}/datahub/v1/events", json={"events": events}, headers=auth(live_key),
                         timeout=30).status_code == 201
    assert requests.post(f"{base}/datahub/v1/events", json={"events": events[:2]}, headers=auth(live_key),
                         timeout=30).status_code == 201  # overwrite by id
    assert requests.get(one, headers=auth(live_key), timeout=30).json()["records"] == 5 == len(live(dynamodb, name))
    deleted = requests.delete(f"{base}/datahub/v1/events", json={"dataset": name, "eventIds": ["e0"]},
                              headers=auth(live_key), timeout=30)
    assert deleted.status_code == 200
    assert requests.get(one, headers=auth(live_key), timeout=30).json()["records"] == 4 == len(live(dynamodb, name))
    patched = requests.patch(one, json={"description": "changed"}, headers=auth(live_key), timeout=30)
    assert patched.status_code == 200 and patched.json()["description"] == "changed"
    listed = requests.get(url, headers=auth(live_key), timeout=30).json()["datasets"]
    assert [d for d in listed if d["name"] == name][0]["records"] == 4
    gone = requests.delete(one, headers=auth(live_key), timeout=30)
    assert gone.status_code == 200 and gone.json() == {"message": "Dataset deleted successfully", "deletedEvents": 4}
    assert partition_items(dynamodb, f"local#datahub#{name}", TABLE) == []
    missing = requests.get(one, headers=auth(live_key), timeout=30)
    assert missing.status_code == 404 and set(missing.json()) == {"error"}


def test_dataset_routes_need_the_key(live_server):
    base, _ = live_server
    response = requests.get(f"{base}/datahub/v1/datasets", timeout=30)
    assert response.status_code == 401 and set(response.json()) == {"error"}
