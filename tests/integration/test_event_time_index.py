"""Issue 14 item 4: the event-time index carries only what its queries need (keys, event_time,
expires_at); time-range reads take the payload from the table. Read from moto directly."""

from __future__ import annotations

import json
import time
import uuid

from ingest import layout
from ingest.readback import EventReader
from ingest.store import Deadline
from tests.integration.test_reads_exact import raw_handle


def test_an_index_entry_is_keys_time_and_expiry_and_a_time_range_read_returns_the_whole_event(
        store, settings, new_key, http_event):
    # Given two log events with a payload well over 1 KB, stored in a fresh dataset
    key, tenant = new_key()
    dataset = f"idx-{uuid.uuid4().hex[:8]}"
    events = [{"id": f"e{i}", "message": "x" * 3_000, "timestamp": f"2024-03-0{i + 1}T00:00:00Z"} for i in range(2)]
    send = http_event("logs_events", json.dumps(events).encode(), {"x-api-key": key}, f"/v1/{dataset}")
    assert raw_handle("logs_events", send)[0] == 202
    # When the index is queried as DynamoDB serves it
    pk = f"{tenant}#logs#{dataset}"
    entries = store.dynamodb.query(TableName=settings.events_table, IndexName=layout.EVENT_TIME_INDEX,
                                   KeyConditionExpression="pk = :pk",
                                   ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
    # Then each entry is the keys, the event time and the expiry: no payload, no second copy
    assert len(entries) == 2
    assert all(set(entry) == {"pk", "sk", "event_time", "expires_at"} for entry in entries)
    # And a time-range read still returns each whole event, in event-time order, from the table
    reader = EventReader(store, settings, tenant, "logs")
    found = list(reader.between(dataset, Deadline(10), 0, int(time.time() * 1000)))
    assert [json.loads(event.payload)["message"] for event in found] == ["x" * 3_000] * 2
    assert [event.event_time_ms for event in found] == sorted(event.event_time_ms for event in found)


def test_the_emulator_table_declares_the_include_projection(store, settings):
    table = store.dynamodb.describe_table(TableName=settings.events_table)["Table"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["expires_at"]}
