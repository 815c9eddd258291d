"""The usage SDK's telemetry over real HTTP against `python -m local.server`, read back from its emulator.

As the SDK sends them: no Content-Type, `X-API-Key` on three routes, none at all on the invalid-key
report (the refused key in clear in the body), success exactly 200.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid

import pytest
import requests
from ingest.auth import generate_key, hash_key
from ingest.settings import Settings

from tests.conftest import partition_items, payload, scan_all

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table
USER_AGENT = "Java-http-client/17.0.2 v:0.4.0 id:e2e"
KEYED = {"lifecycle": "telemetry.lifecycle", "extractionIssues": "telemetry.extractionIssues",
         "metricsIncremental": "telemetry.metricsIncremental"}


def sdk_post(url: str, body: bytes, key: str | None) -> requests.Response:
    headers = {"User-Agent": USER_AGENT, **({"X-API-Key": key} if key else {})}
    request = requests.Request("POST", url, data=body, headers=headers).prepare()
    assert "Content-Type" not in request.headers  # the SDK sets none, and neither does this call
    with requests.Session() as session:
        return session.send(request, timeout=30)


@pytest.mark.parametrize("report", sorted(KEYED))
def test_each_keyed_report_is_exactly_200_and_kept_for_the_tenant(live_server, live_key, aws_clients, report):
    base, _ = live_server
    dynamodb, _ = aws_clients
    marker = uuid.uuid4().hex
    response = sdk_post(f"{base}/telemetry/{report}", json.dumps({"marker": marker}).encode(), live_key)
    assert (response.status_code, response.json()) == (200, {"message": "Telemetry received"})
    assert response.headers["X-Request-Id"]
    stored = [payload(item) for item in partition_items(dynamodb, f"local#usage#{KEYED[report]}", TABLE)]
    assert {"marker": marker} in stored


def test_the_invalid_key_report_needs_no_key_and_keeps_only_the_hash(live_server, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    refused = generate_key()
    response = sdk_post(f"{base}/telemetry/invalidApiKey", json.dumps({"apiKey": refused}).encode(), None)
    assert (response.status_code, response.json()) == (200, {"message": "Telemetry received"})
    items = partition_items(dynamodb, "_keyless#usage#telemetry.invalidApiKey", TABLE)
    assert {"apiKey": {"sha256": hash_key(refused), "prefix": refused[:8]}} in [payload(item) for item in items]
    assert not [item for item in scan_all(dynamodb, TableName=TABLE) if refused.split(".")[1] in str(item)]


def test_a_key_without_the_optional_prefix_is_a_clean_401_on_every_kind_of_usage_route(live_server, live_key):
    base, _ = live_server
    for bare in (live_key.split(".")[1], base64.b64encode(secrets.token_bytes(36)).decode()):
        headers = {"X-API-Key": bare}
        answers = [
            requests.get(f"{base}/ping", headers=headers, timeout=30),
            requests.get(f"{base}/s3/recommendedBatchSize", headers=headers, timeout=30),
            requests.post(f"{base}/s3/batch", data=b"[]", headers=headers, timeout=30),
            sdk_post(f"{base}/telemetry/lifecycle", b"{}", bare),
        ]
        for response in answers:
            assert (response.status_code, response.json()) == (401, {"message": "Invalid API key."}), response.url
            assert bare not in response.text


def test_a_report_over_the_cap_is_413_in_the_usage_dialect(live_server, live_key):
    base, _ = live_server
    response = sdk_post(f"{base}/telemetry/lifecycle", b'{"p": "' + b"x" * 64 * 1024 + b'"}', live_key)
    assert response.status_code == 413 and set(response.json()) == {"message"}
    response = sdk_post(f"{base}/telemetry/invalidApiKey", b'{"p": "' + b"x" * 8 * 1024 + b'"}', None)
    assert response.status_code == 413 and set(response.json()) == {"message"}
