"""Fix and replay over the real stack: the local server, its emulator, and the CLI as an operator runs it.

The issue's "done when": a DataHub batch rejected for a bad dimension key is exported, fixed in the
NDJSON, replayed, and then stored exactly once even if replayed again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import requests

from ingest.settings import Settings
from tests.conftest import ROOT, partition_items, payload

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table


def cli(aws: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    """`python -m cli ...` in a subprocess, pointed at the local server's emulator."""
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args, "--endpoint-url", aws],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == expect, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def stored(dynamodb, tenant: str, provider: str) -> list[dict]:
    items = partition_items(dynamodb, f"{tenant}#datahub#{provider}", TABLE)
    return sorted((payload(item) for item in items), key=lambda event: event["id"])


def test_a_batch_rejected_for_a_bad_dimension_key_is_exported_fixed_replayed_and_stored_exactly_once(
    live_server, live_key, aws_clients, tmp_path
):
    base, aws = live_server
    dynamodb, _ = aws_clients
    provider = f"replay-{uuid.uuid4().hex[:8]}"
    batch = {"events": [
        {"provider": provider, "id": "ok-1", "time": "2024-03-10T23:00:00Z", "metrics": [{"type": "cost", "value": 2}]},
        {"provider": provider, "id": "bad-1", "time": "2024-03-10T23:00:00Z",
         "dimensions": [{"type": "fixed", "key": "colour", "value": "blue"}]},
        # no id: the live API would generate a random one; a replay pins it, so replays stay idempotent
        {"provider": provider, "time": "2024-03-11T00:00:00Z", "metrics": [{"type": "usage", "value": 1}]},
    ]}
    # Given a batch the API rejects as a whole for one bad fixed dimension key
    response = requests.post(f"{base}/datahub/v1/events", json=batch,
                             headers={"Authorization": f"Bearer {live_key}"}, timeout=30)
    assert response.status_code == 400 and "events[1].dimensions[0].key" in response.json()["error"]
    request_id = response.headers["X-Request-Id"]
    assert stored(dynamodb, "local", provider) == []

    # When the operator finds it, exports it, fixes the key in the NDJSON and replays it
    listed = json.loads(cli(aws, "rejects", "list", "--tenant", "local", "--endpoint", "datahub_events",
                            "--error-text", "not an allowed key for a fixed dimension", "--json").stdout)
    assert request_id in [row["id"] for row in listed]
    export = tmp_path / "fix.ndjson"
    cli(aws, "rejects", "export", request_id, "-o", str(export))
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [line["index"] for line in lines] == [0, 1, 2]  # all-or-nothing: every event of the batch
    assert lines[1]["errors"][0]["path"] == "events[1].dimensions[0].key"
    lines[1]["event"]["dimensions"][0]["key"] = "region"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))

    dry = cli(aws, "rejects", "replay", "--from", str(export), "--dry-run")
    assert "would store 3" in dry.stdout and stored(dynamodb, "local", provider) == []

    first = cli(aws, "rejects", "replay", "--from", str(export), "--json")
    [result] = [json.loads(line) for line in first.stdout.splitlines()]
    assert result["status"] == "stored" and result["stored"] == 3 and result["archived"].startswith("replayed/")

    # Then the batch is stored once, fixed, under the key's tenant
    events = stored(dynamodb, "local", provider)
    assert len(events) == 3
    assert {event["id"] for event in events} >= {"ok-1", "bad-1"}
    assert next(event for event in events if event["id"] == "bad-1")["dimensions"][0]["key"] == "region"

    # And replaying again is refused as already done, and forced it still stores each event once
    again = cli(aws, "rejects", "replay", "--from", str(export))
    assert "skipped" in again.stdout and "already replayed" in again.stdout
    forced = cli(aws, "rejects", "replay", "--from", str(export), "--force", "--json")
    assert json.loads(forced.stdout)["duplicate"] == 3
    assert stored(dynamodb, "local", provider) == events

    # The reject left the live list for the archive, and the events read back over HTTP
    live = json.loads(cli(aws, "rejects", "list", "--tenant", "local", "--json").stdout)
    assert request_id not in [row["id"] for row in live]
    archived = json.loads(cli(aws, "rejects", "list", "--tenant", "local", "--replayed", "--json").stdout)
    assert request_id in [row["id"] for row in archived]
    read = requests.get(f"{base}/datahub/v1/events/bad-1", params={"provider": provider},
                        headers={"Authorization": f"Bearer {live_key}"}, timeout=30)
    assert read.status_code == 200 and read.json()["event"]["dimensions"][0]["key"] == "region"
    listing = cli(aws, "events", "list", "--tenant", "local", "--family", "datahub", "--stream", provider, "--json")
    assert len(listing.stdout.splitlines()) == 3


def test_a_file_with_a_line_that_is_not_json_replays_nothing(live_server, live_key, aws_clients, tmp_path):
    base, aws = live_server
    response = requests.post(f"{base}/datahub/v1/events", data=b'{"events": [{"provider": "x", "time": 1}]}',
                             headers={"Authorization": f"Bearer {live_key}"}, timeout=30)
    request_id = response.headers["X-Request-Id"]
    export = tmp_path / "broken.ndjson"
    cli(aws, "rejects", "export", request_id, "-o", str(export))
    export.write_text(export.read_text() + "{not json\n")
    failed = cli(aws, "rejects", "replay", "--from", str(export), expect=2)
    assert "line 2: not JSON" in failed.stderr and "Nothing replayed" in failed.stderr
    shown = cli(aws, "rejects", "show", request_id)
    assert "(live)" in shown.stdout  # still a reject, untouched


def test_replaying_a_reject_whose_object_was_deleted_is_a_clear_error(live_server, live_key, aws_clients, tmp_path):
    base, aws = live_server
    _, s3 = aws_clients
    response = requests.post(f"{base}/datahub/v1/events", data=b'{"events": [{"provider": "x", "time": "soon"}]}',
                             headers={"Authorization": f"Bearer {live_key}"}, timeout=30)
    request_id = response.headers["X-Request-Id"]
    export = tmp_path / "gone.ndjson"
    cli(aws, "rejects", "export", request_id, "-o", str(export))
    key = json.loads(export.read_text().splitlines()[0])["reject"]
    bucket = Settings().rejects_bucket
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key=key.removesuffix(".json") + ".body")
    missing = cli(aws, "rejects", "replay", "--from", str(export), expect=1)
    assert "MISSING" in missing.stdout and "was its object deleted?" in missing.stdout
    named = cli(aws, "rejects", "replay", request_id, expect=1)
    assert f"no reject {request_id!r}" in named.stderr
