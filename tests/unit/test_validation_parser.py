"""Validation goes through the Powertools parser, with per-event outcomes and field paths kept.

The spy wraps `_parse_and_validate_event`, the function Powertools' own `parse` validates with, so
these tests fail when a path goes around the parser (a direct `TypeAdapter.validate_python`), when
the parser is handed anything but the adapters the families build at import, or when an outcome
or a path changes on the way. AWS is stubbed in-process; the events are the samples under events/.
"""

from __future__ import annotations

import json

import aws_lambda_powertools.utilities.parser.parser as powertools_parser
import pydantic
import pytest
from aws_lambda_powertools.utilities import parser as powertools
from aws_lambda_powertools.utilities.parser.functions import CACHE_TYPE_ADAPTER
from pydantic import TypeAdapter

from ingest import catalog, validation
from ingest.auth import key_record
from ingest.families.datahub import family as datahub, manage as datahub_manage
from ingest.families.ops import family as ops
from ingest.families.usage import s3 as usage_s3
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from ingest.store import Store, key_item_of
from local.emulator import SAMPLE_KEY
from tests.conftest import load_event

SETTINGS = Settings()


class StubDynamoDB:
    """Answers like DynamoDB with nothing stored: the sample key exists, every event is new."""

    def __init__(self) -> None:
        self.key_item = key_item_of(key_record(SAMPLE_KEY, "sample"))

    def get_item(self, TableName, **kwargs):
        # the keys table holds the sample key; the events table nothing (no stream's shard record yet)
        return {"Item": self.key_item} if TableName == SETTINGS.keys_table else {}

    def update_item(self, **kwargs):
        return {"Attributes": {"hits": {"N": "1"}}}  # the rate counter: a fresh window every time

    def batch_get_item(self, RequestItems):
        return {"Responses": {table: [] for table in RequestItems}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems):
        return {"UnprocessedItems": {}}

    def put_item(self, **kwargs):  # a conditional put into an empty table: written
        return {}


class StubS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Key, Body, **kwargs):
        self.objects[Key] = Body
        return {}


@pytest.fixture
def parser_calls(monkeypatch):
    """Every validation Powertools' parse() runs: (the adapter it validated with, the data)."""
    calls: list[tuple[TypeAdapter, object]] = []
    real = powertools_parser._parse_and_validate_event

    def spy(data, adapter):
        calls.append((adapter, data))
        return real(data=data, adapter=adapter)

    monkeypatch.setattr(powertools_parser, "_parse_and_validate_event", spy)
    return calls


def handle(endpoint: str, sample: str, s3: StubS3 | None = None) -> tuple[int, dict]:
    pipeline = Pipeline(catalog.get(endpoint), SETTINGS, Store(SETTINGS, dynamodb=StubDynamoDB(), s3=s3 or StubS3()))
    response = pipeline.handle(load_event(endpoint, sample))
    return response["statusCode"], json.loads(response["body"])


def adapters(calls) -> list[TypeAdapter]:
    return [adapter for adapter, _ in calls]


# --- the mechanism --------------------------------------------------------------------------------


def test_validation_calls_the_powertools_parse_itself():
    assert validation.parse is powertools.parse
    assert validation.ValidationError is pydantic.ValidationError  # not wrapped: .errors() as pydantic gives it


def test_parse_model_hands_the_import_time_adapter_to_the_parser_and_its_cache(parser_calls):
    # Given the DataHub family's list adapter, built at import
    adapter = datahub.FAMILY.list_adapter
    event = {"provider": "Datadog", "time": "2024-03-10T23:00:00Z"}
    # When it validates twice
    validation.parse_model([event], adapter)
    size = len(CACHE_TYPE_ADAPTER)
    validation.parse_model([event], adapter)
    # Then the parser validated with that very adapter, cached as itself, and built nothing new
    assert adapters(parser_calls) == [adapter, adapter]
    assert CACHE_TYPE_ADAPTER[id(adapter)] is adapter
    assert len(CACHE_TYPE_ADAPTER) == size


def test_parse_model_refuses_what_would_change_the_parser_behaviour(parser_calls):
    # a bare type: parse() would build (and cache) a new TypeAdapter for it on every call
    with pytest.raises(TypeError, match="built once at import"):
        validation.parse_model([], list[datahub.DataHubEvent])
    # a str: parse() would read it as JSON text (validate_json), not as the value
    with pytest.raises(TypeError, match="JSON text"):
        validation.parse_model("Datadog", TypeAdapter(str))
    assert parser_calls == []


def test_parser_errors_keep_their_locations():
    invalid = {"provider": "Datadog", "time": "2024-03-10T23:00:00Z", "dimensions": [{"type": "fixed", "key": "nope"}]}
    with pytest.raises(pydantic.ValidationError) as raised:
        validation.parse_model([{"provider": "Datadog", "time": "2024-03-10T23:00:00Z"}, invalid],
                               datahub.FAMILY.list_adapter)
    assert {error["loc"] for error in raised.value.errors()} == {(1, "dimensions", 0, "key"), (1, "dimensions", 0, "value")}


# --- every family's events, through the whole pipeline --------------------------------------------


def test_valid_datahub_batch_is_one_parser_call_with_the_list_adapter(parser_calls):
    status, body = handle("datahub_events", "valid_guide_sample")
    assert (status, body) == (201, {"message": "Ingestion success"})
    assert adapters(parser_calls) == [datahub.FAMILY.list_adapter]


def test_invalid_datahub_event_names_index_and_path_and_nothing_is_revalidated(parser_calls):
    # Given a batch whose second event has a fixed dimension with an unlisted key (all-or-nothing)
    events = [
        {"provider": "Datadog", "time": "2024-03-10T23:00:00Z"},
        {"provider": "Datadog", "time": "2024-03-10T23:00:00Z", "dimensions": [{"type": "fixed", "key": "colour",
                                                                                "value": "red"}]},
    ]
    # When the family validates it
    models, errors = datahub.FAMILY.validate(events)
    # Then event 1 is named by its path, nothing is kept, and the parser ran once (no per-event pass)
    assert models == [None, None]
    assert [(v.index, v.path) for v in errors[1]] == [(1, "events[1].dimensions[0].key")]
    assert errors[1][0].message.startswith("'colour' is not an allowed key for a fixed dimension")
    assert list(errors) == [1]
    assert adapters(parser_calls) == [datahub.FAMILY.list_adapter]


def test_partial_usage_batch_stores_the_valid_events_parsed_one_by_one(parser_calls):
    # Given the sample batch whose events 1 (no bucket) and 3 (a timestamp that is not ISO 8601) are invalid
    s3 = StubS3()
    # When the batch route handles it
    status, body = handle("usage_s3_batch", "partial_3_valid_2_invalid", s3)
    # Then every event has its own outcome, the rejected ones with their batch paths
    assert status == 200
    assert [(event["index"], event["status"]) for event in body["events"]] == [
        (0, "stored"), (1, "rejected"), (2, "stored"), (3, "rejected"), (4, "stored"),
    ]
    assert [error["path"] for error in body["events"][1]["errors"]] == ["[1].bucket"]
    assert [error["path"] for error in body["events"][3]["errors"]] == ["[3].timestamp"]
    # And the parser saw the list once, then each valid event alone (0, 2, 4), never the invalid ones
    family = catalog.get("usage_s3_batch").impl
    raw = json.loads(load_event("usage_s3_batch", "partial_3_valid_2_invalid")["body"])
    assert adapters(parser_calls) == [family.list_adapter, family.adapter, family.adapter, family.adapter]
    assert [data for _, data in parser_calls[1:]] == [raw[0], raw[2], raw[4]]
    # And only the rejected events are kept raw, with the same paths
    [meta] = [json.loads(body) for key, body in s3.objects.items() if key.endswith(".json")]
    assert [(error["index"], error["path"]) for error in meta["errors"]] == [(1, "[1].bucket"), (3, "[3].timestamp")]
    assert [event["index"] for event in meta["events"]] == [1, 3]


def test_ops_constraint_violation_path_comes_through_the_parser(parser_calls):
    status, body = handle("ops_events", "invalid_unknown_tag_context")
    assert status == 400
    paths = [violation["path"] for violation in body["error"]["constraintViolations"]]
    assert paths == ["attachRules.tagRule[0].tags[0].context"]
    assert adapters(parser_calls) == [ops.FAMILY.adapter]


def test_valid_ops_event_is_parsed_by_the_parser(parser_calls):
    status, body = handle("ops_events", "valid_custom_info")
    assert status == 200 and len(body["storedEventIds"]) == 1
    assert adapters(parser_calls) == [ops.FAMILY.adapter]


def test_datahub_delete_request_is_parsed_by_the_parser(parser_calls):
    status, body = handle("delete_datahub_events", "invalid_ids_and_time_range")
    assert status == 400 and "mutually exclusive" in body["error"]
    assert adapters(parser_calls) == [datahub_manage._DELETE]


def test_a_parser_failure_is_a_retryable_500_not_an_answer_without_validation(monkeypatch):
    # If validation did not go through the parser, this request would still be answered 201.
    def broken(data, adapter):
        raise RuntimeError("parser unavailable")

    monkeypatch.setattr(powertools_parser, "_parse_and_validate_event", broken)
    status, body = handle("datahub_events", "valid_guide_sample")
    assert status == 500 and body == {"error": "Internal error; retry the request."}


def test_a_streams_shard_count_is_read_once_per_process():
    # issue 11 item 6: the shard count recorded at a stream's first write, cached: no call per request after
    dynamodb = StubDynamoDB()
    events_reads = []  # calls about a shard record (its conditional put, or a read of it)
    real_get, real_put = dynamodb.get_item, dynamodb.put_item

    def get_item(TableName, **kwargs):
        if TableName == SETTINGS.events_table:
            events_reads.append(kwargs["Key"])
        return real_get(TableName, **kwargs)

    def put_item(**kwargs):
        if kwargs["Item"]["pk"]["S"].startswith("~shards#"):
            events_reads.append(kwargs["Item"]["pk"])
        return real_put(**kwargs)

    dynamodb.get_item, dynamodb.put_item = get_item, put_item
    pipeline = Pipeline(catalog.get("datahub_events"), SETTINGS, Store(SETTINGS, dynamodb=dynamodb, s3=StubS3()))
    first = pipeline.handle(load_event("datahub_events", "valid_guide_sample"))
    streams_seen = len(events_reads)  # one shard record per provider of the request
    assert first["statusCode"] == 201 and streams_seen >= 1
    again = pipeline.handle(load_event("datahub_events", "valid_guide_sample"))
    assert again["statusCode"] == 201 and len(events_reads) == streams_seen
