"""Ops queries (`GET /api/v1/events`, queryEvents) and EventRestEntry read-back, against a real moto server.

What a query answers is checked against the events table read directly (every partition of the
tenant's ops streams, consistent reads), never against another answer of the service.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from ingest import catalog, layout
from ingest.auth import MAX_RATE_LIMIT
from ingest.families.ops.model import EventType
from ingest.pipeline import Pipeline
from ingest.store import Store
from local import emulator
from local.context import LocalContext
from tests.conftest import EVENTS, load_event, partition_items, payload

POST = "ops_events"
QUERY = "query_ops_events"
READ = "read_ops_event"
T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
MINUTE = 60_000


def info(start: int, entity: str = "HOST-0000000000000001", **fields) -> dict:
    return {"eventType": "CUSTOM_INFO", "start": start, "end": start, "source": "query test",
            "description": f"info {uuid.uuid4().hex}", "attachRules": {"entityIds": [entity]}, **fields}


def problem(start: int, entity: str = "SERVICE-0000000000000001") -> dict:
    return {"eventType": "ERROR_EVENT", "start": start, "source": "query test", "title": "Errors up",
            "description": f"problem {uuid.uuid4().hex}", "attachRules": {"entityIds": [entity]}}


class Client:
    """One tenant's key, posting and querying through the real handlers' pipelines (the clock is the
    time each request is received)."""

    def __init__(self, settings, store, http_event, tenant: str | None = None) -> None:
        self.tenant = tenant or f"q-{uuid.uuid4().hex[:12]}"
        self.key = emulator.register_key(settings, None, self.tenant, rate_limit=MAX_RATE_LIMIT)
        # The emulator answers slowly on a loaded machine: a patient read timeout, the same budget.
        settings = settings.model_copy(update={"aws_read_timeout": 30.0})
        store = Store(settings)
        self.settings, self.store, self.http_event = settings, store, http_event
        self.pipelines = {name: Pipeline(catalog.get(name), settings, store, clock=lambda: T0)
                          for name in (POST, QUERY, READ)}

    def _call(self, route: str, body: bytes, path: str | None = None) -> tuple[int, dict]:
        event = self.http_event(route, body, {"Authorization": f"Api-Token {self.key}",
                                              "Content-Type": "application/json"}, path)
        response = self.pipelines[route].handle(event, LocalContext(route, event["requestContext"]["requestId"]))
        assert response["headers"]["X-Request-Id"]
        return response["statusCode"], json.loads(response["body"])

    def post(self, event: dict) -> dict:
        status, body = self._call(POST, json.dumps(event).encode())
        assert status == 200, body
        return body

    def query(self, **parameters) -> tuple[int, dict]:
        query = urlencode({name.rstrip("_"): value for name, value in parameters.items()})
        return self._call(QUERY, b"", f"/api/v1/events?{query}" if query else "/api/v1/events")

    def read(self, event_id: str) -> tuple[int, dict]:
        return self._call(READ, b"", f"/api/v1/events/{event_id}")

    def stored(self) -> list[dict]:
        """Every live ops event item of the tenant, read from the table itself."""
        now = int(T0.timestamp())
        items = []
        for event_type in EventType:
            for item in partition_items(self.store.dynamodb, f"{self.tenant}#ops#{event_type.value}",
                                        self.settings.events_table):
                if "payload" in item and int(item["expires_at"]["N"]) > now:
                    items.append(item)
        return items

    def page_through(self, between=None, **parameters) -> tuple[list[dict], list[dict]]:
        """Every page of a query: (all events in page order, every answer)."""
        status, page = self.query(**parameters)
        assert status == 200, page
        answers = [page]
        while "nextCursor" in page:
            if between:
                between(len(answers))
            status, page = self.query(cursor=page["nextCursor"])
            assert status == 200, page
            answers.append(page)
        return [event for answer in answers for event in answer["events"]], answers


@pytest.fixture
def client(settings, store, http_event):
    return Client(settings, store, http_event)


@pytest.fixture
def other(settings, store, http_event):
    return Client(settings, store, http_event)


def post_all(client: Client, events: list[dict]) -> list[dict]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(client.post, events))


def store_in_bulk(client: Client, events: list[dict]) -> None:
    """Information-only events written as the ops route writes them (its record, the layout's item),
    25 a BatchWriteItem instead of one request each: the emulator takes ~40 ms a request."""
    from ingest.auth import Principal
    from ingest.families.ops.family import FAMILY as OPS
    from ingest.request import Request

    principal = Principal(client.tenant, client.key.split(".")[0])
    items = []
    for number, event in enumerate(events):
        assert event["eventType"] in ("CUSTOM_INFO", "CUSTOM_ANNOTATION")  # no problem window to open
        request = Request.from_apigw(client.http_event(POST, json.dumps(event).encode(), {}), f"bulk-{number}", now=T0)
        record = OPS.record(OPS.adapter.validate_python(event), request, principal, "")
        writer = layout.EventItems(tenant=client.tenant, family="ops", endpoint=POST, request_id=request.request_id,
                                   received_at=T0, expires_at=int(T0.timestamp()) + 30 * 86_400)
        items.append(writer.item(layout.Partitions(client.tenant, "ops").key(record.stream, record.dedup_key), record))
    for start in range(0, len(items), 25):
        client.store.dynamodb.batch_write_item(RequestItems={client.settings.events_table: [
            {"PutRequest": {"Item": item}} for item in items[start:start + 25]]})


def test_paging_through_1000_events_loses_and_repeats_none_while_more_arrive(client):
    # 1,000 events over the last 29 days, many sharing a start (a page boundary falls inside ties),
    # plus problem-opening events, which open problems keyed by correlation id.
    starts = [T0_MS - (index // 3) * 40 * MINUTE for index in range(980)]
    store_in_bulk(client, [info(start) for start in starts])
    post_all(client, [problem(T0_MS - index * MINUTE) for index in range(20)])
    before = {item["request_id"]["S"]: item for item in client.stored()}
    assert len(before) == 1000
    oldest = min(starts)
    arrived: list[dict] = []

    def more_arrive(page_number: int) -> None:
        # While paging: one event behind the cursor (older than every page so far) and one ahead.
        arrived.append(client.post(info(oldest + 1)))
        arrived.append(client.post(info(T0_MS)))

    seen, answers = client.page_through(between=more_arrive)
    assert len(answers) >= 7 and all(len(answer["events"]) <= 150 for answer in answers)
    ids = [event["requestId"] for event in seen]
    assert len(ids) == len(set(ids)), "an event was repeated"
    assert set(before) <= set(ids), "an event stored before the query was lost"
    after = {item["request_id"]["S"]: item for item in client.stored()}
    assert set(ids) <= set(after)  # nothing made up
    assert set(ids) - set(before) <= set(after) - set(before)  # only new arrivals besides
    # The order is the documented one: oldest start first, and each entry is the stored event.
    assert [event["startTime"] for event in seen] == sorted(event["startTime"] for event in seen)
    for event in seen:
        item = after[event["requestId"]]
        assert event["event"] == payload(item) and event["startTime"] == int(item["event_time"]["N"])
        assert event["eventType"] == item["stream"]["S"]
    # The first page counted what was stored then, each later page what was stored when it was read.
    assert answers[0]["totalEventCount"] == 1000
    assert answers[-1]["totalEventCount"] == len(after)
    assert {answer["from"] for answer in answers} == {T0_MS - 30 * 24 * 60 * MINUTE}
    assert {answer["to"] for answer in answers} == {T0_MS}


def test_filters_by_event_type_and_entity_and_counts_exactly(client):
    store_in_bulk(client, [info(T0_MS - index * MINUTE, entity="HOST-A") for index in range(170)]
                  + [info(T0_MS - index * MINUTE, entity="HOST-B") for index in range(5)])
    post_all(client, [problem(T0_MS - index * MINUTE, entity="HOST-A") for index in range(3)])
    seen, answers = client.page_through(entityId="HOST-A")
    assert answers[0]["totalEventCount"] == 173 and len(seen) == 173 and len(answers) == 2
    assert {event["entityId"] for event in seen} == {"HOST-A"}
    assert all("HOST-A" in event["event"]["attachRules"]["entityIds"] for event in seen)
    seen, answers = client.page_through(eventType="ERROR_EVENT")
    assert [event["eventType"] for event in seen] == ["ERROR_EVENT"] * 3 and answers[0]["totalEventCount"] == 3
    assert all(event["severityLevel"] == "ERROR" and event["correlationId"] for event in seen)
    seen, answers = client.page_through(eventType="ERROR_EVENT", entityId="HOST-B")
    assert seen == [] and answers[0]["totalEventCount"] == 0 and "nextCursor" not in answers[0]
    # A type the spec names that nobody can push: valid, and nothing.
    status, answer = client.query(eventType="SLOW_DISK")
    assert status == 200 and answer["events"] == [] and answer["totalEventCount"] == 0


def test_the_window_is_from_to_or_relative_time_and_starts_count(client):
    post_all(client, [info(T0_MS - 3 * MINUTE), info(T0_MS - 20 * MINUTE), info(T0_MS - 2 * 24 * 60 * MINUTE)])
    assert client.query(relativeTime="5mins")[1]["totalEventCount"] == 1
    assert client.query(relativeTime="30mins")[1]["totalEventCount"] == 2
    assert client.query(relativeTime="3days")[1]["totalEventCount"] == 3
    status, answer = client.query(from_=T0_MS - 20 * MINUTE, to=T0_MS - 3 * MINUTE)  # both bounds inclusive
    assert status == 200 and answer["totalEventCount"] == 2
    assert (answer["from"], answer["to"]) == (T0_MS - 20 * MINUTE, T0_MS - 3 * MINUTE)
    assert client.query(relativeTime="5mins", cursor="")[1]["totalEventCount"] == 1  # empty cursor: first page


def test_expired_events_are_never_returned_or_counted(client):
    post_all(client, [info(T0_MS - index * MINUTE) for index in range(3)])
    [item, *_] = client.stored()
    # DynamoDB deletes expired items up to ~48 h late (moto never): past its expiry it is gone to us.
    client.store.dynamodb.update_item(TableName=client.settings.events_table,
                                      Key={"pk": item["pk"], "sk": item["sk"]},
                                      UpdateExpression="SET expires_at = :past",
                                      ExpressionAttributeValues={":past": {"N": str(int(T0.timestamp()) - 1)}})
    status, answer = client.query()
    assert status == 200 and answer["totalEventCount"] == 2
    assert item["request_id"]["S"] not in {event["requestId"] for event in answer["events"]}


def test_a_tenant_sees_only_its_own_events(client, other):
    post_all(client, [info(T0_MS - MINUTE)])
    post_all(other, [info(T0_MS - MINUTE), info(T0_MS - 2 * MINUTE)])
    assert client.query()[1]["totalEventCount"] == 1
    assert other.query()[1]["totalEventCount"] == 2


@pytest.mark.parametrize(("parameters", "named", "words"), [
    ({"from_": T0_MS, "to": T0_MS - 1}, "from", "is after to"),
    ({"to": T0_MS - 31 * 24 * 60 * MINUTE}, "from", "not set: 30 days before now"),
    ({"from_": 0, "to": T0_MS}, "to", "exceeds 2 years"),
    ({"relativeTime": "fortnight"}, "relativeTime", "unknown relativeTime 'fortnight'"),
    ({"relativeTime": "hour", "from_": T0_MS - 1}, "relativeTime", "without from and to"),
    ({"from_": "yesterday"}, "from", "must be an integer"),
    ({"to": "1.5e12"}, "to", "must be an integer"),
    ({"from_": -(2**63) - 1, "to": -(2**63) - 1}, "from", "must be an int64"),
    ({"to": 2**63}, "to", "must be an int64"),
    ({"eventType": "NOT_A_TYPE"}, "eventType", "unknown eventType"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor", "not one this service issued"),
    ({"cursor": "%%%"}, "cursor", "not one this service issued"),
    ({"cursor": "A" * 3000}, "cursor", "at most 2048"),
])
def test_a_bad_parameter_is_a_clean_400_naming_it(client, parameters, named, words):
    status, answer = client.query(**parameters)
    assert status == 400, answer
    violations = answer["error"]["constraintViolations"]
    assert answer["error"]["code"] == 400 and any(v["path"] == named for v in violations), answer
    assert words in answer["error"]["message"]
    assert all(v["parameterLocation"] == "QUERY" for v in violations)


def test_a_forged_changed_or_foreign_cursor_is_a_400(client, other):
    store_in_bulk(client, [info(T0_MS - index * MINUTE) for index in range(151)])
    store_in_bulk(other, [info(T0_MS - index * MINUTE) for index in range(151)])
    cursor = client.query()[1]["nextCursor"]
    foreign = other.query()[1]["nextCursor"]
    assert client.query(cursor=cursor)[0] == 200
    for position in range(0, len(cursor), max(1, len(cursor) // 25)):
        changed = cursor[:position] + ("B" if cursor[position] != "B" else "C") + cursor[position + 1:]
        status, answer = client.query(cursor=changed)
        assert status == 400 and answer["error"]["constraintViolations"][0]["path"] == "cursor", changed
    status, answer = client.query(cursor=foreign)  # another tenant's, valid for that tenant only
    assert status == 400 and "not one this service issued for this API token" in answer["error"]["message"]
    assert other.query(cursor=foreign)[0] == 200
    # Parameters beside a cursor must be the cursor's own.
    status, answer = client.query(cursor=cursor, eventType="CUSTOM_INFO")
    assert status == 400 and answer["error"]["constraintViolations"][0]["path"] == "eventType"
    first = client.query(eventType="CUSTOM_INFO")[1]["nextCursor"]
    assert client.query(cursor=first, eventType="CUSTOM_INFO")[0] == 200


def test_every_entry_is_an_event_rest_entry_readable_by_its_id(client, other):
    annotation = {"eventType": "CUSTOM_ANNOTATION", "start": T0_MS - 2 * MINUTE, "source": "OpsControl",
                  "annotationType": "defect", "annotationDescription": "coffee machine is defective",
                  "attachRules": {"tagRule": [{"meTypes": ["CUSTOM_DEVICE"],
                                               "tags": [{"context": "CONTEXTLESS", "key": "IG-test"}]}]}}
    answers = post_all(client, [info(T0_MS - MINUTE, end=T0_MS + 10 * MINUTE), annotation, problem(T0_MS - MINUTE)])
    [stored_id] = answers[0]["storedIds"]
    [correlation_id] = answers[2]["storedCorrelationIds"]
    status, page = client.query()
    assert status == 200 and page["totalEventCount"] == 3
    by_type = {event["eventType"]: event for event in page["events"]}
    entry = by_type["CUSTOM_INFO"]
    assert entry["id"] == stored_id and entry["entityId"] == "HOST-0000000000000001"
    assert (entry["startTime"], entry["endTime"], entry["eventStatus"]) == (T0_MS - MINUTE, T0_MS + 10 * MINUTE, "OPEN")
    assert "severityLevel" not in entry
    annotated = by_type["CUSTOM_ANNOTATION"]
    assert "entityId" not in annotated and annotated["annotationType"] == "defect"
    assert annotated["eventStatus"] == "CLOSED" and annotated["endTime"] == T0_MS  # end unset: when received
    opened = by_type["ERROR_EVENT"]
    assert opened["correlationId"] == correlation_id and opened["severityLevel"] == "ERROR"
    assert opened["eventStatus"] == "OPEN" and opened["endTime"] == T0_MS + 15 * MINUTE
    assert opened["title"] == "Errors up" and opened["id"].endswith(f"_{T0_MS - MINUTE}")
    # Every entry's id reads the same entry back; a correlation id reads the problem's latest event.
    for event in page["events"]:
        assert client.read(event["id"]) == (200, event)
    assert client.read(correlation_id) == (200, opened)
    # Another tenant's key reads none of them; a right id at a wrong start reads nothing.
    for event in page["events"]:
        assert other.read(event["id"])[0] == 404
    assert other.read(correlation_id)[0] == 404
    assert client.read(f"{opened['id'].split('_')[0]}_{T0_MS}")[0] == 404


@pytest.mark.parametrize("sample", sorted(path.stem for path in (EVENTS / QUERY).glob("*.json")))
def test_every_query_sample_gets_its_documented_answer(invoke, sample):
    status, headers, body = invoke(QUERY, load_event(QUERY, sample))
    expected = 200 if sample.startswith("valid_") else 401 if sample == "missing_token" else 400
    assert status == expected, body
    assert headers["X-Request-Id"]
    if status == 200:
        assert {"events", "totalEventCount", "from", "to"} <= set(body) <= {"events", "totalEventCount", "from",
                                                                          "to", "nextCursor"}
        assert body["from"] <= body["to"] and body["totalEventCount"] >= len(body["events"])
    else:
        assert list(body) == ["error"] and body["error"]["code"] == status
    if status == 400:
        assert {v["parameterLocation"] for v in body["error"]["constraintViolations"]} == {"QUERY"}


def test_a_page_of_big_events_ends_before_the_answer_outgrows_lambda(client):
    # 10 events of ~240 KB stored: 150 of them would be a 36 MB answer; a page stops past 2 MiB.
    store_in_bulk(client, [info(T0_MS - index * MINUTE, description="x" * 240_000) for index in range(10)])
    seen, answers = client.page_through()
    assert [len(answer["events"]) for answer in answers] == [8, 2]  # 8 x 240 KB < 2 MiB < 9 x 240 KB
    assert len({event["requestId"] for event in seen}) == 10 and answers[0]["totalEventCount"] == 10


def test_a_sharded_stream_is_queried_over_every_shard(settings, http_event):
    """A stream whose shard record says 4 is read over its 4 partitions, whatever the configuration now."""
    sharded = settings.model_copy(update={"stream_shards": {"ops": 4}, "aws_read_timeout": 30.0})
    client = Client(sharded, Store(sharded), http_event)
    client.settings, client.store = sharded, Store(sharded)
    client.pipelines = {name: Pipeline(catalog.get(name), sharded, client.store, clock=lambda: T0)
                        for name in (POST, QUERY, READ)}
    answers = post_all(client, [info(T0_MS - index * MINUTE) for index in range(12)])
    pks = {item["pk"]["S"] for event_type in ["CUSTOM_INFO"] for shard in range(4)
           for item in partition_items(client.store.dynamodb, f"{client.tenant}#ops#{event_type}#{shard}",
                                       sharded.events_table)}
    assert len(pks) > 1  # the events really are spread over shards
    # A reader configured for 1 shard still finds all 12: the stream's record says 4.
    unsharded = Client.__new__(Client)
    unsharded.__dict__.update(client.__dict__)
    plain = settings.model_copy(update={"aws_read_timeout": 30.0})
    unsharded.pipelines = {QUERY: Pipeline(catalog.get(QUERY), plain, Store(plain), clock=lambda: T0)}
    status, page = unsharded.query()
    assert status == 200 and page["totalEventCount"] == 12
    assert {event["id"] for event in page["events"]} == {answer["storedIds"][0] for answer in answers}
