"""Ops events over real HTTP against `make serve`'s server: seed 004's example and the official `dt` client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import requests
from dynatrace import Dynatrace
from dynatrace.environment_v1.event import (
    EVENT_TYPE_AVAILABILITY_EVENT,
    EVENT_TYPE_CUSTOM_ALERT,
    EVENT_TYPE_CUSTOM_ANNOTATION,
    EVENT_TYPE_CUSTOM_DEPLOYMENT,
    EVENT_TYPE_CUSTOM_INFO,
    EVENT_TYPE_ERROR_EVENT,
    EVENT_TYPE_MARKED_FOR_TERMINATION,
    EventCreation,
    PushEventAttachRules,
    TagMatchRule,
)
from dynatrace.http_client import HttpClient

from ingest.settings import Settings
from tests.conftest import REFERENCE, partition_items, reject_keys

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table
BUCKET = Settings().rejects_bucket
SEED = next(REFERENCE.glob("004_*.txt")).read_text()


def seed_request() -> tuple[dict[str, str], bytes]:
    """The example's curl headers and body, exactly as the page prints them."""
    curl = SEED.split("Curl\n", 1)[1].split("Request URL", 1)[0]
    headers = dict(
        line.split("-H '", 1)[1].rstrip("' \\").split(": ", 1) for line in curl.splitlines() if "-H '" in line
    )
    body = SEED.split("Download\n", 1)[1].split("\n\nResponse body", 1)[0].encode()
    return headers, body


def items(dynamodb, pk: str) -> list[dict]:
    return partition_items(dynamodb, pk, TABLE)


@pytest.fixture
def dt(live_server, live_key):
    base, _ = live_server
    return Dynatrace(base, live_key)


def test_seed_example_unchanged_but_host_and_token_answers_200_with_one_stored_id(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    headers, body = seed_request()
    assert headers["Authorization"].startswith("Api-token ")  # the page's own spelling of the scheme
    headers["Authorization"] = headers["Authorization"].split(" ", 1)[0] + f" {live_key}"
    response = requests.post(f"{base}/api/v1/events", data=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert list(answer) == ["storedEventIds", "storedIds", "storedCorrelationIds"]
    [event_id] = answer["storedEventIds"]
    [stored_id] = answer["storedIds"]
    assert isinstance(event_id, int) and -(2**63) <= event_id < 2**63
    assert stored_id.startswith(f"{event_id}_") and stored_id.split("_")[1].isdigit()
    assert answer["storedCorrelationIds"] == []
    found = [item for item in items(dynamodb, "local#ops#CUSTOM_ANNOTATION") if item["event_id"]["S"] == str(event_id)]
    assert len(found) == 1
    assert orjson.loads(found[0]["payload"]["B"])["annotationDescription"] == "coffee machine is defective"


def test_dt_client_creates_information_only_events(dt, aws_clients):
    dynamodb, _ = aws_clients
    host = f"HOST-{uuid.uuid4().hex[:16].upper()}"
    start = datetime.now(UTC) - timedelta(hours=1)
    created = [
        dt.events.create_event(EVENT_TYPE_CUSTOM_INFO, host, "dt e2e", description="batch done", title="Batch"),
        dt.events.create_event(
            EVENT_TYPE_CUSTOM_ANNOTATION, host, "dt e2e", start=start, end=start + timedelta(minutes=5),
            annotation_type="defect", annotation_description="coffee machine is defective",
            custom_properties={"floor": "2"}, timeout_minutes=0,
        ),
        dt.events.create_event(EVENT_TYPE_MARKED_FOR_TERMINATION, host, "dt e2e", description="scale in"),
    ]
    for response in created:
        assert response.status_code == 200
        answer = response.json()
        assert len(answer["storedEventIds"]) == 1 and answer["storedCorrelationIds"] == []
    annotation = created[1].json()
    # dt sends start in whole seconds; the stored id carries it
    assert annotation["storedIds"][0].endswith(f"_{int(start.timestamp()) * 1000}")
    [item] = [
        item for item in items(dynamodb, "local#ops#CUSTOM_ANNOTATION")
        if item["event_id"]["S"] == str(annotation["storedEventIds"][0])
    ]
    stored = orjson.loads(item["payload"]["B"])
    assert stored["attachRules"] == {"entityIds": [host]} and stored["customProperties"] == {"floor": "2"}
    assert "title" not in stored and "allowDavisMerge" not in stored  # the client's nulls are absent


def test_dt_client_opens_and_refreshes_problems(dt, aws_clients):
    dynamodb, _ = aws_clients
    service = f"SERVICE-{uuid.uuid4().hex[:16].upper()}"
    correlation_ids = {}
    for event_type in (EVENT_TYPE_ERROR_EVENT, EVENT_TYPE_AVAILABILITY_EVENT, EVENT_TYPE_CUSTOM_ALERT):
        answers = [
            dt.events.create_event(
                event_type, service, "dt e2e", title=f"{event_type} on {service}", description="seen by e2e",
                timeout_minutes=30, allow_davis_merge=False,
            ).json()
            for _ in range(2)
        ]
        assert answers[0] == answers[1], "sent twice within the timeout: one problem, one correlation id"
        [correlation_ids[event_type]] = answers[0]["storedCorrelationIds"]
        assert answers[0]["storedEventIds"] == [] and answers[0]["storedIds"] == []
    assert len(set(correlation_ids.values())) == 3
    problems = {item["correlation_id"]["S"]: item for item in items(dynamodb, "local#ops#problem")}
    for event_type, correlation_id in correlation_ids.items():
        assert problems[correlation_id]["event_type"]["S"] == event_type
        assert problems[correlation_id]["refreshes"]["N"] == "1"


def test_dt_client_with_tag_rules(live_server, live_key):
    base, _ = live_server
    rules = PushEventAttachRules(
        entity_ids=None,
        tag_rule=[TagMatchRule(["CUSTOM_DEVICE"], [{"context": "CONTEXTLESS", "key": f"IG-{uuid.uuid4().hex[:6]}"}])],
    )
    response = EventCreation(
        HttpClient(base, live_key), EVENT_TYPE_CUSTOM_INFO, rules, "dt e2e", description="tag rule event"
    ).post()
    assert response.status_code == 200 and len(response.json()["storedIds"]) == 1


def test_dt_client_sees_a_400_naming_the_missing_field(dt):
    # dt's create_event has no deployment fields: a CUSTOM_DEPLOYMENT through it lacks the required ones
    with pytest.raises(Exception) as raised:
        dt.events.create_event(EVENT_TYPE_CUSTOM_DEPLOYMENT, "HOST-1", "dt e2e")
    text = str(raised.value)
    assert "400" in text and "deploymentName" in text and "deploymentVersion" in text and "constraintViolations" in text


def test_dt_client_with_a_wrong_token_sees_401(live_server):
    base, _ = live_server
    with pytest.raises(Exception) as raised:
        Dynatrace(base, "NOTAKEY1." + "A" * 48).events.create_event(EVENT_TYPE_CUSTOM_INFO, "HOST-1", "x", description="d")
    assert "401" in str(raised.value)


def test_a_bad_event_over_http_is_kept_raw_in_s3(live_server, live_key, aws_clients):
    base, _ = live_server
    _, s3 = aws_clients
    raw = b'{"eventType": "CUSTOM_INFO", "attachRules": {"tagRule": [{"meTypes": ["HOST"], "tags": []}]}, "source": "e2e"}'
    response = requests.post(
        f"{base}/api/v1/events", data=raw, headers={"Authorization": f"Api-Token {live_key}"}, timeout=30
    )
    assert response.status_code == 400
    paths = {violation["path"] for violation in response.json()["error"]["constraintViolations"]}
    assert paths == {"attachRules.tagRule[0].tags", "description"}
    request_id = response.headers["X-Request-Id"]
    keys = reject_keys(s3, BUCKET, "rejects/tenant=local/endpoint=ops_events/", request_id)
    [body_key] = [key for key in keys if key.endswith(".body")]
    assert s3.get_object(Bucket=BUCKET, Key=body_key)["Body"].read() == raw
