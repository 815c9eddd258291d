"""Log events over real HTTP against `make serve`'s server: seed 003's curl, the real edge logger."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import uuid
from urllib.parse import urlsplit

import orjson
import pytest
import requests

from ingest.settings import Settings
from tests.conftest import REFERENCE, ROOT, partition_items, payload, reject_keys, scan_all

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table
BUCKET = Settings().rejects_bucket
EDGE_LOGGER_CLIENT = ROOT / "tests" / "e2e" / "edge_logger_client.mjs"


def stored(dynamodb, dataset: str) -> list[dict]:
    return partition_items(dynamodb, f"local#logs#{dataset}", TABLE)


def raw_request(base: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """http.client sends the path exactly as given: no client-side normalisation of `..` or `%2F`."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def seed_curl_command() -> str:
    """Seed 003's curl example, as the page prints it."""
    [page] = REFERENCE.glob("003_*.txt")
    match = re.search(r"```bash[^\n]*\n(curl .*?)\n```", page.read_text(), re.DOTALL)
    assert match, "seed 003 no longer has its curl example"
    return match.group(1)


def test_seed_curl_example_sent_unchanged_but_host_and_key(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    command = seed_curl_command()
    assert command.count("https://events.baselime.io") == 1 and command.count("$BASELIME_API_KEY") == 1
    command = command.replace("https://events.baselime.io", base).replace("$BASELIME_API_KEY", live_key)
    result = subprocess.run(
        ["bash", "-c", command + " --silent --show-error --write-out '\\n%{http_code}'"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert (status, json.loads(body)) == ("202", {"message": "Request Accepted"})
    seed = {payload(item).get("message"): item for item in stored(dynamodb, "logs")}
    for message in ("This is an example log event", "This is another example log event"):
        item = seed[message]
        assert item["service"] == {"S": "my-service"} and payload(item)["requestId"] == "6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1"
    assert payload(seed["This is another example log event"])["data"] == {"userId": "01HBRCB38K2K4V5SDR7YC1D0ZB"}
    assert payload(seed["This is an example log event"])["error"] == "TypeError: Cannot read property something of undefined"


def test_three_good_two_bad_over_http(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, s3 = aws_clients
    dataset = f"e2e-{uuid.uuid4().hex[:8]}"
    batch = [{"n": 0}, 17, {"n": 2}, {"n": 3, "pad": "x" * 262_144}, {"n": 4}]
    response = requests.post(f"{base}/v1/{dataset}", data=orjson.dumps(batch), headers={"x-api-key": live_key}, timeout=30)
    assert response.status_code == 400
    assert response.json()["invalid"] == [
        {"index": 1, "reason": "The event must be a JSON object; it is a number."},
        {"index": 3, "reason": f"The event is {len(orjson.dumps(batch[3])):,} bytes as compact JSON; the limit is "
                               "262,144 bytes (256 KiB) per event."},
    ]
    assert sorted(payload(item)["n"] for item in stored(dynamodb, dataset)) == [0, 2, 4]
    request_id = response.headers["X-Request-Id"]
    keys = reject_keys(s3, BUCKET, "rejects/tenant=local/", request_id)
    [meta_key] = [key for key in keys if key.endswith(".json")]
    meta = json.loads(s3.get_object(Bucket=BUCKET, Key=meta_key)["Body"].read())
    events = s3.get_object(Bucket=BUCKET, Key=meta["events_key"])["Body"].read()
    assert [events[entry["start"]:entry["end"]] for entry in meta["events"]] == [orjson.dumps(batch[1]),
                                                                                 orjson.dumps(batch[3])]


@pytest.mark.parametrize(
    "path", ["/v1/..", "/v1/%2E%2E", "/v1/logs%2F..%2Fother", "/v1/%2Fetc", "/v1/l%D0%BEgs", "/v1/%EF%BD%8C%EF%BD%8F",
             "/v1/logs%00", "/v1/logs%23other", "/v1/logs%20"],
)
def test_dataset_name_attacks_over_http_are_400(live_server, live_key, aws_clients, path):
    base, _ = live_server
    dynamodb, _ = aws_clients
    status, _, body = raw_request(base, "POST", path, b'[{"message": "attack"}]', {"x-api-key": live_key})
    answer = json.loads(body)
    assert status == 400 and answer["message"] == "Bad Request" and answer["reason"].startswith("Invalid dataset")
    scanned = scan_all(dynamodb, TableName=TABLE, FilterExpression="contains(payload, :m)",
                       ExpressionAttributeValues={":m": {"B": b"attack"}})
    assert scanned == []


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(live_server, method):
    base, _ = live_server
    response = requests.request(method, f"{base}/v1/logs", timeout=30)
    assert (response.status_code, response.json(), response.headers["Allow"]) == (
        405, {"message": "Method Not Allowed"}, "POST"
    )


def test_unauthorised_and_too_large_over_http(live_server, live_key):
    base, _ = live_server
    response = requests.post(f"{base}/v1/logs", data=b'[{"m": 1}]', headers={"x-api-key": "undefined"}, timeout=30)
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorised"})
    response = requests.post(f"{base}/v1/logs", data=b" " * (4 * 1024 * 1024 + 1), headers={"x-api-key": live_key},
                             timeout=60)
    assert response.status_code == 413 and "limit is 4194304 bytes" in response.json()["reason"]


def run_edge_logger(config: dict) -> dict:
    """Run the real @baselime/edge-logger client (EDGE_LOGGER_CLIENT) with ``config``; its report."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@baselime" / "edge-logger").is_dir():
        pytest.fail("Node 20+ and `npm ci` (package.json pins @baselime/edge-logger) are needed for this test")
    result = subprocess.run([node, str(EDGE_LOGGER_CLIENT), json.dumps(config)], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_real_edge_logger_delivers_its_logs(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    dataset, request_id = f"edge-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    report = run_edge_logger({"baseUrl": base, "apiKey": live_key, "dataset": dataset, "requestId": request_id})
    # three requests: the flush at the third line, the explicit flush, the bare logger's flush
    assert report == {"statuses": [202, 202, 202], "failures": []}

    items = stored(dynamodb, dataset)
    by_step = {payload(item)["step"]: item for item in items}
    assert sorted(by_step) == [1, 2, 3, 4, 5, 6] and len(items) == 6
    assert payload(by_step[1]) == {
        "message": "first line", "level": "info", "timestamp": payload(by_step[1])["timestamp"],
        "requestId": request_id, "step": 1, "user": {"id": 42, "tags": ["a", "b"]},
    }
    assert payload(by_step[3])["level"] == "error" and payload(by_step[3])["message"].startswith("third line: Error: third line")
    assert payload(by_step[5])["message"] == "fifth line é 🚀"
    for step, item in by_step.items():
        assert int(item["event_time"]["N"]) == payload(item)["timestamp"] and item["event_time_source"] == {"S": "timestamp"}
        if step <= 5:
            assert (item["service"], item["namespace"]) == ({"S": "checkout"}, {"S": "edge-worker"})
            assert item["sk"]["S"].startswith(f"requestId:{request_id}#sha256:")
        else:  # "undefined" headers: absent, not a service called "undefined"
            assert "service" not in item and "namespace" not in item
            assert item["sk"]["S"].startswith(f"requestId:{request_id}-bare#sha256:")

