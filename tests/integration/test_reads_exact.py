"""Issue 11 item 6: reads agree with writes. Read-back and `events list` return the stored bytes
exactly, never serve an item past its expiry, see an ops event at once, and survive a change of
`stream_shards` — each against a real moto server."""

from __future__ import annotations

import json
import time
import uuid

from click.testing import CliRunner

from cli.__main__ import main
from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.store import Store
from local.context import LocalContext
from tests.conftest import load_event

EXACT = ('"big":123456789012345678901234567890,"u64":18446744073709551615,"i64":-9223372036854775808,'
         '"below_i64":-9223372036854775809,"pi":3.141592653589793,"tenth":0.1,"huge":1e400,"neg_zero":-0.0')


def raw_handle(endpoint: str, event: dict, settings=None) -> tuple[int, bytes]:
    """The handler's answer with its body as bytes (json.loads would turn 1e400 into inf)."""
    from local import handlers

    event = json.loads(json.dumps(event))
    event["requestContext"]["requestId"] = f"req-{uuid.uuid4().hex[:8]}"
    context = LocalContext(endpoint, event["requestContext"]["requestId"])
    if settings is None:
        response = handlers.load(endpoint)(event, context)
    else:
        response = Pipeline(catalog.get(endpoint), settings).handle(event, context)
    return response["statusCode"], response["body"].encode()


def with_key(sample: dict, headers: dict, path: str | None = None) -> dict:
    sample = {**sample, "headers": {**sample["headers"], **headers},
              "multiValueHeaders": {**(sample.get("multiValueHeaders") or {}), **{n: [v] for n, v in headers.items()}}}
    if path:
        sample["path"] = path
    return sample


# --- 1. the stored bytes, exactly ------------------------------------------------------------------


def test_logs_read_back_and_events_list_return_the_stored_numbers_exactly(aws_endpoint, new_key, http_event):
    # Given the exact-numbers sample stored in a fresh dataset of a fresh tenant
    key, tenant = new_key()
    dataset = f"exact-{uuid.uuid4().hex[:8]}"
    sample = load_event("logs_events", "valid_exact_numbers")
    send = http_event("logs_events", sample["body"].encode(), {"x-api-key": key}, f"/v1/{dataset}")
    assert raw_handle("logs_events", send)[0] == 202
    # When it is read back by id
    read = http_event("read_logs_event", b"", {"x-api-key": key}, f"/v1/{dataset}/events/numbers-1")
    status, body = raw_handle("read_logs_event", read)
    # Then the answer embeds the stored bytes verbatim: every digit, and 1e400 as sent
    assert status == 200, body
    assert EXACT.encode() in body
    # And the operator's listing prints them too, for the whole family and for the dataset
    runner = CliRunner()
    for extra in ([], ["--stream", dataset]):
        result = runner.invoke(main, ["events", "list", "--tenant", tenant, "--family", "logs", "--json", *extra,
                                      "--endpoint-url", aws_endpoint], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        [line] = result.output.splitlines()
        assert EXACT in line and json.loads(line)["id"] == "id:numbers-1"
    table = runner.invoke(main, ["events", "list", "--tenant", tenant, "--family", "logs", "--endpoint-url",
                                 aws_endpoint], catch_exceptions=False)
    assert table.exit_code == 0 and "numbers-1" in table.output


# --- 2. one expiry rule: an expired item is never served -------------------------------------------


def expire(store, pk: str, sk: str) -> None:
    """What DynamoDB may leave for ~48 h: the item, its expiry in the past."""
    store.dynamodb.update_item(TableName=store.settings.events_table, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                               UpdateExpression="SET expires_at = :past",
                               ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}})


def test_an_item_past_its_expiry_is_never_read_back_listed_or_deleted(aws_endpoint, store, new_key, http_event):
    # Given two log events of a dataset, one of them past its expiry but not yet removed by TTL
    key, tenant = new_key()
    dataset = f"ttl-{uuid.uuid4().hex[:8]}"
    body = json.dumps([{"id": "live", "time": "2024-03-10T23:00:00Z"},
                       {"id": "gone", "time": "2024-03-10T23:00:00Z"}]).encode()
    assert raw_handle("logs_events", http_event("logs_events", body, {"x-api-key": key}, f"/v1/{dataset}"))[0] == 202
    expire(store, f"{tenant}#logs#{dataset}", "id:gone")
    # When each is read back by id
    def read(event_id: str) -> int:
        event = http_event("read_logs_event", b"", {"x-api-key": key}, f"/v1/{dataset}/events/{event_id}")
        return raw_handle("read_logs_event", event)[0]
    # Then the expired one is absent, as delete and dedup see it
    assert (read("live"), read("gone")) == (200, 404)
    # And the listing (by stream: the index; without: a scan) shows only the live one
    runner = CliRunner()
    for extra in ([], ["--stream", dataset]):
        result = runner.invoke(main, ["events", "list", "--tenant", tenant, "--family", "logs", "--json", *extra,
                                      "--endpoint-url", aws_endpoint], catch_exceptions=False)
        assert [json.loads(line)["id"] for line in result.output.splitlines()] == ["id:live"]


def test_a_time_range_delete_counts_only_live_items_and_an_expired_problem_is_not_read(
        aws_endpoint, store, new_key, http_event):
    # Given DataHub events of one provider, one expired
    key, tenant = new_key()
    provider = f"P{uuid.uuid4().hex[:8]}"
    bearer = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps({"events": [{"provider": provider, "id": f"e{n}", "time": "2024-03-10T23:00:00Z"}
                                  for n in range(3)]}).encode()
    assert raw_handle("datahub_events", http_event("datahub_events", body, bearer))[0] == 201
    expire(store, f"{tenant}#datahub#{provider}", "e0")
    # When the whole range is deleted
    everything = json.dumps({"dataset": provider, "startTime": "2024-01-01T00:00:00Z",
                             "endTime": "2025-01-01T00:00:00Z"}).encode()
    status, answer = raw_handle("delete_datahub_events", http_event("delete_datahub_events", everything, bearer))
    # Then the expired event was already absent: two deleted
    assert status == 200 and json.loads(answer)["deleted"] == 2
    # And an ops problem whose events expired is not found by its correlation id (ByPrefix)
    token = {"Authorization": f"Api-Token {key}"}
    status, answer = raw_handle("ops_events", with_key(load_event("ops_events", "valid_error_event"), token))
    [correlation_id] = json.loads(answer)["storedCorrelationIds"]
    read = http_event("read_ops_event", b"", token, f"/api/v1/events/{correlation_id}")
    assert raw_handle("read_ops_event", read)[0] == 200
    [item] = store.dynamodb.query(
        TableName=store.settings.events_table, KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": f"{tenant}#ops#ERROR_EVENT"},
                                   ":p": {"S": f"problem#{correlation_id}#"}})["Items"]
    expire(store, item["pk"]["S"], item["sk"]["S"])
    assert raw_handle("read_ops_event", read)[0] == 404


# --- 3. an ops event is readable the moment it was answered ---------------------------------------


class LaggingIndex(Store):
    """DynamoDB as it may be right after a write: the event-time index (eventually consistent) has
    not caught up yet; the table itself (consistent reads) has."""

    def query_events(self, pk, deadline, *, sk_prefix=None, **kwargs):
        if sk_prefix is None:
            return iter(())
        return super().query_events(pk, deadline, sk_prefix=sk_prefix, **kwargs)


def test_an_ops_stored_id_reads_back_at_once_from_the_table_not_the_index(aws_endpoint, settings, new_key,
                                                                          http_event):
    key, tenant = new_key()
    token = {"Authorization": f"Api-Token {key}"}
    status, answer = raw_handle("ops_events", with_key(load_event("ops_events", "valid_custom_info"), token))
    assert status == 200, answer
    answer = json.loads(answer)
    [stored_id], [event_id] = answer["storedIds"], answer["storedEventIds"]
    # When it is read back while the index lags behind
    read = Pipeline(catalog.get("read_ops_event"), settings, LaggingIndex(settings))
    event = http_event("read_ops_event", b"", token, f"/api/v1/events/{stored_id}")
    response = read.handle(event, LocalContext("read_ops_event", "r"))
    # Then it is found: its item is keyed by its event id
    assert response["statusCode"] == 200, response["body"]
    entry = json.loads(response["body"])
    assert entry["id"] == stored_id and entry["eventType"] == "CUSTOM_INFO"
    # And another start, or another id, is not it
    start = stored_id.split("_")[1]
    for wrong in (f"{event_id}_{int(start) + 1}", f"{event_id + 1}_{start}"):
        missing = read.handle(http_event("read_ops_event", b"", token, f"/api/v1/events/{wrong}"),
                              LocalContext("read_ops_event", "r"))
        assert missing["statusCode"] == 404


# --- 4. a change of stream_shards keeps the streams already written --------------------------------


def test_a_stream_keeps_its_first_shard_count_when_stream_shards_changes(aws_endpoint, new_key, http_event):
    from ingest.settings import Settings

    # Given DataHub events written while streams had one shard
    key, tenant = new_key()
    bearer = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    old, new = f"Old{uuid.uuid4().hex[:8]}", f"New{uuid.uuid4().hex[:8]}"
    ids = [f"e{n}" for n in range(8)]

    def body(provider: str) -> bytes:
        return json.dumps({"events": [{"provider": provider, "id": event_id, "time": "2024-03-10T23:00:00Z"}
                                      for event_id in ids]}).encode()

    def run(settings, endpoint: str, payload: bytes, path: str | None = None) -> tuple[int, dict]:
        status, answer = raw_handle(endpoint, http_event(endpoint, payload, bearer, path), settings)
        return status, json.loads(answer)

    one, four = Settings(), Settings(stream_shards={"datahub": 4})  # fresh processes: nothing cached
    assert run(one, "datahub_events", body(old))[0] == 201
    store = Store(one)

    def partitions_of(provider: str) -> dict[str, int]:
        counts = {}
        for pk in [f"{tenant}#datahub#{provider}", *(f"{tenant}#datahub#{provider}#{n}" for n in range(4))]:
            count = store.dynamodb.query(TableName=one.events_table, KeyConditionExpression="pk = :pk",
                                         ExpressionAttributeValues={":pk": {"S": pk}})["Count"]
            if count:
                counts[pk.removeprefix(f"{tenant}#datahub#")] = count
        return counts

    # When the deployment changes to 4 shards
    # Then a resend of the old stream is the same items (dedup holds), in its one partition
    assert run(four, "datahub_events", body(old))[0] == 201
    assert partitions_of(old) == {old: 8}
    # And each is read back by id
    status, answer = run(four, "read_datahub_event", b"", f"/datahub/v1/events/e3?provider={old}")
    assert status == 200 and answer["event"]["id"] == "e3"
    # And a new stream is spread over the 4 shards
    assert run(four, "datahub_events", body(new))[0] == 201
    assert sum(partitions_of(new).values()) == 8 and len(partitions_of(new)) > 1 and new not in partitions_of(new)
    # And deletes by id and by time range find the old stream's events
    status, answer = run(four, "delete_datahub_events", json.dumps({"dataset": old, "eventIds": ["e0", "e1"]}).encode())
    assert status == 200 and answer["deleted"] == 2
    everything = {"startTime": "2024-01-01T00:00:00Z", "endTime": "2025-01-01T00:00:00Z"}
    status, answer = run(four, "delete_datahub_events", json.dumps({"dataset": old, **everything}).encode())
    assert status == 200 and answer["deleted"] == 6 and partitions_of(old) == {}
    # And going back to one shard keeps the new stream's four
    status, answer = run(one, "delete_datahub_events", json.dumps({"dataset": new, **everything}).encode())
    assert status == 200 and answer["deleted"] == 8
