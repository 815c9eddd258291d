"""Keys end to end: the CLI (a separate process, no PYTHONPATH, no AWS credentials) against
`make serve`'s emulator, and the server accepting, refusing and limiting over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
DATAHUB_PATH = "/datahub/v1/events"


def cli(aws: str, *args: str) -> dict:
    """`python -m cli ... --json` as a user runs it from the checkout."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYTHONPATH"))}
    env["AWS_ENDPOINT_URL"] = aws
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def body(provider: str = "e2e-keys") -> bytes:
    return json.dumps({"events": [{"provider": provider, "time": "2024-03-10T23:00:00Z"}]}).encode()


def post(base: str, key: str, **headers: str) -> requests.Response:
    return requests.post(
        base + DATAHUB_PATH, data=body(), headers={"Authorization": f"Bearer {key}", **headers}, timeout=30
    )


def tenant() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def test_a_key_the_cli_creates_is_accepted_at_once_and_refused_at_once_after_revoke(live_server):
    base, aws = live_server
    created = cli(aws, "keys", "create", "--tenant", tenant(), "--scope", "datahub")
    key = created["key"]
    accepted = post(base, key)
    assert accepted.status_code == 201, accepted.text
    assert accepted.headers["RateLimit-Limit"] == "1000"
    cli(aws, "keys", "revoke", created["prefix"])
    refused = post(base, key)
    assert refused.status_code == 401 and refused.json() == {"error": "Invalid API key."}


def test_rotation_over_http(live_server):
    base, aws = live_server
    old = cli(aws, "keys", "create", "--tenant", tenant(), "--scope", "datahub")["key"]
    new = cli(aws, "keys", "rotate", old[:8], "--overlap", "1h")["key"]
    assert post(base, old).status_code == 201 and post(base, new).status_code == 201
    newest = cli(aws, "keys", "rotate", new[:8], "--overlap", "0")["key"]
    assert post(base, new).status_code == 401 and post(base, newest).status_code == 201


def test_over_the_limit_is_429_with_retry_after(live_server):
    base, aws = live_server
    key = cli(aws, "keys", "create", "--tenant", tenant(), "--scope", "datahub", "--rate-limit", "2")["key"]
    _start_well_inside_a_minute()
    answers = [post(base, key) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert "Retry-After" not in answers[1].headers
    retry_after = int(answers[2].headers["Retry-After"])
    assert 1 <= retry_after <= 60 and answers[2].headers["RateLimit-Reset"] == str(retry_after)
    assert "Rate limit exceeded" in answers[2].json()["error"]


def test_a_dataset_scoped_key_over_http(live_server):
    base, aws = live_server
    key = cli(aws, "keys", "create", "--tenant", tenant(), "--scope", "logs:app-*")["key"]
    events = json.dumps([{"message": "hello"}])
    allowed = requests.post(f"{base}/v1/app-web", data=events, headers={"x-api-key": key}, timeout=30)
    refused = requests.post(f"{base}/v1/billing", data=events, headers={"x-api-key": key}, timeout=30)
    other_family = post(base, key)
    assert allowed.status_code == 202, allowed.text
    assert refused.status_code == 403 and "billing" in refused.text
    assert other_family.status_code == 403 and "datahub" in other_family.text


def raw_post(base: str, headers: list[tuple[str, str]]) -> tuple[int, str]:
    """http.client, so headers go on the wire exactly as given (repeats and trailing spaces too)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    payload = body()
    connection.putrequest("POST", DATAHUB_PATH)
    for name, value in headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(payload)))
    connection.endheaders(payload)
    response = connection.getresponse()
    answer = response.status, response.read().decode()
    connection.close()
    return answer


def test_bad_credentials_over_http_are_each_a_clean_401(live_server):
    base, aws = live_server
    key = cli(aws, "keys", "create", "--tenant", tenant(), "--scope", "datahub")["key"]
    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    cases = {
        "wrong shape": [("Authorization", f"Bearer {key[:30]}")],
        "non-base64 payload": [("Authorization", f"Bearer {key[:9]}{'!' * 48}")],
        "prefix exists, wrong secret": [("Authorization", f"Bearer {wrong_secret}")],
        "empty header": [("Authorization", "")],
        "two auth headers": [("Authorization", f"Bearer {key}"), ("Authorization", f"Bearer {key}")],
        "trailing spaces": [("Authorization", f"Bearer {key}   ")],
        "another family's header": [("X-API-Key", key)],
        "another family's scheme": [("Authorization", f"Api-Token {key}")],
    }
    for case, headers in cases.items():
        status, text = raw_post(base, headers)
        assert status == 401, (case, status, text)
        assert set(json.loads(text)) == {"error"} and key not in text and key[9:] not in text, case
    assert raw_post(base, [("authorization", f"bearer {key}")])[0] == 201  # names and scheme: any case


def _start_well_inside_a_minute(margin_seconds: float = 5.0) -> None:
    """Not an assertion on time: keeps a three-request sequence from straddling two windows."""
    into_minute = time.time() % 60
    if into_minute > 60 - margin_seconds:
        time.sleep(60 - into_minute + 0.2)
