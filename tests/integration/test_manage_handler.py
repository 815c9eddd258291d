"""Delete and read-back through the real handlers against moto: tenant-scoped, in each family's dialect."""

from __future__ import annotations

import json
import uuid

import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from tests.conftest import load_event, partition_items
from tests.integration.keys_support import credential, handle

BEARER_JSON = {"Content-Type": "application/json"}


def datahub(key: str) -> dict:
    return {**credential(catalog.get("datahub_events"), key), **BEARER_JSON}


@pytest.fixture
def ingest(invoke, http_event):
    def send(key: str, events: list[dict]) -> None:
        body = json.dumps({"events": events}).encode()
        status, _, answer = invoke("datahub_events", http_event("datahub_events", body, datahub(key)))
        assert status == 201, answer

    return send


@pytest.fixture
def delete(invoke, http_event):
    def call(key: str, document, route: str = "delete_datahub_events"):
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        return invoke(route, http_event(route, body, datahub(key)))

    return call


@pytest.fixture
def read(invoke, http_event):
    def call(route: str, path: str, headers: dict):
        return invoke(route, http_event(route, b"", headers, path=path))

    return call


def ids_stored(store, tenant: str, provider: str) -> set[str]:
    items = partition_items(store.dynamodb, f"{tenant}#datahub#{provider}", store.settings.events_table)
    return {item["sk"]["S"] for item in items}


def event(provider: str, event_id: str, time: str = "2024-03-10T23:00:00Z") -> dict:
    return {"provider": provider, "id": event_id, "time": time}


# --- delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["delete_datahub_events", "delete_datahub_events_by_filter"])
def test_delete_by_ids_removes_exactly_those_events_of_that_tenant(new_key, ingest, delete, store, route):
    # Given two tenants holding the same ids in the same provider
    (mine, me), (theirs, them) = new_key(), new_key()
    for key in (mine, theirs):
        ingest(key, [event("Datadog", f"e{n}") for n in range(4)])
    # When one deletes two of them
    status, _, body = delete(mine, {"dataset": "Datadog", "eventIds": ["e1", "e3"]}, route)
    # Then exactly those are gone, at once, for that tenant only
    assert status == 200 and body == {"message": "Delete success", "deleted": 2}
    assert ids_stored(store, me, "Datadog") == {"e0", "e2"}
    assert ids_stored(store, them, "Datadog") == {"e0", "e1", "e2", "e3"}


def test_another_tenants_ids_are_a_clear_404_and_stay_stored(new_key, ingest, delete, store):
    (mine, _), (theirs, them) = new_key(), new_key()
    ingest(theirs, [event("Billing", "theirs-1")])
    status, _, body = delete(mine, {"dataset": "Billing", "eventIds": ["theirs-1"]})
    assert status == 404 and "nothing was deleted" in body["error"] and "theirs-1" in body["error"]
    assert ids_stored(store, them, "Billing") == {"theirs-1"}


def test_ids_partly_stored_delete_the_stored_ones_and_name_the_rest(new_key, ingest, delete, store):
    key, tenant = new_key()
    ingest(key, [event("P", "a"), event("P", "b")])
    status, _, body = delete(key, {"dataset": "P", "eventIds": ["a", "nope"]})
    assert status == 200 and body == {"message": "Delete success", "deleted": 1, "notFound": ["nope"]}
    assert ids_stored(store, tenant, "P") == {"b"}


def test_delete_by_time_range_is_inclusive_and_stays_in_the_dataset(new_key, ingest, delete, store):
    key, tenant = new_key()
    ingest(key, [event("P", "before", "2024-03-09T23:59:59Z"), event("P", "start", "2024-03-10T00:00:00Z"),
                 event("P", "end", "2024-03-11T00:00:00Z"), event("P", "after", "2024-03-11T00:00:00.001Z"),
                 event("Other", "start", "2024-03-10T00:00:00Z")])
    status, _, body = delete(key, {"dataset": "P", "startTime": "2024-03-10T00:00:00Z",
                                   "endTime": "2024-03-11T00:00:00Z"}, "delete_datahub_events_by_filter")
    assert status == 200 and body == {"message": "Delete success", "deleted": 2}
    assert ids_stored(store, tenant, "P") == {"before", "after"}
    assert ids_stored(store, tenant, "Other") == {"start"}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"dataset": "P", "eventIds": ["a"], "startTime": "2024-03-10T00:00:00Z", "endTime": "2024-03-11T00:00:00Z"},
         "mutually exclusive"),
        ({"dataset": "P", "startTime": "2024-03-11T00:00:00Z", "endTime": "2024-03-10T00:00:00Z"}, "is before startTime"),
        ({"dataset": "P"}, "send either eventIds or a time range"),
        ({"dataset": "P", "startTime": "2024-03-10T00:00:00Z"}, "endTime is missing"),
        ({"dataset": "P", "eventIds": []}, "eventIds: List should have at least 1 item"),
        ({"eventIds": ["a"]}, "dataset: Field required"),
        ({"dataset": "P", "eventIds": ["a"], "eventIDs": ["b"]}, "eventIDs: Extra inputs are not permitted"),
        ({"dataset": "P", "startTime": "yesterday", "endTime": "2024-03-10T00:00:00Z"}, "startTime: 'yesterday'"),
        (b"[]", "must be a JSON object"),
        (b"{", "Malformed JSON"),
    ],
)
def test_bad_deletes_are_400_in_the_datahub_dialect_and_delete_nothing(new_key, ingest, delete, store, document, says):
    key, tenant = new_key()
    ingest(key, [event("P", "a")])
    status, _, body = delete(key, document)
    assert status == 400 and says in body["error"], body
    assert ids_stored(store, tenant, "P") == {"a"}


def test_the_sample_deletes_answer_as_named(invoke, aws_endpoint):
    for route in ("delete_datahub_events", "delete_datahub_events_by_filter"):
        assert invoke(route, load_event(route, "valid_by_time_range"))[0] == 200
        assert invoke(route, load_event(route, "invalid_ids_and_time_range"))[0] == 400
        assert invoke(route, load_event(route, "missing_key"))[0] == 401


def test_deletes_and_reads_fan_out_over_stream_shards(aws_endpoint, new_key, http_event):
    # Given a deployment that spreads DataHub streams over 4 shards
    settings = Settings(stream_shards={"datahub": 4})
    ingest, remove, read = (Pipeline(catalog.get(name), settings) for name in
                            ("datahub_events", "delete_datahub_events", "read_datahub_event"))
    key, tenant = new_key()
    ids = [f"s{n}" for n in range(12)]
    body = json.dumps({"events": [event("Sharded", event_id) for event_id in ids]}).encode()
    assert handle(ingest, http_event("datahub_events", body, datahub(key)))["statusCode"] == 201
    # (a query per shard, not a scan: a scan of the shared test table stops at its first 1 MB page)
    per_shard = [
        ingest.store.dynamodb.query(
            TableName=settings.events_table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{tenant}#datahub#Sharded#{shard}"}})["Count"]
        for shard in range(4)
    ]
    assert sum(per_shard) == 12 and sum(1 for count in per_shard if count) > 1  # really spread
    # When one is read by id and a time range covering all is deleted
    found = handle(read, http_event("read_datahub_event", b"", datahub(key), path="/datahub/v1/events/s7?provider=Sharded"))
    assert found["statusCode"] == 200 and json.loads(found["body"])["event"]["id"] == "s7"
    everything = json.dumps({"dataset": "Sharded", "startTime": "2024-01-01T00:00:00Z",
                             "endTime": "2025-01-01T00:00:00Z"}).encode()
    answer = handle(remove, http_event("delete_datahub_events", everything, datahub(key)))
    # Then every shard was visited
    assert json.loads(answer["body"]) == {"message": "Delete success", "deleted": 12}
    gone = handle(read, http_event("read_datahub_event", b"", datahub(key), path="/datahub/v1/events/s7?provider=Sharded"))
    assert gone["statusCode"] == 404


def test_a_key_scoped_to_another_family_may_not_delete(admin_key, delete):
    key = admin_key(["usage"])
    status, _, body = delete(key, {"dataset": "P", "eventIds": ["a"]})
    assert status == 403 and "may not send datahub events" in body["error"]


@pytest.fixture
def admin_key(settings):
    from cli.keys import KeyAdmin
    from ingest.store import Store

    def make(scopes: list[str]) -> str:
        key, _ = KeyAdmin(Store(settings)).create(f"t-{uuid.uuid4().hex[:12]}", scopes)
        return key

    return make


# --- read-back ------------------------------------------------------------------------------------


def test_datahub_read_back_in_the_dialect(new_key, ingest, read):
    key, _ = new_key()
    ingest(key, [{**event("Datadog", "r-1"), "cloud": None, "metrics": [{"type": "cost", "value": 1.5}]}])
    status, _, body = read("read_datahub_event", "/datahub/v1/events/r-1?provider=Datadog", datahub(key))
    assert status == 200
    assert body["event"] == {"provider": "Datadog", "id": "r-1", "dimensions": [], "time": "2024-03-10T23:00:00Z",
                             "metrics": [{"type": "cost", "value": 1.5}]}
    assert body["dataset"] == "Datadog" and body["requestId"] and body["receivedAt"].endswith("Z")
    other_key, _ = new_key()
    assert read("read_datahub_event", "/datahub/v1/events/r-1?provider=Datadog", datahub(other_key))[0] == 404
    status, _, body = read("read_datahub_event", "/datahub/v1/events/r-1", datahub(key))
    assert status == 400 and "provider is required" in body["error"]
    status, _, body = read("read_datahub_event", "/datahub/v1/events/r-1?provider=Data%2Fdog", datahub(key))
    assert status == 400 and "Invalid provider" in body["error"]


def test_usage_read_back_by_the_sha256_of_the_stored_event(new_key, invoke, http_event, read):
    key, _ = new_key()
    headers = {"X-API-Key": key}
    body = json.dumps({"action": "ListBuckets", "provider": "aws", "timestamp": "2024-03-01T12:00:00+01:00",
                       "customerId": None, "unknown": 1}).encode()
    assert invoke("usage_s3", http_event("usage_s3", body, headers))[0] == 200
    from cli.events import EventReader  # the operator's listing shows the id
    from ingest.settings import get_settings
    from ingest.store import Deadline, Store

    [stored] = EventReader(Store(get_settings()), get_settings(), _tenant_of(key), "usage").between("s3", Deadline(10))
    status, _, answer = read("read_usage_s3_event", f"/s3/events/{stored.id}", headers)
    assert status == 200 and answer["id"] == stored.id and answer["service"] == "s3"
    assert answer["event"] == {"action": "ListBuckets", "timestamp": "2024-03-01T11:00:00Z", "provider": "aws"}
    assert read("read_usage_ec2_event", f"/ec2/events/{stored.id}", headers)[0] == 404  # another service
    status, _, answer = read("read_usage_s3_event", "/s3/events/xyz", headers)
    assert status == 400 and "SHA-256" in answer["message"]
    assert read("read_usage_s3_event", f"/s3/events/{stored.id}", {})[0] == 401


def test_logs_read_back_by_id_or_dedup_key(new_key, invoke, http_event, read):
    key, _ = new_key()
    headers = {"X-API-Key": key, "x-service": "web"}
    body = json.dumps([{"id": 42, "message": "a"}, {"message": "no id"}]).encode()
    assert invoke("logs_events", http_event("logs_events", body, headers, path="/v1/app"))[0] == 202
    status, _, answer = read("read_logs_event", "/v1/app/events/42", {"X-API-Key": key})
    assert status == 200 and answer["event"] == {"id": 42, "message": "a"} and answer["service"] == "web"
    from ingest.families.logs.family import dedup_key

    digest = dedup_key({"message": "no id"})
    status, _, answer = read("read_logs_event", f"/v1/app/events/{digest}", {"X-API-Key": key})
    assert status == 200 and answer["event"] == {"message": "no id"}
    status, _, answer = read("read_logs_event", "/v1/other/events/42", {"X-API-Key": key})
    assert status == 404 and answer["message"] == "Not Found"
    status, _, answer = read("read_logs_event", "/v1/bad..name/events/42", {"X-API-Key": key})
    assert status == 400 and "Invalid dataset" in answer["reason"]


def test_ops_read_back_by_stored_id_and_by_correlation_id(new_key, invoke, http_event, read):
    key, _ = new_key()
    headers = {"Authorization": f"Api-Token {key}"}
    info = load_event("ops_events", "valid_custom_info")
    problem = load_event("ops_events", "valid_error_event")
    stored = []
    for sample in (info, problem):
        status, _, answer = invoke("ops_events", {**sample, "headers": headers, "multiValueHeaders": {
            name: [value] for name, value in headers.items()}})
        assert status == 200, answer
        stored.append(answer)
    [stored_id] = stored[0]["storedIds"]
    status, _, entry = read("read_ops_event", f"/api/v1/events/{stored_id}", headers)
    assert status == 200 and entry["id"] == stored_id and entry["eventType"] == "CUSTOM_INFO"
    assert entry["eventStatus"] in ("OPEN", "CLOSED") and entry["event"]["eventType"] == "CUSTOM_INFO"
    [correlation_id] = stored[1]["storedCorrelationIds"]
    status, _, entry = read("read_ops_event", f"/api/v1/events/{correlation_id}", headers)
    assert status == 200 and entry["correlationId"] == correlation_id and entry["eventStatus"] == "OPEN"
    status, _, entry = read("read_ops_event", "/api/v1/events/nonsense", headers)
    assert status == 400 and entry["error"]["code"] == 400
    status, _, entry = read("read_ops_event", "/api/v1/events/1_1700000000000", headers)
    assert status == 404 and entry["error"]["code"] == 404


def _tenant_of(key: str) -> str:
    from ingest.settings import get_settings
    from ingest.store import Store

    return Store(get_settings()).get_key(key.split(".")[0])["tenant"]
