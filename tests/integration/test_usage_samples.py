"""Every sample under events/usage_*/ through its real handler gets the answer its name documents.

`valid_*` 200 with nothing rejected, `partial_*` 200 from a batch route with some events rejected,
`invalid_*` 400, `unauthorized_*` 401, `too_large_*` 413 (see events/make_usage.py).
"""

from __future__ import annotations

import json

import pytest

from ingest import catalog
from tests.conftest import EVENTS

SAMPLES = sorted(
    (endpoint.name, path.stem)
    for endpoint in catalog.ENDPOINTS
    if endpoint.family == "usage" and endpoint.kind != "read"  # read-back samples: events/make_operations.py
    for path in (EVENTS / endpoint.name).glob("*.json")
)
EXPECTED_STATUS = {"valid": 200, "partial": 200, "invalid": 400, "unauthorized": 401, "too": 413}


def test_samples_cover_every_usage_route_every_action_family_and_rejection_reason():
    from events import make_usage

    names = {(endpoint, name) for endpoint, name in SAMPLES}
    assert {endpoint for endpoint, _ in SAMPLES} == {
        e.name for e in catalog.ENDPOINTS if e.family == "usage" and e.kind != "read"
    }
    assert {("usage_s3", f"valid_{family}") for family in make_usage.S3_FAMILIES} <= names
    assert {("usage_s3", f"invalid_{reason}") for reason in make_usage.S3_REJECTS} <= names
    assert {("usage_ec2", f"valid_{kind}") for kind in make_usage.EC2_EVENTS} <= names
    assert {("usage_ec2", f"invalid_{reason}") for reason in make_usage.EC2_REJECTS} <= names


def test_the_sample_files_are_what_the_generator_writes(tmp_path, monkeypatch):
    from events import make_events, make_usage

    monkeypatch.setattr(make_events, "HERE", tmp_path)
    make_usage.main()
    for endpoint, name in SAMPLES:
        written = (tmp_path / endpoint / f"{name}.json").read_text()
        assert written == (EVENTS / endpoint / f"{name}.json").read_text(), f"{endpoint}/{name}: run make_usage"


@pytest.mark.parametrize(("endpoint", "name"), SAMPLES, ids=[f"{e}/{n}" for e, n in SAMPLES])
def test_every_sample_gets_its_documented_answer(invoke, endpoint, name):
    event = json.loads((EVENTS / endpoint / f"{name}.json").read_text())
    status, headers, body = invoke(endpoint, event)
    assert status == EXPECTED_STATUS[name.split("_", 1)[0]], body
    route = catalog.get(endpoint)
    if status != 200 or route.kind != "ingest":
        return
    if route.telemetry_stream:
        assert body == {"message": "Telemetry received"}
    elif route.path.endswith("/batch"):
        rejected = [outcome for outcome in body["events"] if outcome["status"] == "rejected"]
        assert bool(rejected) == name.startswith("partial_"), body
        assert all(outcome["errors"] for outcome in rejected)
    else:
        assert body["message"].startswith("Event processed successfully")
