"""Log events family: dataset names, per-event checks, dedup keys, event times, the dialect, limits."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import orjson
import pytest

from ingest import catalog
from ingest.auth import Principal
from ingest.errors import BadRequest, Forbidden, InternalError, MethodNotAllowed, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable
from ingest.family import EventOutcome, Outcome, Status
from ingest.families.logs.family import FAMILY, MAX_EVENT_BYTES, checked_dataset, dedup_key, epoch_ms, event_time
from ingest.request import Request, check_wire_size
from local import apigw

ENDPOINT = catalog.get("logs_events")
PRINCIPAL = Principal(tenant="t", key_prefix="ABCDEFGH")


def request(dataset: str | None = "logs", headers: dict | None = None, method: str = "POST") -> Request:
    return Request.from_apigw(
        {
            "httpMethod": method,
            "path": f"/v1/{dataset}",
            "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
            "pathParameters": {"dataset": dataset} if dataset is not None else None,
            "body": None,
            "requestContext": {"requestId": "r-1"},
        },
        now=datetime(2024, 3, 10, 23, 0, tzinfo=UTC),
    )


def events_of(document: list) -> tuple[list, dict]:
    return FAMILY.validate(FAMILY.extract(document, request(), ENDPOINT.limits))


def event_of_size(size: int) -> dict:
    event = {"message": ""}
    event["message"] = "é" * ((size - len(orjson.dumps(event))) // 2)
    event["message"] += "a" * (size - len(orjson.dumps(event)))
    assert len(orjson.dumps(event)) == size
    return event


# --- datasets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["logs", "edge-logger", "my_dataset.v2", "A", "0", "d" * 128, "a.b.c"])
def test_dataset_names_in_the_allow_list(name):
    assert checked_dataset(name) == name


@pytest.mark.parametrize(
    "name",
    [
        None, "", ".", "..", "../etc", "a..b", "logs/../other", "logs/x", "logs\\x", "%2F", "logs%2Fx", ".hidden",
        "-dash", "_under", "logs#tenant", "lоgs",  # Cyrillic о
        "ｌｏｇｓ",  # fullwidth
        "logs\u200b", "logs\n", "logs ", " logs", "d" * 129, "logs\x00", "logs:x", "logs*",
    ],
)
def test_dataset_names_outside_the_allow_list_are_400_before_use(name):
    with pytest.raises(BadRequest, match="Invalid dataset"):
        checked_dataset(name)
    with pytest.raises(BadRequest, match="Invalid dataset"):
        FAMILY.parse(b'[{"message": "x"}]', request(name))


def test_a_look_alike_letter_is_shown_escaped_in_the_reason():
    with pytest.raises(BadRequest) as caught:
        checked_dataset("lоgs")
    assert "l\\u043egs" in caught.value.message


# --- per-event checks ---------------------------------------------------------------------------


def test_an_event_of_exactly_256_kib_is_valid_and_one_byte_more_is_not():
    exact, over = event_of_size(MAX_EVENT_BYTES), event_of_size(MAX_EVENT_BYTES + 1)
    models, errors = events_of([exact, over])
    assert models[0].payload == orjson.dumps(exact) and len(models[0].payload) == 262_144
    assert models[1] is None
    assert errors[1][0].message == (
        "The event is 262,145 bytes as compact JSON; the limit is 262,144 bytes (256 KiB) per event."
    )


def test_size_counts_compact_utf8_not_characters_or_whitespace():
    event = event_of_size(MAX_EVENT_BYTES)
    pretty = json.dumps([event], indent=8, ensure_ascii=True).encode()  # \u00e9 escapes and indentation
    assert len(pretty) > MAX_EVENT_BYTES + 1000
    models, errors = FAMILY.validate(FAMILY.extract(FAMILY.parse(pretty, request()), request(), ENDPOINT.limits))
    assert not errors and len(models[0].payload) == MAX_EVENT_BYTES


@pytest.mark.parametrize(
    ("value", "kind"), [("x", "a string"), (1, "a number"), (1.5, "a number"), (None, "null"), (True, "a boolean"),
                        ([{"a": 1}], "an array")]
)
def test_every_element_that_is_not_an_object_is_rejected_by_index(value, kind):
    models, errors = events_of([{"ok": 1}, value])
    assert models[0] is not None and models[1] is None
    assert errors == {1: [errors[1][0]]} and errors[1][0].message == f"The event must be a JSON object; it is {kind}."
    assert errors[1][0].index == 1 and errors[1][0].path == "[1]"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"message": "x"}, "must be a JSON array of event objects; it is an object"),
        ("text", "it is a string"),
        ([], "carries no events"),
        ([{}] * 5001, "5001 events; the limit is 5000"),
    ],
)
def test_bodies_that_are_not_an_array_of_events_fail_as_a_whole(document, message):
    with pytest.raises(BadRequest, match=message):
        FAMILY.extract(document, request(), ENDPOINT.limits)


def test_an_event_too_deep_to_serialize_fails_the_request_not_the_process():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(BadRequest, match="Event 1 nests arrays and objects deeper than 254 levels"):
        FAMILY.extract([{"ok": 1}, {"deep": deep}], request(), ENDPOINT.limits)
    with pytest.raises(BadRequest, match="Event 0 nests"):
        FAMILY.extract([deep], request(), ENDPOINT.limits)  # not even an object: still no crash


def test_254_levels_inside_an_event_are_stored():
    body = b"[" + b'{"a":' * 254 + b"1" + b"}" * 254 + b"]"
    models, errors = FAMILY.validate(FAMILY.extract(FAMILY.parse(body, request()), request(), ENDPOINT.limits))
    assert not errors and models[0].payload == body[1:-1]


# --- dedup keys ---------------------------------------------------------------------------------


def test_an_id_is_the_dedup_key():
    assert dedup_key({"id": "evt-1", "message": "a"}) == dedup_key({"id": "evt-1", "message": "b"}) == "id:evt-1"
    assert dedup_key({"id": 42, "requestId": "r"}) == "id:int:42"


def test_an_integer_id_and_the_same_digits_as_a_string_are_two_events():
    # issue 11: {"id": 5} and {"id": "5"} shared one dedup key, so the second was dropped as a duplicate
    assert dedup_key({"id": 5}) != dedup_key({"id": "5"})
    assert dedup_key({"id": "5"}) == "id:5" and dedup_key({"id": 5}) == "id:int:5"
    assert dedup_key({"id": True}).startswith("sha256:")  # a boolean is no id: the event's hash keys it
    assert dedup_key({"id": 2**70 + 1}) == f"id:int:{2**70 + 1}"


def test_a_string_id_spelled_like_a_typed_integer_is_not_that_integer():
    # found writing the dedup-key properties (test_properties.py): {"id": "int:5"} had {"id": 5}'s key "id:int:5"
    assert dedup_key({"id": "int:5"}) == "id-text:int:5" != dedup_key({"id": 5})
    long_digits = "9" * 600  # both hashed past 512 bytes: they hashed the same text
    assert dedup_key({"id": "int:" + long_digits}).startswith("id-text-sha256:")
    assert dedup_key({"id": "int:" + long_digits}) != dedup_key({"id": int(long_digits)})


def test_lines_of_one_request_are_distinct_and_a_retried_line_is_not():
    first = {"message": "one", "requestId": "6092d6f0"}
    second = {"message": "two", "requestId": "6092d6f0"}
    assert dedup_key(first) != dedup_key(second)
    assert dedup_key(first).startswith("requestId:6092d6f0#sha256:")
    assert dedup_key({"requestId": "6092d6f0", "message": "one"}) == dedup_key(first)  # key order is not identity


def test_events_without_ids_are_keyed_on_their_canonical_content():
    assert dedup_key({"b": 1, "a": {"y": 2, "x": 1}}) == dedup_key({"a": {"x": 1, "y": 2}, "b": 1})
    assert dedup_key({"a": 1}) != dedup_key({"a": 2}) and dedup_key({"a": 1}).startswith("sha256:")


@pytest.mark.parametrize("unusable", ["", None, True, 1.5, {"x": 1}, [1]])
def test_ids_that_are_not_strings_or_integers_fall_back_to_the_next_rule(unusable):
    assert dedup_key({"id": unusable, "requestId": "r"}).startswith("requestId:r#sha256:")
    assert dedup_key({"id": unusable}).startswith("sha256:")


def test_a_long_id_is_hashed_to_fit_the_sort_key():
    key = dedup_key({"id": "x" * 10_000})
    assert key.startswith("id-sha256:") and len(key.encode()) < 1024
    assert dedup_key({"id": "x" * 10_000}) != dedup_key({"id": "x" * 10_001})


# --- event time and the stored record -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1_700_000_000, 1_700_000_000_000),  # seconds
        (1_700_000_000.5, 1_700_000_000_500),
        (1_700_000_000_123, 1_700_000_000_123),  # milliseconds (the edge logger)
        (1_700_000_000_123_456, 1_700_000_000_123),  # microseconds
        (1_700_000_000_123_456_789, 1_700_000_000_123),  # nanoseconds
        ("2024-03-10T23:00:00Z", 1_710_111_600_000),
        ("2024-03-10T23:00:00.250+01:00", 1_710_108_000_250),
        ("2024-03-10T23:00:00", 1_710_111_600_000),  # no zone: UTC
        ("yesterday", None), (True, None), (None, None), ({"t": 1}, None), (1e300, None), ("", None),
    ],
)
def test_event_times_from_numbers_and_iso_strings(value, ms):
    assert epoch_ms(value) == ms


def test_the_first_usable_time_field_wins():
    assert event_time({"time": "2024-03-10T23:00:00Z", "timestamp": "garbage"}) == (1_710_111_600_000, "time")
    assert event_time({"@timestamp": 1_700_000_000, "time": 1}) == (1_700_000_000_000, "@timestamp")
    assert event_time({"message": "no time"}) is None


def test_record_keeps_the_payload_exact_and_the_headers_as_attributes():
    body = b'[{"message": "x", "timestamp": 1700000000000, "n": 123456789012345678901234, "t": "\\u00e9\xf0\x9f\x9a\x80"}]'
    headers = {"X-Service": "checkout", "x-namespace": "https://api.domain.com/resource/{id}"}
    events = FAMILY.extract(FAMILY.parse(body, request()), request(), ENDPOINT.limits)
    models, _ = FAMILY.validate(events)
    record = FAMILY.record(models[0], request("my-logs", headers), PRINCIPAL, "/0")
    assert record.stream == "my-logs"
    assert record.payload == '{"message":"x","timestamp":1700000000000,"n":123456789012345678901234,"t":"é🚀"}'.encode()
    assert record.event_time_ms == 1_700_000_000_000
    assert record.attributes == {
        "service": "checkout", "namespace": "https://api.domain.com/resource/{id}", "event_time_source": "timestamp"
    }


@pytest.mark.parametrize("unset", ["undefined", "null", "", "  "])
def test_unset_service_and_namespace_as_a_real_client_sends_them_are_absent(unset):
    models, _ = events_of([{"message": "x"}])
    record = FAMILY.record(models[0], request("logs", {"x-service": unset, "x-namespace": unset}), PRINCIPAL, "/0")
    assert record.attributes == {"event_time_source": "received_at"}
    assert record.event_time_ms == int(datetime(2024, 3, 10, 23, 0, tzinfo=UTC).timestamp() * 1000)


# --- the dialect (seed 003's tables) ------------------------------------------------------------


def outcome(*statuses: Status) -> Outcome:
    events = [
        EventOutcome(i, status, (FAMILY.validate([1])[1][0][0],) if status is Status.REJECTED else ())
        for i, status in enumerate(statuses)
    ]
    return Outcome(request(), PRINCIPAL, events)


def body_of(response) -> dict:
    return orjson.loads(response.body)


def test_all_stored_or_duplicate_is_202_request_accepted():
    response = FAMILY.render(outcome(Status.STORED, Status.DUPLICATE))
    assert (response.status, body_of(response)) == (202, {"message": "Request Accepted"})


def test_any_rejected_is_400_listing_exactly_the_rejected():
    response = FAMILY.render(outcome(Status.STORED, Status.REJECTED, Status.STORED, Status.REJECTED))
    assert response.status == 400
    body = body_of(response)
    assert body["message"] == "Bad Request" and set(body) == {"message", "invalid"}
    assert [entry["index"] for entry in body["invalid"]] == [1, 3]
    assert all(set(entry) == {"index", "reason"} and "JSON object" in entry["reason"] for entry in body["invalid"])


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (Unauthorized("Invalid API key."), 401, {"message": "Unauthorised"}),
        (MethodNotAllowed("GET is not allowed", ("POST",)), 405, {"message": "Method Not Allowed"}),
        (InternalError("bug"), 500, {"message": "Internal Error"}),
        (Unavailable("retry"), 503, {"message": "Service Unavailable"}),
        (BadRequest("The request body is empty."), 400, {"message": "Bad Request", "reason": "The request body is empty."}),
        (PayloadTooLarge("too big"), 413, {"message": "Payload Too Large", "reason": "too big"}),
        (Forbidden("not this dataset"), 403, {"message": "Forbidden", "reason": "not this dataset"}),
        (TooManyRequests("slow down", 30), 429, {"message": "Too Many Requests", "reason": "slow down"}),
    ],
)
def test_errors_in_the_dialect(error, status, body):
    response = FAMILY.render_error(error)
    assert (response.status, body_of(response)) == (status, body)
    if status == 405:
        assert response.headers == {"Allow": "POST"}


# --- routes and limits --------------------------------------------------------------------------


def test_other_methods_on_the_dataset_path_reach_the_same_function_for_a_405():
    assert catalog.refused_routes() >= {(method, "/v1/{dataset}") for method in ("GET", "PUT", "PATCH", "DELETE")}
    assert not catalog.refused_routes() & catalog.routes()
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        endpoint, params = apigw.match(method, "/v1/logs")
        assert endpoint is ENDPOINT and params == {"dataset": "logs"}
    assert apigw.match("HEAD", "/v1/logs") is None


def test_path_parameters_arrive_decoded_as_api_gateway_sends_them():
    assert apigw.match("POST", "/v1/logs%2F..%2Fother")[1] == {"dataset": "logs/../other"}
    assert apigw.match("POST", "/v1/l%D0%BEgs")[1] == {"dataset": "lоgs"}
    # One segment more is the namespace form, its segment decoded the same way.
    assert apigw.match("POST", "/v1/logs/a%2Fb")[1] == {"dataset": "logs", "namespace": "a/b"}
    assert apigw.match("POST", "/v1/logs/a/b") is None


# Lambda refuses a synchronous invocation whose payload (the whole event JSON) is over 6 MB; the
# API sends bodies base64-encoded (binary media types */*), so the body grows by 4/3.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
# What API Gateway lets through besides the body: request line and headers together up to 10,240
# bytes (REST API quota), and every header appears twice in the event (headers, multiValueHeaders).
HEADER_QUOTA = 10_240
# Fields a deployed event carries that the local one does not (requestContext identity, domain...).
DEPLOYED_EVENT_EXTRA = 8 * 1024


def worst_case_event(body_bytes: int) -> dict:
    """The largest event for a body: header values that escape worst (6 bytes each in the JSON)."""
    value = "\u0080" * 1_000
    headers = [(f"X-Pad-{i}", value) for i in range((HEADER_QUOTA - 200) // (len(value) + 10))]
    headers.append(("x-api-key", "SAMPLE01." + "A" * 48))
    path = "/v1/" + "d" * 128 + "?" + "q=" + "%22" * 20
    return apigw.to_event(ENDPOINT, {"dataset": "d" * 128}, "POST", path, headers, b"\xff" * body_bytes, "203.0.113.10")


def test_the_largest_accepted_body_fits_lambdas_payload_limit_in_the_worst_case():
    limits = ENDPOINT.limits
    event_size = len(json.dumps(worst_case_event(limits.wire_cap)).encode()) + DEPLOYED_EVENT_EXTRA
    assert event_size <= 6_000_000 < LAMBDA_PAYLOAD_LIMIT  # even if "6 MB" meant 6,000,000 bytes
    overhead = event_size - len(base64.b64encode(b"\xff" * limits.wire_cap))
    ceiling = (LAMBDA_PAYLOAD_LIMIT - overhead) * 3 // 4  # the real ceiling, measured
    assert limits.wire_cap < ceiling < limits.max_body_bytes
    check_wire_size(Request.from_apigw(worst_case_event(limits.wire_cap)), limits)
    with pytest.raises(PayloadTooLarge, match="4194305 bytes; the limit is 4194304 bytes"):
        check_wire_size(Request.from_apigw(worst_case_event(limits.wire_cap + 1)), limits)


def test_the_seed_sample_body_is_what_the_shell_hands_curl_for_seed_003():
    import re
    import subprocess

    from events.make_logs import SEED_CURL_BODY
    from tests.conftest import REFERENCE

    [page] = REFERENCE.glob("003_*.txt")
    command = re.search(r"```bash[^\n]*\n(curl .*?)\n```", page.read_text(), re.DOTALL).group(1)
    data_argument = command.split(" -d ", 1)[1]  # the rest of the line, in the page's own quoting
    result = subprocess.run(["bash", "-c", f"printf %s {data_argument}"], capture_output=True, check=True, timeout=30)
    assert result.stdout == SEED_CURL_BODY


def test_x_service_and_x_namespace_are_bounded_so_a_huge_header_is_a_400():
    # issue 11: an unbounded header became an item attribute DynamoDB refuses (a 500)
    from ingest.errors import BadRequest
    from ingest.families.logs.family import FAMILY, MAX_HEADER_VALUE_BYTES

    def request(value: str) -> Request:
        return Request("r", "POST", "/v1/app", {"x-service": [value]}, {"dataset": "app"}, {}, b"[]",
                       datetime.now(UTC))

    assert FAMILY.parse(b'[{"a": 1}]', request("s" * MAX_HEADER_VALUE_BYTES)) == [{"a": 1}]
    with pytest.raises(BadRequest, match="x-service header is 257 bytes"):
        FAMILY.parse(b'[{"a": 1}]', request("s" * (MAX_HEADER_VALUE_BYTES + 1)))


def test_the_namespace_events_is_the_read_routes_parent_resource_so_it_is_no_namespace():
    # API Gateway resolves /v1/<dataset>/events to the literal resource the read route hangs under
    # (it has no POST): the deployed API answers 403 there, and the local server does the same.
    assert apigw.match("POST", "/v1/logs/events") is None
    assert apigw.match("POST", "/v1/logs/event")[1] == {"dataset": "logs", "namespace": "event"}
    assert apigw.match("GET", "/v1/logs/events/abc")[0].name == "read_logs_event"
