"""`python -m cli rejects ...` against moto: an operator's --tenant is a boundary, for ids and S3 keys alike."""

from __future__ import annotations

import json

import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.rejects import RejectStore
from tests.integration.keys_support import handle


def rejected(http_event, key: str) -> str:
    """A usage batch with one bad event of two; returns the answer's X-Request-Id."""
    good = {"action": "ListBuckets", "provider": "aws", "timestamp": "2024-03-01T12:00:00Z"}
    body = json.dumps([good, {**good, "provider": "nope"}]).encode()
    answer = handle(Pipeline(catalog.get("usage_s3_batch")), http_event("usage_s3_batch", body, {"X-API-Key": key}))
    return answer["headers"]["X-Request-Id"]


def test_export_and_replay_refuse_a_key_of_another_tenant(cli, store, new_key, http_event):
    # Given a reject of tenant A, named by its S3 key
    key_a, tenant_a = new_key()
    _, tenant_b = new_key()
    request_id = rejected(http_event, key_a)
    s3_key = RejectStore(store).find(request_id).key.json_key
    # When an operator of tenant B exports or replays it by key (or by request id)
    for reference in (s3_key, request_id):
        refused = cli("rejects", "export", reference, "--tenant", tenant_b, expect=1)
        assert "no reject" in refused.output and '"event"' not in refused.output
        refused = cli("rejects", "replay", reference, "--tenant", tenant_b, expect=1)
        assert "no reject" in refused.output
    # Then nothing moved, and the owner's --tenant still finds it
    assert RejectStore(store).find(request_id).key.area == "rejects/"
    exported = cli("rejects", "export", s3_key, "--tenant", tenant_a).output
    lines = [json.loads(line) for line in exported.splitlines() if line.startswith("{")]
    assert [(line["tenant"], line["index"]) for line in lines] == [(tenant_a, 1)]
    assert cli("rejects", "export", request_id, "--tenant", tenant_a).output.count('"index": 1') == 1
