"""Ops queries over real HTTP against `make serve`'s server: queryEvents paged with its cursors,
getEventById on every entry, bad parameters; checked against the emulator's table read directly."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
import requests

from ingest.settings import Settings
from tests.conftest import partition_items

pytestmark = pytest.mark.e2e
TABLE = Settings().events_table


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Api-Token {key}"}


def test_paging_over_http_returns_exactly_what_is_stored_and_every_id_reads_back(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    entity = f"HOST-{uuid.uuid4().hex[:16].upper()}"  # the tenant is shared by the e2e tests: one entity is ours
    now = int(time.time() * 1000)
    session = requests.Session()
    for index in range(160):
        event = {"eventType": "CUSTOM_INFO", "start": now - 1000 * (index // 2), "source": "e2e",
                 "description": f"event {index}", "attachRules": {"entityIds": [entity]}}
        response = session.post(f"{base}/api/v1/events", json=event, headers=headers(live_key), timeout=30)
        assert response.status_code == 200, response.text
    stored = {item["request_id"]["S"]: item for item in partition_items(dynamodb, "local#ops#CUSTOM_INFO", TABLE)
              if entity in (orjson.loads(item["payload"]["B"]).get("attachRules") or {}).get("entityIds", [])}
    assert len(stored) == 160

    response = session.get(f"{base}/api/v1/events", params={"relativeTime": "hour", "entityId": entity},
                           headers=headers(live_key), timeout=30)
    assert response.status_code == 200 and response.headers["X-Request-Id"], response.text
    pages = [response.json()]
    while "nextCursor" in pages[-1]:
        response = session.get(f"{base}/api/v1/events", params={"cursor": pages[-1]["nextCursor"]},
                               headers=headers(live_key), timeout=30)
        assert response.status_code == 200, response.text
        pages.append(response.json())
    assert [len(page["events"]) for page in pages] == [150, 10]
    assert {page["totalEventCount"] for page in pages} == {160}
    events = [event for page in pages for event in page["events"]]
    assert sorted(event["requestId"] for event in events) == sorted(stored)
    for event in events[::15]:
        item = stored[event["requestId"]]
        assert event["event"] == orjson.loads(item["payload"]["B"]) and event["entityId"] == entity
        read = session.get(f"{base}/api/v1/events/{event['id']}", headers=headers(live_key), timeout=30)
        assert read.status_code == 200 and read.json() == event


@pytest.mark.parametrize(("query", "named"), [
    ("from=2&to=1", "from"),
    ("relativeTime=fortnight", "relativeTime"),
    ("cursor=AgEBAAFn5IIFrgEAAAFofwDTrgAAAQAcMTY4N2RhYzViZTAtZmUxODEwOWQ5YTA1MTIyNQ%3D%3D", "cursor"),
    ("eventType=custom_info", "eventType"),
])
def test_bad_parameters_over_http_are_400s_in_the_ops_dialect(live_server, live_key, query, named):
    base, _ = live_server
    response = requests.get(f"{base}/api/v1/events?{query}", headers=headers(live_key), timeout=30)
    assert response.status_code == 400 and response.headers["X-Request-Id"]
    error = response.json()["error"]
    assert error["code"] == 400 and [v["path"] for v in error["constraintViolations"]] == [named]
    assert error["constraintViolations"][0]["parameterLocation"] == "QUERY"


def test_a_query_without_a_token_is_401(live_server):
    base, _ = live_server
    response = requests.get(f"{base}/api/v1/events", timeout=30)
    assert response.status_code == 401 and response.json()["error"]["code"] == 401
