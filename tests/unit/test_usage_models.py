"""Usage family without AWS: the seed-000 rules, error paths, canonical form and dedup key, dialect."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from ingest import catalog
from ingest.auth import Principal
from ingest.catalog import Endpoint, Limits, Route, RouteKind
from ingest.errors import BadRequest, Unauthorized
import ingest.families.usage as usage_package
from ingest.families.usage import ec2 as usage_ec2, family as usage, s3 as usage_s3
from ingest.family import EventOutcome, Outcome, Status
from ingest.request import Request
from ingest.settings import Settings
from ingest.types import Iso8601

SETTINGS = Settings()


def bound(name: str, settings):
    """A catalog route's family object, bound as its Pipeline binds it."""
    endpoint = catalog.get(name)
    return endpoint.impl.bind(endpoint, settings)


S3_SINGLE = bound("usage_s3", SETTINGS)
S3_BATCH = bound("usage_s3_batch", SETTINGS)
EC2_BATCH = bound("usage_ec2_batch", SETTINGS)
TIME = "2024-03-01T12:00:00Z"


def get_object(**fields) -> dict:
    return {"action": "GetObject", "timestamp": TIME, "provider": "aws", "bucket": "b", "objectKey": "k", "bytes": 10,
            **fields}


def request() -> Request:
    return Request.from_apigw({"httpMethod": "POST", "path": "/s3", "requestContext": {"requestId": "r-1"}})


def validate_one(family, event) -> tuple[usage.Accepted | None, list]:
    [accepted], errors = family.validate([event])
    return accepted, [(violation.path, violation.message) for violation in errors.get(0, [])]


def stored(event: dict) -> dict:
    accepted, errors = validate_one(S3_SINGLE, event)
    assert errors == []
    return json.loads(accepted.payload)


# --- timestamps (seed 000: ISO 8601 extended, no zone = UTC, offsets honoured) ----------------------

ISO = TypeAdapter(Iso8601)


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2024-03-01T12:00:00+08:00", "2024-03-01T04:00:00Z"),
        ("2024-03-01T12:00:00-05:30", "2024-03-01T17:30:00Z"),
        ("2024-03-01T12:00:00+0800", "2024-03-01T04:00:00Z"),
        ("2024-03-01T12:00:00+08", "2024-03-01T04:00:00Z"),
        ("2024-03-01T12:00:00", "2024-03-01T12:00:00Z"),  # no zone: UTC
        ("2024-03-01T12:00", "2024-03-01T12:00:00Z"),  # reduced precision
        ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00Z"),
        ("2024-03-01t12:00:00z", "2024-03-01T12:00:00Z"),
        ("2024-03-01T12:00:00.250Z", "2024-03-01T12:00:00.250000Z"),
        ("2024-03-01T12:00:00,25+01:00", "2024-03-01T11:00:00.250000Z"),
        ("2024-03-01T12:00:00.123456789Z", "2024-03-01T12:00:00.123456Z"),  # below a microsecond: truncated
        ("2024-03-01T02:00:00+08:00", "2024-02-29T18:00:00Z"),  # across a (leap) day
    ],
)
def test_timestamps_are_iso8601_and_stored_in_utc(given, utc):
    assert ISO.dump_json(ISO.validate_python(given)).decode() == f'"{utc}"'
    assert stored(get_object(timestamp=given))["timestamp"] == utc


@pytest.mark.parametrize(
    "given",
    ["yesterday", "2024-03-01", "20240301T120000Z", "2024-03-01T12", "2024-02-30T00:00:00Z", "2024-03-01T24:00:00Z",
     "2024-03-01T12:00:00+25:00", "2024-03-01T12:00:00 UTC", "", 1709294400, None, True],
)
def test_bad_timestamps_are_rejected_naming_the_field(given):
    accepted, errors = validate_one(S3_SINGLE, get_object(timestamp=given))
    assert accepted is None
    [(path, message)] = errors
    assert path == "timestamp" and ("ISO 8601" in message or "not a valid date-time" in message)


# --- required, optional, null, unknown ------------------------------------------------------------


def test_missing_required_field_is_rejected_with_its_name():
    event = get_object()
    del event["bytes"]
    assert validate_one(S3_SINGLE, event) == (None, [("bytes", "Field required")])


def test_null_for_a_required_field_is_a_type_error():
    assert validate_one(S3_SINGLE, get_object(bucket=None)) == (None, [("bucket", "Input should be a valid string")])


def test_explicit_null_for_optional_fields_is_the_same_event_as_leaving_them_out():
    plain, _ = validate_one(S3_SINGLE, get_object())
    nulls, _ = validate_one(S3_SINGLE, get_object(versionId=None, customerId=None, featureId=None, clientType=None,
                                                  clientId=None))
    assert plain.payload == nulls.payload
    assert "customerId" not in json.loads(nulls.payload)


def test_unknown_fields_are_dropped_from_the_stored_event():
    event = stored(get_object(unknown_foo="bar", nested={"a": 1}, object_key="snake-case is not the field"))
    assert event == get_object()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bytes", "10", "Input should be a valid integer"),
        ("bytes", True, "Input should be a valid integer"),
        ("bytes", 10.5, "Input should be a valid integer"),
        ("bytes", -1, "Input should be greater than or equal to 0"),
        ("bucket", 5, "Input should be a valid string"),
        ("provider", "gcs", "Input should be 'aws', 'backblaze' or 'wasabi'"),
        ("provider", "AWS", "Input should be 'aws', 'backblaze' or 'wasabi'"),
        ("versionId", 3, "Input should be a valid string"),
    ],
)
def test_wrong_types_are_rejected_not_coerced(field, value, message):
    assert validate_one(S3_SINGLE, get_object(**{field: value})) == (None, [(field, message)])


def test_a_whole_number_float_is_an_integer_as_in_json_schema():
    assert stored(get_object(bytes=10.0)) == stored(get_object(bytes=10))
    assert stored(get_object(bytes=10.0))["bytes"] == 10


def test_strict_booleans():
    event = {"action": "DeleteBucket", "timestamp": TIME, "provider": "wasabi", "bucket": "b"}
    assert stored({**event, "force": False})["force"] is False
    assert validate_one(S3_SINGLE, {**event, "force": "true"}) == (None, [("force", "Input should be a valid boolean")])


def test_part_numbers_start_at_one():
    event = {"action": "UploadPart", "timestamp": TIME, "provider": "backblaze", "bucket": "b", "uploadId": "u",
             "bytes": 0}
    assert stored({**event, "partNumber": 1})["partNumber"] == 1
    assert validate_one(S3_SINGLE, {**event, "partNumber": 0}) == (
        None, [("partNumber", "Input should be greater than or equal to 1")]
    )


# --- actions and paths ------------------------------------------------------------------------------


def test_unknown_action_names_the_action_field_and_the_allowed_ones():
    accepted, [(path, message)] = validate_one(S3_SINGLE, get_object(action="RestoreObject"))
    assert path == "action" and "unknown action 'RestoreObject'" in message
    assert "ListBuckets" in message and "ListMultipartUploads" in message


@pytest.mark.parametrize(
    ("action", "expected"), [(None, "got null"), (7, "got a number"), (["GetObject"], "got an array")]
)
def test_an_action_that_is_not_a_string_says_so(action, expected):
    accepted, [(path, message)] = validate_one(S3_SINGLE, get_object(action=action))
    assert path == "action" and expected in message


def test_missing_action_is_field_required():
    event = get_object()
    del event["action"]
    accepted, [(path, message)] = validate_one(S3_SINGLE, event)
    assert path == "action" and message.startswith("Field required")


def test_batch_paths_carry_the_index_and_never_the_discriminator_tag():
    events = [get_object(), get_object(bucket=None), "not an event",
              {"action": "CopyObject", "timestamp": TIME, "provider": "aws", "bucket": "b", "objectKey": "k",
               "copySource": {"bucket": "src"}},
              {"action": "DeleteObjects", "timestamp": TIME, "provider": "aws", "bucket": "b",
               "deletedObjects": [{"objectKey": "a"}, {"versionId": 1}]}]
    models, errors = S3_BATCH.validate(events)
    assert models[0] is not None and all(model is None for model in models[1:])
    paths = {index: [violation.path for violation in found] for index, found in errors.items()}
    assert paths == {
        1: ["[1].bucket"],
        2: ["[2]"],
        3: ["[3].copySource.objectKey"],
        4: ["[4].deletedObjects[1].objectKey", "[4].deletedObjects[1].versionId"],
    }
    assert errors[2][0].message == "an event must be a JSON object; got a string"
    assert all("GetObject" not in violation.path for found in errors.values() for violation in found)


def test_a_huge_event_is_rejected_before_it_could_break_a_dynamodb_write():
    keys = [{"objectKey": "k" * 1000} for _ in range(300)]
    event = {"action": "DeleteObjects", "timestamp": TIME, "provider": "aws", "bucket": "b", "deletedObjects": keys}
    accepted, [(path, message)] = validate_one(S3_SINGLE, event)
    assert accepted is None and path == "" and f"the limit is {usage.MAX_EVENT_BYTES} bytes" in message


# --- canonical form and dedup key -------------------------------------------------------------------


def dedup_key(event: dict) -> str:
    accepted, errors = validate_one(S3_SINGLE, event)
    assert errors == []
    return S3_SINGLE.record(accepted, request(), Principal("t", "PREFIX01"), "/0").dedup_key


def test_dedup_key_is_the_sha256_of_the_canonical_stored_payload():
    accepted, _ = validate_one(S3_SINGLE, get_object())
    record = S3_SINGLE.record(accepted, request(), Principal("t", "PREFIX01"), "/0")
    assert record.dedup_key == hashlib.sha256(record.payload).hexdigest()
    assert record.stream == "s3" and record.payload == accepted.payload
    assert record.event_time_ms == int(datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp() * 1000)


def test_the_same_event_however_it_is_spelled_has_one_dedup_key():
    reordered = dict(reversed(list(get_object().items())))
    same = [get_object(), reordered, get_object(unknown="x"), get_object(customerId=None),
            get_object(timestamp="2024-03-01T20:00:00+08:00"), get_object(timestamp="2024-03-01T12:00:00"),
            get_object(bytes=10.0)]
    assert len({dedup_key(event) for event in same}) == 1


def test_a_different_event_has_another_dedup_key():
    base = dedup_key(get_object())
    for changed in (get_object(bytes=11), get_object(timestamp="2024-03-01T12:00:01Z"), get_object(customerId="c"),
                    get_object(provider="wasabi"), get_object(action="HeadObject")):
        assert dedup_key(changed) != base


# --- the request body shapes ------------------------------------------------------------------------


def test_single_route_takes_one_object_and_points_arrays_to_the_batch_route():
    assert S3_SINGLE.extract(get_object(), request(), Limits()) == [get_object()]
    for body in ([get_object()], "x", 3, None):
        with pytest.raises(BadRequest, match="must be one JSON object .* /s3/batch"):
            S3_SINGLE.extract(body, request(), Limits())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (get_object(), "must be a JSON array of S3 usage events; got an object"),
        ("[]", "got a string"),
        ([], "carries no events"),
        ([get_object()] * 4, "carries 4 events; the limit is 3 events per request"),
    ],
)
def test_batch_route_takes_an_array_within_the_limit(body, message):
    with pytest.raises(BadRequest, match=message):
        S3_BATCH.extract(body, request(), Limits(max_events=3))


def test_the_batch_limit_defaults_to_1000_and_is_configurable():
    assert catalog.get("usage_s3_batch").limits.max_events == catalog.get("usage_ec2_batch").limits.max_events == 1_000
    settings = Settings(limits={"usage_s3_batch": {"max_events": 250}})
    configured = bound("usage_s3_batch_size", settings)
    assert configured.answer(request(), Principal("t", "PREFIX01")).body == b"250"
    default = bound("usage_s3_batch_size", SETTINGS)
    response = default.answer(request(), Principal("t", "PREFIX01"))
    assert (response.status, response.body, response.content_type) == (200, b"1000", "text/plain; charset=utf-8")


def test_routes_bind_to_their_role_and_a_foreign_route_fails_at_cold_start():
    roles = {endpoint.name: importlib_family(endpoint).bind(endpoint, SETTINGS).role
             for endpoint in catalog.ENDPOINTS
             if endpoint.family == "usage" and endpoint.kind != "read" and not endpoint.telemetry_stream}
    assert roles == {"usage_s3": "single", "usage_s3_batch": "batch", "usage_s3_batch_size": "batch_size",
                     "usage_ec2": "single", "usage_ec2_batch": "batch", "usage_ec2_batch_size": "batch_size",
                     "usage_ping": "ping"}
    # A service's family object declared on an ingest route without its role (single or batch).
    stray = Route("x", "POST", "/s3/other", RouteKind.INGEST, impl=usage.UsageFamily(usage_package.S3))
    with pytest.raises(ValueError, match="needs a service and the role"):
        stray.impl.bind(stray, SETTINGS)


def importlib_family(endpoint: Endpoint):
    return endpoint.impl


# --- EC2 --------------------------------------------------------------------------------------------


def ec2(action: str, **fields) -> dict:
    return {"action": action, "timestamp": TIME, "provider": "aws", "instanceId": "i-1", "region": "eu-west-1",
            **fields}


def test_ec2_event_types_and_their_required_fields():
    events = [
        ec2("InstanceStarted", instanceType="c7g.xlarge"),
        ec2("InstanceStopped"),
        ec2("InstanceUsage", instanceType="c7g.xlarge", vcpus=4, memoryMib=8192, durationSeconds=60),
    ]
    models, errors = EC2_BATCH.validate(events)
    assert errors == {} and all(models)
    assert json.loads(models[2].payload)["durationSeconds"] == 60.0
    missing = {key: value for key, value in events[2].items() if key not in ("vcpus", "region")}
    _, errors = EC2_BATCH.validate([missing])
    assert sorted(violation.path for violation in errors[0]) == ["[0].region", "[0].vcpus"]


@pytest.mark.parametrize(
    ("fields", "path"),
    [({"durationSeconds": 0}, "[0].durationSeconds"), ({"durationSeconds": "60"}, "[0].durationSeconds"),
     ({"vcpus": 0}, "[0].vcpus"), ({"memoryMib": 1.5}, "[0].memoryMib"),
     ({"purchaseOption": "free"}, "[0].purchaseOption"),
     ({"provider": "azure"}, "[0].provider")],
)
def test_ec2_usage_values_are_checked(fields, path):
    event = {**ec2("InstanceUsage", instanceType="t4g.nano", vcpus=2, memoryMib=512, durationSeconds=30), **fields}
    _, errors = EC2_BATCH.validate([event])
    assert [violation.path for violation in errors[0]] == [path]


def test_ec2_duration_3600_and_3600_0_are_one_event():
    one = ec2("InstanceUsage", instanceType="t4g.nano", vcpus=2, memoryMib=512, durationSeconds=3600)
    [a, b], _ = EC2_BATCH.validate([one, {**one, "durationSeconds": 3600.0}])
    assert a.payload == b.payload


def test_ec2_types_are_documented_for_the_openapi_document():
    schema = TypeAdapter(usage_package.EC2.event).json_schema()
    for name in ("Ec2InstanceStarted", "Ec2InstanceStopped", "Ec2InstanceUsage"):
        definition = schema["$defs"][name]
        assert definition.get("description")
        assert all(prop.get("description") for key, prop in definition["properties"].items() if key != "action"), name


# --- the dialect ------------------------------------------------------------------------------------


def outcome_of(*events: EventOutcome) -> Outcome:
    return Outcome(request(), Principal("t", "PREFIX01"), list(events))


def test_single_route_answers_exactly_200_for_stored_and_duplicate():
    for status in (Status.STORED, Status.DUPLICATE):
        response = S3_SINGLE.render(outcome_of(EventOutcome(0, status)))
        assert response.status == 200
        assert json.loads(response.body)["message"].startswith("Event processed successfully")


def test_single_route_rejection_is_400_naming_the_field():
    _, errors = S3_SINGLE.validate([get_object(bytes="x")])
    response = S3_SINGLE.render(outcome_of(EventOutcome(0, Status.REJECTED, tuple(errors[0]))))
    body = json.loads(response.body)
    assert response.status == 400
    assert "bytes: Input should be a valid integer" in body["message"]
    assert body["errors"] == [{"path": "bytes", "message": "Input should be a valid integer"}]


def test_batch_route_lists_every_event_outcome():
    _, errors = S3_BATCH.validate([get_object(), get_object(bucket=1)])
    response = S3_BATCH.render(
        outcome_of(EventOutcome(0, Status.STORED), EventOutcome(1, Status.REJECTED, tuple(errors[1])),
                   EventOutcome(2, Status.DUPLICATE))
    )
    body = json.loads(response.body)
    assert response.status == 200
    assert (body["stored"], body["duplicates"], body["rejected"]) == (1, 1, 1)
    assert body["events"] == [
        {"index": 0, "status": "stored"},
        {"index": 1, "status": "rejected",
         "errors": [{"path": "[1].bucket", "message": "Input should be a valid string"}]},
        {"index": 2, "status": "duplicate"},
    ]


def test_errors_render_as_message_in_the_dialect():
    response = S3_BATCH.render_error(Unauthorized("Invalid API key."))
    assert (response.status, json.loads(response.body)) == (401, {"message": "Invalid API key."})


def test_ping_answers_pong():
    ping = bound("usage_ping", SETTINGS)
    response = ping.answer(request(), Principal("t", "PREFIX01"))
    assert (response.status, json.loads(response.body)) == (200, {"message": "pong"})


def test_openapi_request_bodies_are_the_validating_models():
    single = catalog.get("usage_s3").impl.openapi_request(catalog.get("usage_s3"))
    batch = TypeAdapter(catalog.get("usage_s3_batch").impl.openapi_request(catalog.get("usage_s3_batch"))).json_schema()
    assert single is usage_s3.S3Event
    assert batch["type"] == "array" and batch["minItems"] == 1 and batch["maxItems"] == 1_000
    assert catalog.get("usage_ping").impl.openapi_request(catalog.get("usage_ping")) is None
    with pytest.raises(ValidationError):
        TypeAdapter(single).validate_python(get_object(action="Nope"))



def test_the_openapi_document_describes_every_usage_route_in_plain_json_schema():
    from ingest.openapi import build_document

    document = build_document()
    assert document["paths"]["/s3"]["post"]["operationId"] == "receiveS3Event"
    for path in ("/ping", "/s3/recommendedBatchSize", "/ec2/recommendedBatchSize"):
        operation = document["paths"][path]["get"]
        assert "requestBody" not in operation and set(operation["responses"]) >= {"200", "401"}
    size = document["paths"]["/s3/recommendedBatchSize"]["get"]["responses"]["200"]["content"]
    assert size == {"text/plain": {"schema": {"type": "integer"}}}
    ec2 = document["paths"]["/ec2"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert ec2["discriminator"]["propertyName"] == "action" and len(ec2["oneOf"]) == 3
    usage_schemas = {name: schema for name, schema in document["components"]["schemas"].items()
                     if name.startswith(("S3", "Ec2", "Usage"))}
    text = json.dumps(usage_schemas)
    for pydantic_only in ('"ge"', '"gt"', '"le"', '"lt"'):
        assert pydantic_only not in text
    assert usage_schemas["S3UploadPart"]["properties"]["partNumber"]["minimum"] == 1


@pytest.mark.parametrize("wide", [2**64 + 1, -(2**64) - 1, 2**70 + 1])
def test_an_integer_beyond_64_bits_is_a_400_never_a_rounded_count(wide):
    # issue 11: orjson turns it into a double; it was acknowledged and stored rounded
    import orjson

    [event] = orjson.loads(f'[{{"action": "GetObject", "timestamp": "{TIME}", "provider": "aws", "bucket": "b", '
                           f'"objectKey": "k", "bytes": {wide}}}]')
    accepted, errors = validate_one(S3_SINGLE, event)
    assert accepted is None and [path for path, _ in errors] == ["bytes"]
    assert "at most 64 bits" in errors[0][1]
    # An integer that fits 64 bits is stored digit for digit
    exact, errors = validate_one(S3_SINGLE, {**event, "bytes": 2**64 - 1})
    assert errors == [] and json.loads(exact.payload)["bytes"] == 2**64 - 1
