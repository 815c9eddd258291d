"""`python -m cli telemetry list`: an operator sees each tenant's SDK reports, and the keyless ones apart."""

from __future__ import annotations

import json
import uuid

from ingest.auth import generate_key, hash_key

USER_AGENT = "Java-http-client/17.0.2 v:0.4.0 id:cli-instance"


def test_a_tenants_reports_are_listed_by_report_and_another_tenants_are_not(cli, invoke, http_event, new_key):
    key, tenant = new_key()
    other_key, other = new_key()
    marker = uuid.uuid4().hex
    for endpoint, body in (("usage_telemetry_lifecycle", {"type": "STARTED", "marker": marker}),
                           ("usage_telemetry_metrics_incremental", {"eventsSent": 7, "marker": marker})):
        event = http_event(endpoint, json.dumps(body).encode(), {"X-API-Key": key, "User-Agent": USER_AGENT})
        assert invoke(endpoint, event)[0] == 200
    event = http_event("usage_telemetry_lifecycle", b'{"type": "OTHER"}', {"X-API-Key": other_key})
    assert invoke("usage_telemetry_lifecycle", event)[0] == 200

    lines = cli("telemetry", "list", "--tenant", tenant, "--json").output.splitlines()
    listed = [json.loads(line) for line in lines]
    assert sorted(row["report"] for row in listed) == ["lifecycle", "metricsIncremental"]
    assert {row["tenant"] for row in listed} == {tenant}
    assert all(row["event"]["marker"] == marker and row["attributes"]["user_agent"] == USER_AGENT for row in listed)

    only = cli("telemetry", "list", "--tenant", tenant, "--report", "lifecycle", "--json").output.splitlines()
    assert [json.loads(line)["report"] for line in only] == ["lifecycle"]
    table = cli("telemetry", "list", "--tenant", tenant).output
    assert "lifecycle" in table and USER_AGENT in table and marker in table
    assert "OTHER" not in table
    assert "No telemetry reports" in cli("telemetry", "list", "--tenant", f"t-{uuid.uuid4().hex[:8]}").output


def test_keyless_reports_are_listed_apart_with_the_key_only_as_its_hash(cli, invoke, http_event):
    refused = generate_key()
    event = http_event("usage_telemetry_invalid_api_key", json.dumps({"apiKey": refused}).encode(),
                       {"User-Agent": USER_AGENT})
    assert invoke("usage_telemetry_invalid_api_key", event)[0] == 200
    output = cli("telemetry", "list", "--keyless", "--limit", "100000", "--json").output
    assert hash_key(refused) in output and refused.split(".")[1] not in output
    mine = [json.loads(line) for line in output.splitlines() if hash_key(refused) in line]
    assert [row["event"]["apiKey"] for row in mine] == [{"sha256": hash_key(refused), "prefix": refused[:8]}]


def test_exactly_one_of_tenant_or_keyless(cli):
    assert "exactly one of" in cli("telemetry", "list", expect=2).output
    assert "exactly one of" in cli("telemetry", "list", "--tenant", "x", "--keyless", expect=2).output
