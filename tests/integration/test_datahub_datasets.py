"""DataHub datasets through the real handlers against moto, checked against storage itself.

`records` is compared with the live event items read straight from the table, through overwrite,
delete, expiry and dataset delete; tenancy and the spec's error answers are checked too.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from ingest import catalog, layout
from tests.conftest import partition_items
from tests.integration.keys_support import credential

JSON = {"Content-Type": "application/json"}


def headers(key: str) -> dict:
    return {**credential(catalog.get("datahub_events"), key), **JSON}


@pytest.fixture
def call(invoke, http_event):
    def send(key: str, route: str, body=None, path: str | None = None):
        raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        return invoke(route, http_event(route, raw, headers(key), path=path))

    return send


@pytest.fixture
def ingest(call):
    def send(key: str, events: list[dict]) -> None:
        status, _, answer = call(key, "datahub_events", {"events": events})
        assert status == 201, answer

    return send


def event(provider: str, event_id: str | None = None, time: str = "2024-03-10T23:00:00Z") -> dict:
    return {"provider": provider, **({"id": event_id} if event_id else {}), "time": time,
            "dimensions": [{"type": "label", "key": "team", "value": "a"}], "metrics": [{"type": "cost", "value": 1.5}]}


def live_items(store, tenant: str, provider: str) -> list[dict]:
    now = int(time.time())
    return [item for item in partition_items(store.dynamodb, f"{tenant}#datahub#{provider}", store.settings.events_table)
            if layout.is_live(item, now)]


def dataset_path(name: str) -> str:
    return "/datahub/v1/datasets/" + name.replace(" ", "%20")


def get(call, key, name):
    return call(key, "get_datahub_dataset", path=dataset_path(name))


def test_first_event_creates_the_dataset_and_records_count_live_items(call, ingest, new_key, store):
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:6]}"
    ingest(key, [event(provider, "a"), event(provider, "b"), event(provider, "c")])
    status, _, body = get(call, key, provider)
    assert status == 200
    assert body["records"] == 3 == len(live_items(store, tenant, provider))
    assert body["name"] == provider and body["description"] == ""
    assert body["updatedBy"] == key.split(".")[0] and key.split(".")[1] not in json.dumps(body)
    first_update = body["lastUpdated"]

    ingest(key, [event(provider, "a"), event(provider, "b")])  # overwrite by id: still three
    status, _, body = get(call, key, provider)
    assert body["records"] == 3 == len(live_items(store, tenant, provider))
    assert body["lastUpdated"] > first_update

    status, _, answer = call(key, "delete_datahub_events", {"dataset": provider, "eventIds": ["a"]})
    assert status == 200 and answer["deleted"] == 1
    status, _, after_delete = get(call, key, provider)
    assert after_delete["records"] == 2 == len(live_items(store, tenant, provider))
    assert after_delete["lastUpdated"] > body["lastUpdated"]


def test_expired_events_do_not_count_even_before_ttl_removes_them(call, ingest, new_key, store):
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:6]}"
    ingest(key, [event(provider, "keep"), event(provider, "old")])
    [old] = [item for item in partition_items(store.dynamodb, f"{tenant}#datahub#{provider}") if item["sk"]["S"] == "old"]
    store.dynamodb.update_item(TableName=store.settings.events_table, Key={"pk": old["pk"], "sk": old["sk"]},
                               UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    status, _, body = get(call, key, provider)
    assert status == 200 and body["records"] == 1 == len(live_items(store, tenant, provider))


def test_create_get_update_list_and_a_second_create_is_a_conflict(call, new_key):
    key, _ = new_key()
    name = f"My Dataset {uuid.uuid4().hex[:6]}"
    status, _, created = call(key, "create_datahub_dataset", {"name": name, "description": "costs"})
    assert status == 201
    assert created["name"] == name and created["description"] == "costs" and created["records"] == 0
    status, _, again = call(key, "create_datahub_dataset", {"name": name})
    assert status == 409 and set(again) == {"error"} and "already exists" in again["error"]

    status, _, updated = call(key, "update_datahub_dataset", {"name": name, "description": "new"},
                              path=dataset_path(name))
    assert status == 200 and updated["description"] == "new" and updated["lastUpdated"] >= created["lastUpdated"]
    status, _, mismatch = call(key, "update_datahub_dataset", {"name": "other", "description": "x"},
                               path=dataset_path(name))
    assert status == 400 and "does not match" in mismatch["error"]
    status, _, extra = call(key, "update_datahub_dataset", {"records": 5}, path=dataset_path(name))
    assert status == 400 and "records" in extra["error"]

    status, _, listed = call(key, "list_datahub_datasets")
    assert status == 200 and [d["name"] for d in listed["datasets"]] == [name]
    assert listed["datasets"][0] == {**updated}


@pytest.mark.parametrize("name", ["two  spaces", " leading", "trailing ", "dots.here", "", "x" * 129])
def test_a_name_outside_the_spec_pattern_is_a_400(call, new_key, name):
    key, _ = new_key()
    status, _, body = call(key, "create_datahub_dataset", {"name": name})
    assert status == 400 and "name" in body["error"] and set(body) == {"error"}


def test_another_tenants_dataset_is_not_seen_changed_or_deleted(call, ingest, new_key, store):
    owner, owner_tenant = new_key()
    other, _ = new_key()
    provider = f"p-{uuid.uuid4().hex[:6]}"
    ingest(owner, [event(provider, "a")])
    assert get(call, other, provider)[0] == 404
    assert call(other, "update_datahub_dataset", {"description": "mine"}, path=dataset_path(provider))[0] == 404
    assert call(other, "delete_datahub_dataset", path=dataset_path(provider))[0] == 404
    assert call(other, "list_datahub_datasets")[2] == {"datasets": []}
    # Creating the same name under another tenant is its own dataset, not a conflict.
    assert call(other, "create_datahub_dataset", {"name": provider})[0] == 201
    assert len(live_items(store, owner_tenant, provider)) == 1
    assert get(call, owner, provider)[2]["records"] == 1


def test_delete_dataset_deletes_every_event_and_says_how_many(call, ingest, new_key, store):
    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:6]}"
    ingest(key, [event(provider, f"e{i}") for i in range(100)])
    ingest(key, [event(provider, f"e{i}") for i in range(100, 130)])
    status, _, body = call(key, "delete_datahub_dataset", path=dataset_path(provider))
    assert status == 200 and body == {"message": "Dataset deleted successfully", "deletedEvents": 130}
    assert partition_items(store.dynamodb, f"{tenant}#datahub#{provider}") == []
    assert get(call, key, provider)[0] == 404
    status, _, read = call(key, "read_datahub_event", path=f"/datahub/v1/events/e1?provider={provider}")
    assert status in (400, 404)
    assert call(key, "delete_datahub_dataset", path=dataset_path(provider))[0] == 404


def test_delete_datasets_in_bulk_names_what_it_did_not_find(call, ingest, new_key, store):
    key, tenant = new_key()
    first, second = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    ingest(key, [event(first, "x"), event(second, "y"), event(second, "z")])
    status, _, body = call(key, "delete_datahub_datasets", {"datasets": [first, second, "missing"]})
    assert status == 200
    assert body["message"] == "Datasets deleted successfully" and body["deletedEvents"] == 3
    assert body["datasets"] == [{"name": first, "deletedEvents": 1}, {"name": second, "deletedEvents": 2}]
    assert body["notFound"] == ["missing"]
    assert not live_items(store, tenant, first) and not live_items(store, tenant, second)
    status, _, none = call(key, "delete_datahub_datasets", {"datasets": ["missing"]})
    assert status == 404 and set(none) == {"error"}
    status, _, bad = call(key, "delete_datahub_datasets", {"datasets": []})
    assert status == 400 and "datasets" in bad["error"]


def test_malformed_bodies_are_400s_in_the_dialect(call, new_key):
    key, _ = new_key()
    for body in (b"{", b"[]", b'{"description": "no name"}', b'{"name": 5}'):
        status, headers_, answer = call(key, "create_datahub_dataset", body)
        assert status == 400 and set(answer) == {"error"} and headers_["X-Request-Id"]


# --- shards and the time budget ---------------------------------------------------------------------


def run(settings, route: str, http_event, key: str, body=None, path: str | None = None, store=None):
    from ingest.pipeline import Pipeline
    from local.context import LocalContext

    raw = b"" if body is None else json.dumps(body).encode()
    event = http_event(route, raw, headers(key), path=path)
    event["requestContext"]["requestId"] = f"req-{uuid.uuid4().hex[:8]}"
    response = Pipeline(catalog.get(route), settings, store).handle(event, LocalContext(route, "r"))
    return response["statusCode"], response["headers"], json.loads(response["body"])


def test_records_and_delete_cover_every_shard_of_a_sharded_provider(http_event, new_key, store):
    from ingest.settings import Settings

    key, tenant = new_key()
    four = Settings(stream_shards={"datahub": 4})
    provider = f"p-{uuid.uuid4().hex[:6]}"
    assert run(four, "datahub_events", http_event, key, {"events": [event(provider, f"e{i}") for i in range(40)]})[0] == 201
    pks = {item["pk"]["S"] for shard in range(4)
           for item in partition_items(store.dynamodb, f"{tenant}#datahub#{provider}#{shard}")}
    assert len(pks) > 1  # spread over shards
    status, _, body = run(four, "get_datahub_dataset", http_event, key, path=dataset_path(provider))
    assert status == 200 and body["records"] == 40
    status, _, body = run(four, "delete_datahub_dataset", http_event, key, path=dataset_path(provider))
    assert status == 200 and body["deletedEvents"] == 40
    assert not any(partition_items(store.dynamodb, f"{tenant}#datahub#{provider}#{shard}") for shard in range(4))


class StoreThatTimesOut:
    """The real store, but deletes give out (Unavailable, as a spent budget does) after `allowed` calls."""

    def __init__(self, real, allowed: int):
        self.real, self.allowed = real, allowed

    def __getattr__(self, name):
        return getattr(self.real, name)

    def delete_events(self, keys, deadline):
        from ingest.errors import Unavailable

        if self.allowed == 0:
            raise Unavailable("The storage budget for this request ran out; retry the request.")
        self.allowed -= 1
        return self.real.delete_events(keys, deadline)


def test_a_dataset_delete_cut_short_is_a_retryable_503_and_the_retry_finishes(http_event, ingest, new_key, store,
                                                                              settings):
    from ingest.store import Store

    key, tenant = new_key()
    provider = f"p-{uuid.uuid4().hex[:6]}"
    ingest(key, [event(provider, f"e{i}") for i in range(200)][:100])
    ingest(key, [event(provider, f"e{i}") for i in range(100, 250)])
    flaky = StoreThatTimesOut(Store(settings), allowed=1)  # one batch of 100, then the budget is gone
    status, answer_headers, body = run(settings, "delete_datahub_dataset", http_event, key,
                                       path=dataset_path(provider), store=flaky)
    assert status == 503 and set(body) == {"error"} and answer_headers.get("Retry-After")
    left = len(partition_items(store.dynamodb, f"{tenant}#datahub#{provider}"))
    assert 0 < left < 250  # partly deleted; the dataset is still there to retry
    status, _, dataset = run(settings, "get_datahub_dataset", http_event, key, path=dataset_path(provider))
    assert status == 200 and dataset["records"] == left
    status, _, body = run(settings, "delete_datahub_dataset", http_event, key, path=dataset_path(provider))
    assert status == 200 and body["deletedEvents"] == left
    assert partition_items(store.dynamodb, f"{tenant}#datahub#{provider}") == []
    assert run(settings, "get_datahub_dataset", http_event, key, path=dataset_path(provider))[0] == 404
