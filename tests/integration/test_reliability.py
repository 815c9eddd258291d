"""Issue 11's storage guarantees, against a real moto server, each read back from DynamoDB directly.

Derived ids (a resend of the same bytes is recognised), newer-wins on received time (a replayed or
delayed DataHub event never replaces a newer one), expiry counted from the moment of storing (a
replay of an old reject is kept for the full retention), monotonic problem windows, and an event
over DynamoDB's item limit answered as the client's 400. The fault-injection suite (tests/faults)
covers the same guarantees under throttling, failures, delays, resets and races.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from ingest import catalog
from ingest.pipeline import Pipeline
from local.context import LocalContext
from tests.conftest import partition_items, payload

DATAHUB = "datahub_events"
OPS = "ops_events"


def handle(endpoint: str, settings, store, http_event, headers: dict, body: bytes, at: datetime | None = None):
    event = http_event(endpoint, body, headers)
    pipeline = Pipeline(catalog.get(endpoint), settings, store, clock=(lambda: at) if at else None)
    response = pipeline.handle(event, LocalContext(endpoint, event["requestContext"]["requestId"]))
    return response["statusCode"], json.loads(response["body"])


def datahub_body(*events: dict) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def cost(provider: str, value: float, **fields) -> dict:
    return {"provider": provider, "time": "2024-03-10T23:00:00Z", "metrics": [{"type": "cost", "value": value}],
            **fields}


def items(store, tenant: str, family: str, stream: str) -> list[dict]:
    return partition_items(store.dynamodb, f"{tenant}#{family}#{stream}", store.settings.events_table)


def test_a_resend_of_the_same_bytes_without_ids_is_one_set_of_items(settings, store, http_event, new_key):
    # issue 11 item 1: each attempt drew fresh UUIDv4s, so a resend stored every event again
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:8]}"
    body = datahub_body(cost(provider, 1), cost(provider, 2), cost(provider, 2))
    headers = {"Authorization": f"Bearer {key}"}
    assert handle(DATAHUB, settings, store, http_event, headers, body)[0] == 201
    first = {item["sk"]["S"] for item in items(store, tenant, "datahub", provider)}
    assert handle(DATAHUB, settings, store, http_event, headers, body)[0] == 201
    stored = items(store, tenant, "datahub", provider)
    assert {item["sk"]["S"] for item in stored} == first and len(stored) == 3  # two equal events: two items
    assert {payload(item)["id"] for item in stored} == first
    # A different body is different events, even with the same content at the same index
    other = datahub_body(cost(provider, 1))
    assert handle(DATAHUB, settings, store, http_event, headers, other)[0] == 201
    assert len(items(store, tenant, "datahub", provider)) == 4


def test_the_derived_id_is_the_tenants_own(settings, store, http_event, new_key):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    body = datahub_body(cost(provider, 1))
    ids = []
    for _ in range(2):
        key, tenant = new_key()
        assert handle(DATAHUB, settings, store, http_event, {"Authorization": f"Bearer {key}"}, body)[0] == 201
        [item] = items(store, tenant, "datahub", provider)
        ids.append(item["sk"]["S"])
    assert ids[0] != ids[1]  # the same bytes from two tenants: no shared id, nothing to learn across tenants


def test_an_older_event_for_the_same_id_never_replaces_a_newer_one(settings, store, http_event, new_key):
    # issue 11 item 4: a replayed (or delayed) DataHub event overwrote a newer one for the same id
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC)
    newer = datahub_body(cost(provider, 2, id="same"))
    older = datahub_body(cost(provider, 1, id="same"))
    assert handle(DATAHUB, settings, store, http_event, headers, newer, at=now)[0] == 201
    assert handle(DATAHUB, settings, store, http_event, headers, older, at=now - timedelta(hours=1))[0] == 201
    [item] = items(store, tenant, "datahub", provider)
    assert payload(item)["metrics"][0]["value"] == 2.0
    # ...while a newer one (or the same request retried) does replace it
    newest = datahub_body(cost(provider, 3, id="same"))
    assert handle(DATAHUB, settings, store, http_event, headers, newest, at=now + timedelta(seconds=1))[0] == 201
    [item] = items(store, tenant, "datahub", provider)
    assert payload(item)["metrics"][0]["value"] == 3.0


def test_expiry_counts_from_the_moment_of_storing_not_of_receiving(settings, store, http_event, new_key):
    # issue 11 item 4: a replay (received long ago) was stored already expired
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:8]}"
    received = datetime.now(UTC) - timedelta(days=400)  # an old reject, replayed today
    before = int(time.time())
    status, _ = handle(DATAHUB, settings, store, http_event, {"Authorization": f"Bearer {key}"},
                       datahub_body(cost(provider, 1, id="old")), at=received)
    assert status == 201
    [item] = items(store, tenant, "datahub", provider)
    retention = settings.retention_seconds("datahub")
    assert before + retention <= int(item["expires_at"]["N"]) <= int(time.time()) + retention
    assert item["received_at"]["S"].startswith(received.strftime("%Y-%m-%dT%H:%M"))  # received time kept


def test_an_event_over_the_item_limit_is_the_clients_400_naming_it(settings, store, http_event, new_key):
    # issue 11 item 5: one DataHub event over DynamoDB's 400 KB item limit answered 500
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:8]}"
    huge = cost(provider, 1, id="huge",
                dimensions=[{"type": "label", "key": f"k{i}", "value": "v" * 200} for i in range(2_000)])
    status, body = handle(DATAHUB, settings, store, http_event, {"Authorization": f"Bearer {key}"},
                          datahub_body(cost(provider, 1, id="small"), huge))
    assert status == 400
    assert "events[1]" in body["error"] and "limit is" in body["error"]
    assert items(store, tenant, "datahub", provider) == []  # all-or-nothing: nothing stored


def test_a_later_event_with_a_shorter_timeout_never_shrinks_an_open_problem(settings, store, http_event, new_key):
    # issue 11 item 4: open_until was overwritten, so a delayed or replayed event could shrink or close it
    key, tenant = new_key()
    headers = {"Authorization": f"Api-Token {key}"}
    entity = f"SERVICE-{uuid.uuid4().hex[:16].upper()}"
    problem = {"eventType": "ERROR_EVENT", "attachRules": {"entityIds": [entity]}, "source": "test",
               "title": "Error rate up", "description": "5xx above 2%"}
    t0 = datetime.now(UTC).replace(microsecond=0)
    long_ = json.dumps({**problem, "timeoutMinutes": 60}).encode()
    short = json.dumps({**problem, "timeoutMinutes": 1}).encode()
    status, first = handle(OPS, settings, store, http_event, headers, long_, at=t0)
    assert status == 200
    status, second = handle(OPS, settings, store, http_event, headers, short, at=t0 + timedelta(minutes=1))
    assert status == 200 and second["storedCorrelationIds"] == first["storedCorrelationIds"]
    [window] = items(store, tenant, "ops", "problem")
    assert int(window["open_until"]["N"]) == int((t0 + timedelta(minutes=60)).timestamp() * 1000)
    # a longer one still extends it
    longer = json.dumps({**problem, "timeoutMinutes": 120}).encode()
    handle(OPS, settings, store, http_event, headers, longer, at=t0 + timedelta(minutes=2))
    [window] = items(store, tenant, "ops", "problem")
    assert int(window["open_until"]["N"]) == int((t0 + timedelta(minutes=122)).timestamp() * 1000)
