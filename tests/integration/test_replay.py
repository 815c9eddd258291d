"""Rejects → export → replay through Pipeline.ingest, against moto: every family's reject shape."""

from __future__ import annotations

import gzip
import json

import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.rejects import REJECTS, REPLAYED, RejectStore
from ingest.replay import Replayer, group_lines, read_ndjson
from ingest.settings import Settings
from tests.integration.keys_support import handle


@pytest.fixture
def replayer(store, settings) -> Replayer:
    return Replayer(store, settings)


def send(http_event, endpoint: str, body: bytes, headers: dict, path: str | None = None,
         settings: Settings | None = None) -> dict:
    pipeline = Pipeline(catalog.get(endpoint), settings) if settings else Pipeline(catalog.get(endpoint))
    return handle(pipeline, http_event(endpoint, body, headers, path))


def edited(replayer: Replayer, reject, change) -> list:
    lines = replayer.export(reject)
    for line in lines:
        change(line)
    return read_ndjson("".join(json.dumps(line) + "\n" for line in lines))


def count_items(store, pk: str) -> int:
    return store.dynamodb.query(TableName=store.settings.events_table, KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": pk}}, Select="COUNT",
                                ConsistentRead=True)["Count"]


def test_a_partial_batch_fixed_in_part_stays_a_reject_with_its_new_errors_and_nothing_is_lost(
    replayer, new_key, http_event, store
):
    key, tenant = new_key()
    good = {"action": "ListBuckets", "provider": "aws", "timestamp": "2024-03-01T12:00:00Z"}
    batch = [good, {**good, "provider": "gcp"}, {**good, "action": "Nope"}]
    answer = send(http_event, "usage_s3_batch", json.dumps(batch).encode(), {"X-API-Key": key})
    request_id = answer["headers"]["X-Request-Id"]
    reject = replayer.rejects.find(request_id)
    assert not reject.whole_request and [index for index, _ in reject.rejected_events()] == [1, 2]

    # Fix only the provider; the unknown action stays wrong
    def fix(line):
        if line["index"] == 1:
            line["event"]["provider"] = "wasabi"

    result = replayer.replay(reject.key.json_key, group_lines(edited(replayer, reject, fix))[reject.key.live_key])
    assert (result.status, result.stored, result.rejected) == ("rejected", 1, 1)
    assert any("unknown action 'Nope'" in error["message"] for error in result.errors)
    assert count_items(store, f"{tenant}#usage#s3") == 2  # the first request's good event + the fixed one
    # The original moved to replayed/ with what happened; the new reject carries the new errors
    archived = replayer.rejects.find(reject.key.moved(REPLAYED).json_key)
    assert archived.meta["replay"]["outcome"] == "rejected" and archived.meta["replay"]["new_reject"] == result.new_reject
    again = replayer.rejects.find(result.new_reject)
    assert again.key.area == REJECTS and again.meta["replay_of"] == reject.key.live_key
    assert [index for index, _ in again.rejected_events()] == [1]  # only the still-bad event, re-indexed
    assert again.request_id.startswith(f"{request_id}-replay-")

    # Fixed too, the new reject replays clean, and its root request id carries on
    def fix_action(line):
        line["event"]["action"] = "ListBuckets"
        line["event"]["timestamp"] = "2024-03-02T12:00:00Z"

    final = replayer.replay(again.key.json_key, edited(replayer, again, fix_action))
    assert (final.status, final.stored) == ("stored", 1)
    assert final.replay_request_id.startswith(f"{request_id}-replay-")
    assert count_items(store, f"{tenant}#usage#s3") == 3


def test_a_reject_replays_as_is_once_the_cause_is_fixed_through_the_same_pipeline(replayer, new_key, http_event, store):
    # Given a deployment that allowed 2 DataHub events per request (a configuration mistake)
    key, tenant = new_key()
    tight = Settings(limits={"datahub_events": {"max_events": 2}})
    body = json.dumps({"events": [{"provider": "Cfg", "id": f"c{n}", "time": "2024-03-10T23:00:00Z"}
                                  for n in range(3)]}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Encoding": "gzip"}
    answer = send(http_event, "datahub_events", gzip.compress(body), headers, settings=tight)
    assert answer["statusCode"] == 400 and "limit is 2 events" in answer["body"]
    reject = replayer.rejects.find(answer["headers"]["X-Request-Id"])
    assert reject.whole_request and reject.meta["headers"]["content-encoding"] == "gzip"
    # When it is replayed as it is, with the fixed configuration
    dry = replayer.replay(reject.request_id, dry_run=True)
    assert dry.status == "would-store" and count_items(store, f"{tenant}#datahub#Cfg") == 0
    assert replayer.rejects.find(reject.request_id).key.area == REJECTS  # a dry run moves nothing
    result = replayer.replay(reject.request_id)
    # Then the stored (already inflated) body went through the pipeline once
    assert (result.status, result.stored) == ("stored", 3)
    assert count_items(store, f"{tenant}#datahub#Cfg") == 3
    assert replayer.replay(reject.request_id).status == "skipped"
    assert replayer.replay(reject.request_id, force=True).duplicate == 3
    assert count_items(store, f"{tenant}#datahub#Cfg") == 3


def test_an_unusable_body_exports_as_a_body_line_that_can_be_fixed(replayer, new_key, http_event, store):
    key, tenant = new_key()
    broken = b'[{"id": "x1", "message": "ok",}]'  # trailing comma
    answer = send(http_event, "logs_events", broken, {"X-API-Key": key}, path="/v1/app")
    assert answer["statusCode"] == 400
    reject = replayer.rejects.find(answer["headers"]["X-Request-Id"])
    [line] = replayer.export(reject)
    assert line["index"] is None and line["body"] == broken.decode() and line["path_parameters"] == {"dataset": "app"}
    line["body"] = line["body"].replace(",}", "}")
    result = replayer.replay(reject.request_id, read_ndjson(json.dumps(line)))
    assert (result.status, result.stored) == ("stored", 1)
    assert count_items(store, f"{tenant}#logs#app") == 1


def test_an_ops_event_replays_with_its_original_received_time(replayer, new_key, http_event, store):
    key, tenant = new_key()
    body = json.dumps({"eventType": "CUSTOM_INFO", "source": "ci", "attachRules": {"entityIds": ["HOST-1"]}}).encode()
    answer = send(http_event, "ops_events", body, {"Authorization": f"Api-Token {key}"})
    assert answer["statusCode"] == 400 and "description" in answer["body"]
    reject = replayer.rejects.find(answer["headers"]["X-Request-Id"])

    def fix(line):
        line["event"]["description"] = "deployed"

    lines = edited(replayer, reject, fix)
    first = replayer.replay(reject.request_id, lines)
    second = replayer.replay(reject.request_id, lines, force=True)
    assert (first.stored, second.duplicate) == (1, 1)  # the default start is the original minute: one item
    assert count_items(store, f"{tenant}#ops#CUSTOM_INFO") == 1


def test_lines_cannot_move_an_event_to_another_tenant(replayer, new_key, http_event):
    key, _ = new_key()
    answer = send(http_event, "usage_s3", b'{"action": "ListBuckets"}', {"X-API-Key": key})
    reject = replayer.rejects.find(answer["headers"]["X-Request-Id"])

    def move(line):
        line["tenant"] = "someone-else"

    result = replayer.replay(reject.request_id, edited(replayer, reject, move))
    assert result.status == "failed" and "a line replays into its own reject's tenant" in result.message
    assert replayer.rejects.find(reject.request_id).key.area == REJECTS


def test_list_filters_by_tenant_endpoint_time_and_error_text(replayer, new_key, http_event):
    key, tenant = new_key()
    send(http_event, "usage_s3", b'{"action": "ListBuckets"}', {"X-API-Key": key})
    send(http_event, "datahub_events", b'{"events": [{"provider": "p", "time": "later"}]}',
         {"Authorization": f"Bearer {key}"})
    rejects = RejectStore(replayer.store)
    assert {r.endpoint for r in rejects.select(tenant=tenant)} == {"usage_s3", "datahub_events"}
    assert [r.endpoint for r in rejects.select(tenant=tenant, endpoint="usage_s3")] == ["usage_s3"]
    assert [r.endpoint for r in rejects.select(tenant=tenant, error_text="RFC 3339")] == ["datahub_events"]
    from datetime import UTC, datetime, timedelta

    future = datetime.now(UTC) + timedelta(hours=1)
    assert rejects.select(tenant=tenant, since=future) == []
    assert len(rejects.select(tenant=tenant, until=future)) == 2


def test_a_batch_reject_keeps_each_event_as_sent_and_replays_those_very_bytes(replayer, new_key, http_event, store):
    # Given a batch whose two bad events are written the client's way (spacing, key order, escapes)
    key, tenant = new_key()
    good = {"action": "ListBuckets", "provider": "aws", "timestamp": "2024-03-01T12:00:00Z"}
    bad = [b'{ "provider" : "nope",\n  "action": "ListBuckets", "timestamp": "2024-03-01T12:00:00Z", "x": "\\u00e9\\""}',
           b'{"action":"Nope","provider":"aws","timestamp":"2024-03-01T12:00:00Z"}']
    body = b"[\n  " + json.dumps(good).encode() + b",\n  " + bad[0] + b" ,\t" + bad[1] + b"\n]"
    answer = send(http_event, "usage_s3_batch", body, {"X-API-Key": key})
    reject = replayer.rejects.find(answer["headers"]["X-Request-Id"])
    # Then the reject holds exactly those bytes, and export shows them as text beside the parsed event
    assert reject.rejected_events() == [(1, bad[0]), (2, bad[1])]
    lines = replayer.export(reject)
    assert [(line["index"], line["raw"].encode()) for line in lines] == [(1, bad[0]), (2, bad[1])]
    assert lines[0]["event"]["x"] == 'é"'
    # When it is replayed as it is (still invalid), the body sent is [slice,slice]: the new reject holds them again
    result = replayer.replay(reject.request_id)
    assert (result.status, result.rejected) == ("rejected", 2)
    again = replayer.rejects.find(result.new_reject)
    assert again.rejected_events() == [(0, bad[0]), (1, bad[1])]
    # and the archived original still reads its events, byte for byte
    archived = replayer.rejects.find(reject.key.moved(REPLAYED).json_key)
    assert archived.rejected_events() == [(1, bad[0]), (2, bad[1])]
    assert count_items(store, f"{tenant}#usage#s3") == 1


def test_a_reject_of_the_older_format_still_exports_and_replays(replayer, new_key, http_event, store):
    """Rejects written before events objects kept each rejected event base64 in the metadata."""
    import base64
    from datetime import UTC, datetime

    from ingest.layout import RejectKey

    _, tenant = new_key()
    event = {"action": "ListBuckets", "provider": "aws", "timestamp": "2024-03-01T12:00:00Z", "bytes": 7}
    older = RejectKey.of(tenant, "usage_s3_batch", datetime.now(UTC), "older-request-1")
    meta = {"request_id": "older-request-1", "tenant": tenant, "endpoint": "usage_s3_batch", "family": "usage",
            "method": "POST", "path": "/s3/batch", "path_parameters": {}, "headers": {},
            "received_at": "2024-03-01T12:00:01.000000Z",
            "errors": [{"index": 2, "path": "[2].provider", "message": "was wrong"}],
            "events": [{"index": 2, "raw": base64.b64encode(json.dumps(event).encode()).decode()}]}
    store.s3.put_object(Bucket=store.settings.rejects_bucket, Key=older.json_key, Body=json.dumps(meta).encode())
    reject = replayer.rejects.find("older-request-1", tenant=tenant)
    [line] = replayer.export(reject)
    assert (line["index"], line["event"], line["errors"][0]["message"]) == (2, event, "was wrong")
    result = replayer.replay(reject.key.json_key)
    assert (result.status, result.stored) == ("stored", 1)
    assert count_items(store, f"{tenant}#usage#s3") == 1


@pytest.mark.parametrize("endpoint", ["usage_s3_batch", "datahub_events"])
def test_a_retry_of_the_same_bytes_keeps_one_reject_that_both_request_ids_find(replayer, new_key, http_event, store,
                                                                                endpoint):
    # Given a request with a rejected event, sent twice byte for byte (a client's retry after a 503)
    key, tenant = new_key()
    if endpoint == "usage_s3_batch":
        good = {"action": "ListBuckets", "provider": "aws", "timestamp": "2024-03-01T12:00:00Z"}
        body, headers = json.dumps([good, {**good, "provider": "nope"}]).encode(), {"X-API-Key": key}
    else:
        body = json.dumps({"events": [{"provider": "p", "time": "later"}]}).encode()
        headers = {"Authorization": f"Bearer {key}"}
    first = send(http_event, endpoint, body, headers)["headers"]["X-Request-Id"]
    second = send(http_event, endpoint, body, headers)["headers"]["X-Request-Id"]
    assert first != second
    # Then there is one reject, named by its content; the metadata names the latest attempt
    [reject] = replayer.rejects.select(tenant=tenant, endpoint=endpoint)
    assert reject.request_id == second and first not in reject.key.json_key and second not in reject.key.json_key
    # and each attempt's X-Request-Id still finds it
    assert replayer.rejects.find(first).key == replayer.rejects.find(second).key == reject.key
    assert replayer.rejects.find(first, tenant=tenant).key == reject.key
    # while another body is another reject
    send(http_event, endpoint, body.replace(b"p", b"q", 1), headers)
    assert len(replayer.rejects.select(tenant=tenant, endpoint=endpoint)) == 2
