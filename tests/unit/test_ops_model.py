"""Ops event model: seed 004 (field matrix, attach rules, time windows) and the spec's EventCreation.

The reference is read at run time: the matrix, the enums and the example are compared with it, not
with a copy.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import orjson
import pytest

from ingest.auth import Principal
from ingest.families.ops.family import FAMILY, digest, event_id, info_key
from ingest.families.ops.model import (
    ENTITY_TYPES,
    FIELD_MATRIX,
    INFO_TYPES,
    PROBLEM_TYPES,
    TAG_CONTEXTS,
    EventType,
)
from ingest.request import Request
from tests.conftest import REFERENCE

SEED = next(REFERENCE.glob("004_*.txt")).read_text()
SPEC = json.loads((REFERENCE / "specs" / "dt_envv1.json").read_text())["components"]["schemas"]
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MINUTE = 60_000
DAY = 24 * 60 * MINUTE

SEED_COLUMNS = {
    "Availability event": EventType.AVAILABILITY_EVENT,
    "Custom annotation": EventType.CUSTOM_ANNOTATION,
    "Custom config": EventType.CUSTOM_CONFIGURATION,
    "Custom deployment": EventType.CUSTOM_DEPLOYMENT,
    "Custom info": EventType.CUSTOM_INFO,
    "Error event": EventType.ERROR_EVENT,
    "Performance event": EventType.PERFORMANCE_EVENT,
    "Resource contention": EventType.RESOURCE_CONTENTION,
    "Marked for termination": EventType.MARKED_FOR_TERMINATION,
}


def seed_matrix() -> dict[EventType, dict[str, str]]:
    """The "Parameters mapping" table of seed 004, parsed from the page."""
    lines = SEED.split("Parameters mapping", 2)[2].strip().splitlines()
    header = lines[0]
    columns = sorted(SEED_COLUMNS, key=header.index)
    assert len(columns) == 9 and all(name in header for name in columns)
    matrix: dict[EventType, dict[str, str]] = {SEED_COLUMNS[name]: {} for name in columns}
    for line in lines[1:]:
        if not line.strip():
            break
        field, *uses = line.split()
        assert len(uses) == 9, line
        for name, use in zip(columns, uses):
            matrix[SEED_COLUMNS[name]][field] = use
    return matrix


SEED_MATRIX = seed_matrix()
# CUSTOM_ALERT is in the spec's enum but not in the table: it takes the problem-opening column.
FULL_MATRIX = {**SEED_MATRIX, EventType.CUSTOM_ALERT: SEED_MATRIX[EventType.ERROR_EVENT]}


def minimum(event_type: EventType, **fields) -> dict:
    """The event's required fields only (every `req` of its column), attached to one entity."""
    event = {"eventType": event_type.value, "attachRules": {"entityIds": ["HOST-1"]}}
    event.update({field: f"{field} value" for field, use in FULL_MATRIX[event_type].items() if use == "req"})
    event.update(fields)
    return event


def check(event: dict, now_ms: int = NOW_MS):
    models, errors = FAMILY.validate_at([event], now_ms)
    return models[0], errors.get(0, [])


def paths(violations) -> list[str]:
    return [violation.path for violation in violations]


def request_at(moment: datetime) -> Request:
    return Request("req-1", "POST", "/api/v1/events", {}, {}, {}, b"", moment)


PRINCIPAL = Principal(tenant="acme", key_prefix="ABCDEFGH")


def record(event: dict, moment: datetime = NOW):
    model, violations = check(event, int(moment.timestamp() * 1000))
    assert not violations, violations
    return FAMILY.record(model, request_at(moment), PRINCIPAL, "/0")


# --- the model against the reference ------------------------------------------------------------


def test_event_types_tag_contexts_and_entity_types_are_the_specs():
    creation = SPEC["EventCreation"]["properties"]
    assert sorted(EventType) == sorted(creation["eventType"]["enum"])
    assert list(TAG_CONTEXTS) == SPEC["TagInfo"]["properties"]["context"]["enum"]
    assert list(ENTITY_TYPES) == SPEC["TagMatchRule"]["properties"]["meTypes"]["items"]["enum"]
    documented = set(re.findall(r"•\s+([A-Z0-9_]+)", SEED.split("items element in the TagMatchRule")[1].split("eventType element")[0]))
    assert len(documented) > 50 and documented <= set(ENTITY_TYPES)
    assert set(SPEC["EventCreation"]["required"]) == {"attachRules", "eventType", "source"}


def test_every_field_of_the_spec_is_in_the_model():
    from ingest.families.ops.model import OpsEvent

    assert set(SPEC["EventCreation"]["properties"]) == set(OpsEvent.model_fields)


def test_info_and_problem_types_are_the_seeds():
    info = SEED.split("The information-only event types are:")[1].split("Push problem-opening")[0]
    problem = SEED.split("The problem-opening event types")[1].split("The request consumes")[0]
    assert INFO_TYPES == {EventType(name) for name in re.findall(r"[A-Z_]{5,}", info)}
    assert {EventType(name) for name in re.findall(r"[A-Z_]{5,}", problem)} | {EventType.CUSTOM_ALERT} == PROBLEM_TYPES


def test_the_matrix_is_the_seeds_table_for_every_listed_type():
    for event_type, column in SEED_MATRIX.items():
        for field, use in column.items():
            assert FIELD_MATRIX[event_type][field] == use, (event_type, field)


def test_the_seed_example_is_valid_timeout_on_an_info_type_included():
    body = SEED.split("Download\n", 1)[1].split("\n\nResponse body", 1)[0]
    model, violations = check(json.loads(body))
    assert violations == [] and model.eventType is EventType.CUSTOM_ANNOTATION


# --- the per-type matrix ------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", list(EventType))
def test_each_type_succeeds_with_its_minimum_fields(event_type):
    model, violations = check(minimum(event_type))
    assert violations == [] and model.eventType is event_type


REQUIRED = [
    (event_type, field) for event_type, column in FULL_MATRIX.items() for field, use in column.items() if use == "req"
]


@pytest.mark.parametrize(("event_type", "field"), REQUIRED, ids=lambda value: str(value))
def test_each_required_field_missing_fails_naming_it(event_type, field):
    event = minimum(event_type)
    del event[field]
    _, violations = check(event)
    assert paths(violations) == [field]
    assert "required" in violations[0].message


@pytest.mark.parametrize(("event_type", "field"), REQUIRED, ids=lambda value: str(value))
def test_an_explicit_null_for_a_required_field_is_missing(event_type, field):
    _, violations = check(minimum(event_type, **{field: None}))
    assert paths(violations) == [field] and "required" in violations[0].message


NOT_APPLICABLE = [
    (event_type, field) for event_type, column in FULL_MATRIX.items() for field, use in column.items() if use == "n/a"
]


@pytest.mark.parametrize(("event_type", "field"), NOT_APPLICABLE, ids=lambda value: str(value))
def test_a_field_not_applicable_to_the_type_is_rejected(event_type, field):
    _, violations = check(minimum(event_type, **{field: "some value"}))
    assert paths(violations) == [field]
    assert f"not applicable to {event_type.value}" in violations[0].message


@pytest.mark.parametrize(("event_type", "field"), NOT_APPLICABLE, ids=lambda value: str(value))
def test_a_not_applicable_field_sent_as_null_is_absent(event_type, field):
    assert check(minimum(event_type, **{field: None}))[1] == []


def test_changed_goes_with_original_on_configuration_events_only():
    assert check(minimum(EventType.CUSTOM_CONFIGURATION, original="20", changed="40"))[1] == []
    assert paths(check(minimum(EventType.CUSTOM_INFO, changed="40"))[1]) == ["changed"]


@pytest.mark.parametrize("event_type", list(EventType))
def test_optional_fields_of_every_type(event_type):
    optional = {field: "x" for field, use in FULL_MATRIX[event_type].items() if use == "opt" and field != "customProperties"}
    event = minimum(event_type, customProperties={"team": "ops"}, timeseriesIds=["builtin:host.cpu.usage"], **optional)
    assert check(event)[1] == []


# --- explicit null is absent everywhere ----------------------------------------------------------


def test_the_dt_client_body_with_every_optional_field_null_is_valid():
    body = {
        "eventType": "CUSTOM_INFO", "start": None, "end": None, "timeoutMinutes": None, "source": "dt",
        "annotationType": None, "annotationDescription": None,
        "attachRules": {"entityIds": ["HOST-1"], "tagRule": None}, "description": "d", "title": None,
        "customProperties": None, "allowDavisMerge": None,
    }
    model, violations = check(body)
    assert violations == [] and model.start is None and model.attachRules.tagRule is None


def test_nulls_inside_tags_and_custom_properties_are_absent():
    event = minimum(
        EventType.CUSTOM_INFO,
        attachRules={"entityIds": None, "tagRule": [{"meTypes": ["HOST"], "tags": [{"context": "AWS", "key": "k", "value": None}]}]},
        customProperties={"kept": "yes", "dropped": None},
    )
    model, violations = check(event)
    assert violations == []
    assert model.customProperties == {"kept": "yes"} and model.attachRules.tagRule[0].tags[0].value is None


def test_null_event_type_and_attach_rules_are_required():
    _, violations = check({"eventType": None, "attachRules": None, "source": "s"})
    assert paths(violations) == ["eventType", "attachRules"]


# --- attach rules --------------------------------------------------------------------------------


def tags(*tag_list, me_types=("HOST",)):
    return {"tagRule": [{"meTypes": list(me_types), "tags": list(tag_list)}]}


@pytest.mark.parametrize(
    ("attach_rules", "path", "words"),
    [
        ({}, "attachRules", "at least one entity id"),
        ({"entityIds": [], "tagRule": []}, "attachRules", "at least one entity id"),
        (tags(), "attachRules.tagRule[0].tags", "at least one tag"),
        (tags({"context": "CONTEXTLESS", "key": "a"}, me_types=()), "attachRules.tagRule[0].meTypes", "at least one"),
        (tags({"context": "CONTEXTLESS", "key": "a"}, me_types=("COFFEE",)), "attachRules.tagRule[0].meTypes[0]", "'COFFEE'"),
        (tags({"context": "OFFICE", "key": "a"}), "attachRules.tagRule[0].tags[0].context", "'OFFICE'"),
        (tags({"context": "CONTEXTLESS"}), "attachRules.tagRule[0].tags[0].key", "required"),
        (tags({"context": "CONTEXTLESS", "key": ""}), "attachRules.tagRule[0].tags[0].key", "at least 1"),
        (tags({"context": "CONTEXTLESS", "key": "k" * 2001}), "attachRules.tagRule[0].tags[0].key", "at most 2000"),
        (tags({"key": "a"}), "attachRules.tagRule[0].tags[0].context", "required"),
        ({"tagRule": [{"tags": [{"context": "AWS", "key": "a"}]}]}, "attachRules.tagRule[0].meTypes", "required"),
        ({"entityIds": [""]}, "attachRules.entityIds[0]", "at least 1"),
        ({"entityIds": "HOST-1"}, "attachRules.entityIds", "array"),
    ],
)
def test_bad_attach_rules_are_named(attach_rules, path, words):
    _, violations = check(minimum(EventType.CUSTOM_INFO, attachRules=attach_rules))
    assert paths(violations) == [path]
    assert words in violations[0].message


def test_entity_ids_or_tag_rules_alone_are_enough():
    assert check(minimum(EventType.CUSTOM_INFO, attachRules={"entityIds": ["HOST-1"]}))[1] == []
    assert check(minimum(EventType.CUSTOM_INFO, attachRules=tags({"context": "KUBERNETES", "key": "app", "value": "x"})))[1] == []


# --- timeoutMinutes -------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(PROBLEM_TYPES))
@pytest.mark.parametrize("timeout", [0, 121, -5])
def test_timeout_out_of_range_on_a_problem_type_is_rejected(event_type, timeout):
    _, violations = check(minimum(event_type, timeoutMinutes=timeout))
    assert paths(violations) == ["timeoutMinutes"] and "between 1 and 120" in violations[0].message


@pytest.mark.parametrize("timeout", [1, 15, 120])
def test_timeout_in_range_is_accepted(timeout):
    assert check(minimum(EventType.ERROR_EVENT, timeoutMinutes=timeout))[1] == []


def test_problem_timeout_defaults_to_15_minutes_and_opens_that_long():
    stored = record(minimum(EventType.ERROR_EVENT))
    assert orjson.loads(stored.payload)["timeoutMinutes"] == 15
    assert int(stored.attributes["open_until"]) == NOW_MS + 15 * MINUTE


@pytest.mark.parametrize("timeout", [0, 121, 500])
def test_timeout_on_an_info_type_is_accepted_and_ignored(timeout):
    stored = record(minimum(EventType.CUSTOM_ANNOTATION, timeoutMinutes=timeout))
    assert "timeoutMinutes" not in orjson.loads(stored.payload)


def test_timeout_must_still_be_an_integer_on_an_info_type():
    assert paths(check(minimum(EventType.CUSTOM_INFO, timeoutMinutes="15"))[1]) == ["timeoutMinutes"]


# --- time windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "start", "accepted"),
    [
        (EventType.CUSTOM_INFO, NOW_MS - 30 * DAY, True),
        (EventType.CUSTOM_INFO, NOW_MS - 30 * DAY - 1, False),
        (EventType.CUSTOM_DEPLOYMENT, NOW_MS - 31 * DAY, False),
        (EventType.CUSTOM_INFO, NOW_MS + 7 * DAY, True),
        (EventType.CUSTOM_INFO, NOW_MS + 7 * DAY + 1, False),
        (EventType.ERROR_EVENT, NOW_MS - 60 * MINUTE, True),
        (EventType.ERROR_EVENT, NOW_MS - 61 * MINUTE, False),
        (EventType.AVAILABILITY_EVENT, NOW_MS - 2 * DAY, False),
        (EventType.ERROR_EVENT, NOW_MS + 5 * MINUTE, True),
        (EventType.CUSTOM_ALERT, NOW_MS + 6 * MINUTE, False),
    ],
)
def test_start_windows_are_relative_to_the_time_received(event_type, start, accepted):
    _, violations = check(minimum(event_type, start=start))
    if accepted:
        assert violations == []
    else:
        assert paths(violations) == ["start"]
        assert ("past" in violations[0].message) == (start < NOW_MS)


def test_a_start_31_days_old_names_the_limit():
    _, violations = check(minimum(EventType.CUSTOM_ANNOTATION, start=NOW_MS - 31 * DAY))
    assert paths(violations) == ["start"] and "30 days" in violations[0].message


def test_end_before_start_is_rejected_also_when_start_defaults_to_now():
    _, violations = check(minimum(EventType.CUSTOM_INFO, start=NOW_MS - DAY, end=NOW_MS - DAY - 1))
    assert paths(violations) == ["end"] and "before start" in violations[0].message
    _, violations = check(minimum(EventType.CUSTOM_INFO, end=NOW_MS - 1))
    assert paths(violations) == ["end"] and "time received" in violations[0].message
    assert check(minimum(EventType.CUSTOM_INFO, start=NOW_MS - DAY, end=NOW_MS - DAY))[1] == []


def test_end_far_in_the_future_is_rejected():
    assert paths(check(minimum(EventType.CUSTOM_INFO, end=NOW_MS + 8 * DAY))[1]) == ["end"]


def test_end_on_a_problem_type_is_accepted_and_ignored():
    stored = record(minimum(EventType.ERROR_EVENT, end=NOW_MS - DAY))
    assert "end" not in orjson.loads(stored.payload)


def test_unset_start_and_end_are_the_time_received():
    stored = orjson.loads(record(minimum(EventType.CUSTOM_INFO)).payload)
    assert stored["start"] == stored["end"] == NOW_MS


def test_unset_end_after_a_future_start_is_the_start():
    stored = orjson.loads(record(minimum(EventType.CUSTOM_INFO, start=NOW_MS + DAY)).payload)
    assert stored["start"] == stored["end"] == NOW_MS + DAY


# --- wrong types, all at once --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("start", "yesterday", "integer"),
        ("start", 1.7e12, "integer"),
        ("start", True, "integer"),
        ("end", "now", "integer"),
        ("source", 42, "string"),
        ("description", ["a"], "string"),
        ("customProperties", ["a"], "object"),
        ("timeseriesIds", "cpu", "array"),
        ("allowDavisMerge", "yes", "true or false"),
    ],
)
def test_wrong_types_name_the_field(field, value, words):
    _, violations = check(minimum(EventType.CUSTOM_INFO, **{field: value}) if field != "allowDavisMerge"
                          else minimum(EventType.ERROR_EVENT, **{field: value}))
    assert paths(violations) == [field] and words in violations[0].message


def test_custom_property_values_must_be_strings():
    _, violations = check(minimum(EventType.CUSTOM_INFO, customProperties={"build": 7, "ok": "yes"}))
    assert paths(violations) == ["customProperties.build"] and "'build'" in violations[0].message


def test_unknown_event_type_is_named():
    _, violations = check({"eventType": "CUSTOM_PARTY", "attachRules": {"entityIds": ["H"]}, "source": "s"})
    assert paths(violations) == ["eventType"] and "'CUSTOM_PARTY'" in violations[0].message


def test_every_violation_is_listed_in_one_answer():
    event = minimum(
        EventType.CUSTOM_DEPLOYMENT,
        attachRules=tags(),
        title="n/a here",
        source=None,
        start=NOW_MS - 40 * DAY,
        customProperties={"a": 1},
    )
    del event["deploymentVersion"]
    _, violations = check(event)
    assert set(paths(violations)) == {
        "attachRules.tagRule[0].tags", "source", "customProperties.a", "title", "deploymentVersion", "start"
    }
    assert all(violation.index == 0 for violation in violations)


# --- stored form, dedup key and ids ------------------------------------------------------------------------


def test_a_retried_request_with_explicit_times_has_the_same_key_whenever_it_arrives():
    event = minimum(EventType.CUSTOM_INFO, start=NOW_MS - DAY, end=NOW_MS - DAY)
    first = record(event)
    later = record(event, datetime(2025, 6, 1, 15, 0, tzinfo=UTC))
    assert first.dedup_key == later.dedup_key and first.attributes["event_id"] == later.attributes["event_id"]


def test_without_start_the_same_body_dedups_within_the_minute_received_only():
    event = minimum(EventType.CUSTOM_INFO)
    first = record(event, datetime(2025, 6, 1, 12, 0, 5, tzinfo=UTC))
    retry = record(event, datetime(2025, 6, 1, 12, 0, 55, tzinfo=UTC))
    next_minute = record(event, datetime(2025, 6, 1, 12, 1, 5, tzinfo=UTC))
    assert first.dedup_key == retry.dedup_key != next_minute.dedup_key


def test_null_and_absent_fields_and_key_order_make_the_same_event():
    a = record(minimum(EventType.CUSTOM_INFO, title=None, customProperties={"b": "2", "a": "1"}))
    b = record(dict(reversed(list(minimum(EventType.CUSTOM_INFO, customProperties={"a": "1", "b": "2"}).items()))))
    assert a.dedup_key == b.dedup_key and a.payload == b.payload


def test_event_ids_are_signed_int64_derived_from_tenant_stream_and_key():
    # start and end as sent: the stored payload is then the canonical event the digest covers
    stored = record(minimum(EventType.CUSTOM_INFO, start=NOW_MS - DAY, end=NOW_MS - DAY))
    value = int(stored.attributes["event_id"])
    assert -(2**63) <= value < 2**63
    identity = f"info#{digest(orjson.loads(stored.payload))}"
    assert value == event_id("acme", "CUSTOM_INFO", identity)
    assert value != event_id("other-tenant", "CUSTOM_INFO", identity)
    # its item is keyed by it, so a storedIds value names the item (a consistent read)
    assert stored.dedup_key == info_key(value) == f"info#{value}"


def test_the_problem_key_ignores_start_end_and_timeout_but_not_the_rest():
    base = minimum(EventType.ERROR_EVENT)
    key = record(base).attributes["problem_key"]
    assert record({**base, "start": NOW_MS - 5 * MINUTE, "timeoutMinutes": 60, "end": 1}).attributes["problem_key"] == key
    assert record({**base, "title": "another"}).attributes["problem_key"] != key
    assert record({**base, "eventType": "PERFORMANCE_EVENT"}).attributes["problem_key"] != key


def test_unknown_fields_are_dropped_from_what_is_stored():
    stored = orjson.loads(record(minimum(EventType.CUSTOM_INFO, colour="blue")).payload)
    assert "colour" not in stored


# --- the dialect -------------------------------------------------------------------------------------------


def test_errors_have_the_spec_envelope_shape():
    from ingest.errors import BadRequest, Unauthorized

    body = orjson.loads(FAMILY.render_error(Unauthorized("Missing API key.")).body)
    assert body == {"error": {"code": 401, "message": "Missing API key."}}
    response = FAMILY.render_error(BadRequest("The request body is empty."))
    body = orjson.loads(response.body)
    assert response.status == 400 and body["error"]["code"] == 400
    [violation] = body["error"]["constraintViolations"]
    assert set(violation) == set(SPEC["ConstraintViolation"]["properties"])
    assert violation["parameterLocation"] in SPEC["ConstraintViolation"]["properties"]["parameterLocation"]["enum"]
    assert set(body["error"]) == set(SPEC["Error"]["properties"])


@pytest.mark.parametrize("status", [403, 413, 429, 500, 503])
def test_other_errors_have_the_envelope_without_violations(status):
    from ingest.errors import Forbidden, InternalError, PayloadTooLarge, TooManyRequests, Unavailable

    error = {403: Forbidden("no"), 413: PayloadTooLarge("big"), 429: TooManyRequests("slow", 3),
             500: InternalError("bug"), 503: Unavailable("retry")}[status]
    response = FAMILY.render_error(error)
    assert response.status == status
    assert orjson.loads(response.body) == {"error": {"code": status, "message": error.message}}
