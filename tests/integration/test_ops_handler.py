"""Ops events endpoint: handler + pipeline + a real moto server (DynamoDB, S3).

Time-dependent behaviour (problem timeouts, windows) runs through a Pipeline whose clock the test
sets: the request's received time is the only "now" the family uses.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.store import Store
from local.context import LocalContext
from tests.conftest import EVENTS, REFERENCE, load_event, partition_items, payload, reject_keys

ENDPOINT = "ops_events"
T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def error_event(**fields) -> dict:
    return {
        "eventType": "ERROR_EVENT",
        "attachRules": {"entityIds": [f"SERVICE-{uuid.uuid4().hex[:16].upper()}"]},
        "source": "integration test",
        "title": "Error rate up",
        "description": "5xx above 2%",
        **fields,
    }


def info_event(**fields) -> dict:
    return {
        "eventType": "CUSTOM_INFO",
        "attachRules": {"entityIds": [f"HOST-{uuid.uuid4().hex[:16].upper()}"]},
        "source": "integration test",
        "description": "nightly batch finished",
        **fields,
    }


def query(store: Store, pk: str) -> list[dict]:
    return partition_items(store.dynamodb, pk, store.settings.events_table)


@pytest.fixture
def send(settings, store, http_event, new_key):
    """POST one body as a fresh tenant; `at` sets the time the request is received."""
    key, tenant = new_key()

    def post(body: dict | bytes, at: datetime | None = None, scheme: str = "Api-Token"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"{scheme} {key}", "Content-Type": "application/json"}
        event = http_event(ENDPOINT, raw, headers)
        clock = (lambda: at) if at else None
        pipeline = Pipeline(catalog.get(ENDPOINT), settings, store, clock=clock)
        response = pipeline.handle(event, LocalContext(ENDPOINT, event["requestContext"]["requestId"]))
        return response["statusCode"], response["headers"], json.loads(response["body"])

    post.tenant = tenant
    return post


# --- the samples and the seed example ------------------------------------------------------------


def expected_status(sample: str) -> int:
    if sample.startswith("valid_"):
        return 200
    if sample in ("missing_token", "wrong_token", "wrong_scheme"):
        return 401
    return 413 if sample == "too_large" else 400


@pytest.mark.parametrize("sample", sorted(p.stem for p in (EVENTS / ENDPOINT).glob("*.json")))
def test_every_sample_event_gets_its_documented_answer(invoke, sample):
    status, headers, body = invoke(ENDPOINT, load_event(ENDPOINT, sample))
    assert status == expected_status(sample), body
    assert headers["X-Request-Id"]
    if status == 200:
        assert list(body) == ["storedEventIds", "storedIds", "storedCorrelationIds"]
        assert len(body["storedEventIds"]) + len(body["storedCorrelationIds"]) == 1
    else:
        assert list(body) == ["error"] and body["error"]["code"] == status and body["error"]["message"]
    if status == 400:
        violations = body["error"]["constraintViolations"]
        assert violations and all(v["parameterLocation"] == "PAYLOAD_BODY" for v in violations)


REJECTION_PATHS = {
    "invalid_unknown_event_type": {"eventType"},
    "invalid_no_attach_rule": {"attachRules"},
    "invalid_attach_rules_missing": {"attachRules"},
    "invalid_empty_tag_list": {"attachRules.tagRule[0].tags"},
    "invalid_unknown_me_type": {"attachRules.tagRule[0].meTypes[0]"},
    "invalid_unknown_tag_context": {"attachRules.tagRule[0].tags[0].context"},
    "invalid_tag_without_key": {"attachRules.tagRule[0].tags[0].key"},
    "invalid_timeout_zero_on_problem": {"timeoutMinutes"},
    "invalid_timeout_121_on_problem": {"timeoutMinutes"},
    "invalid_start_over_30_days_old": {"start"},
    "invalid_problem_start_over_60_minutes_old": {"start"},
    "invalid_start_far_future": {"start"},
    "invalid_end_before_start": {"end"},
    "invalid_wrong_types": {"source", "start", "attachRules.entityIds", "customProperties.build", "timeseriesIds"},
    "invalid_missing_required_field": {"deploymentVersion"},
    "invalid_missing_source": {"source"},
    "invalid_not_applicable_field": {"title"},
}


@pytest.mark.parametrize("sample", sorted(REJECTION_PATHS))
def test_each_rejection_sample_names_exactly_its_fields(invoke, sample):
    status, _, body = invoke(ENDPOINT, load_event(ENDPOINT, sample))
    assert status == 400
    assert {v["path"] for v in body["error"]["constraintViolations"]} == REJECTION_PATHS[sample]


def test_every_rejection_reason_has_a_sample():
    names = {p.stem for p in (EVENTS / ENDPOINT).glob("invalid_*.json")}
    assert names == set(REJECTION_PATHS)


def test_the_seed_example_unchanged_is_stored_with_one_id_and_reads_back(send, store):
    seed = next(REFERENCE.glob("004_*.txt")).read_text()
    body = seed.split("Download\n", 1)[1].split("\n\nResponse body", 1)[0].encode()
    status, _, answer = send(body, at=T0, scheme="Api-token")  # the scheme as the seed's curl spells it
    assert status == 200
    [event_id] = answer["storedEventIds"]
    assert answer["storedIds"] == [f"{event_id}_{ms(T0)}"] and answer["storedCorrelationIds"] == []
    [item] = query(store, f"{send.tenant}#ops#CUSTOM_ANNOTATION")
    assert item["event_id"]["S"] == str(event_id) and item["kind"]["S"] == "info"
    assert int(item["event_time"]["N"]) == ms(T0)
    stored = payload(item)
    assert stored["annotationDescription"] == "coffee machine is defective"
    assert stored["start"] == stored["end"] == ms(T0)
    assert "timeoutMinutes" not in stored  # not applicable to an annotation: accepted and ignored
    # kept for the retention from when it was stored (now), not from the request's received time (T0)
    retention = store.settings.retention_seconds("ops")
    assert abs(int(item["expires_at"]["N"]) - (int(time.time()) + retention)) <= 60


# --- information-only events: dedup and ids --------------------------------------------------------


def test_a_retried_request_is_stored_once_and_answered_with_the_same_ids(send, store):
    body = info_event(start=ms(T0) - 3_600_000, end=ms(T0) - 1_800_000)
    first = send(body, at=T0)
    again = send(body, at=T0 + timedelta(hours=2))
    assert first[0] == again[0] == 200 and first[2] == again[2]
    assert len(query(store, f"{send.tenant}#ops#CUSTOM_INFO")) == 1


def test_a_retry_without_start_in_the_same_minute_gets_the_first_events_ids(send, store):
    body = info_event()
    _, _, first = send(body, at=T0 + timedelta(seconds=3))
    _, _, retry = send(body, at=T0 + timedelta(seconds=40))
    _, _, later = send(body, at=T0 + timedelta(minutes=1, seconds=3))
    assert retry == first  # the stored start (3 s), not the retry's own receive time
    assert first["storedIds"] == [f"{first['storedEventIds'][0]}_{ms(T0) + 3000}"]
    assert later["storedEventIds"] != first["storedEventIds"]
    assert len(query(store, f"{send.tenant}#ops#CUSTOM_INFO")) == 2


def test_a_duplicate_gets_the_stored_start_from_its_own_write_without_a_read(send, store, monkeypatch):
    """Issue 14: the failed keep-first put returns the stored item (ALL_OLD on condition failure), so
    no BatchGetItem follows it (moto returns the item, as DynamoDB does)."""
    body = info_event()
    _, _, first = send(body, at=T0 + timedelta(seconds=3))
    reads = []
    monkeypatch.setattr(Store, "event_times", lambda self, keys, deadline: reads.append(keys) or {})
    _, _, retry = send(body, at=T0 + timedelta(seconds=40))
    assert retry == first and reads == []


def test_a_start_31_days_before_the_time_received_is_rejected_and_kept_raw(send, store):
    raw = json.dumps(info_event(start=ms(T0 - timedelta(days=31)))).encode() + b"  \n"
    status, headers, body = send(raw, at=T0)
    assert status == 400
    [violation] = body["error"]["constraintViolations"]
    assert violation["path"] == "start" and "30 days" in violation["message"]
    assert query(store, f"{send.tenant}#ops#CUSTOM_INFO") == []
    folder = f"rejects/tenant={send.tenant}/endpoint={ENDPOINT}/date={T0:%Y-%m-%d}/"
    bucket = store.settings.rejects_bucket
    [body_key, meta_key] = reject_keys(store.s3, bucket, folder, headers["X-Request-Id"])
    assert store.s3.get_object(Bucket=bucket, Key=body_key)["Body"].read() == raw
    meta = json.loads(store.s3.get_object(Bucket=bucket, Key=meta_key)["Body"].read())
    assert meta["errors"] == [{"index": 0, "path": "start", "message": violation["message"]}]
    assert "Api-Token" not in json.dumps(meta)


def test_malformed_json_is_kept_raw_and_answered_in_the_dialect(send, store):
    raw = b'{"eventType": "CUSTOM_INFO",}'
    status, headers, body = send(raw, at=T0)
    assert status == 400 and "line 1, column 28" in body["error"]["message"]
    folder = f"rejects/tenant={send.tenant}/endpoint={ENDPOINT}/date={T0:%Y-%m-%d}/"
    [key, _] = reject_keys(store.s3, store.settings.rejects_bucket, folder, headers["X-Request-Id"])
    assert key.endswith(".body") and store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=key)["Body"].read() == raw


@pytest.mark.parametrize("scheme", ["Api-Token", "Api-token", "api-token", "API-TOKEN"])
def test_the_token_scheme_is_matched_case_insensitively(send, scheme):
    assert send(info_event(), at=T0, scheme=scheme)[0] == 200


@pytest.mark.parametrize("authorization", [None, "Bearer {key}", "Api-Token", "Api-Token NOTAKEY1." + "A" * 48])
def test_a_missing_or_bad_token_is_401_in_the_dialect(settings, store, http_event, new_key, authorization):
    key, _ = new_key()
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization.format(key=key)
    event = http_event(ENDPOINT, json.dumps(info_event()).encode(), headers)
    response = Pipeline(catalog.get(ENDPOINT), settings, store).handle(event, LocalContext(ENDPOINT, "r"))
    assert response["statusCode"] == 401
    body = json.loads(response["body"])
    assert set(body) == {"error"} and body["error"]["code"] == 401 and body["error"]["message"]


# --- problem-opening events: one problem while open, a new one after the timeout -------------------------


def problem_items(store: Store, tenant: str) -> list[dict]:
    return query(store, f"{tenant}#ops#problem")


def test_the_same_problem_twice_within_its_timeout_is_one_problem_with_one_correlation_id(send, store):
    body = error_event(timeoutMinutes=10)
    status, _, first = send(body, at=T0)
    assert status == 200 and first["storedEventIds"] == [] and first["storedIds"] == []
    [correlation_id] = first["storedCorrelationIds"]
    _, _, second = send(body, at=T0 + timedelta(minutes=9))
    assert second["storedCorrelationIds"] == [correlation_id]

    [problem] = problem_items(store, send.tenant)
    assert problem["correlation_id"]["S"] == correlation_id
    assert int(problem["opened_at"]["N"]) == ms(T0)
    # the refresh extended the timeout from the time it was received
    assert int(problem["open_until"]["N"]) == ms(T0 + timedelta(minutes=19))
    assert int(problem["refreshes"]["N"]) == 1 and problem["event_type"]["S"] == "ERROR_EVENT"
    events = query(store, f"{send.tenant}#ops#ERROR_EVENT")
    assert len(events) == 2  # each send is stored (different minutes), both under the one problem
    assert {item["correlation_id"]["S"] for item in events} == {correlation_id}
    assert all(item["sk"]["S"].startswith(f"problem#{correlation_id}#") for item in events)
    assert {payload(item)["timeoutMinutes"] for item in events} == {10}


def test_after_the_timeout_the_same_payload_opens_a_new_problem(send, store):
    body = error_event(timeoutMinutes=5)
    _, _, first = send(body, at=T0)
    _, _, refreshed = send(body, at=T0 + timedelta(minutes=4))  # open until T0+9
    _, _, still_open = send(body, at=T0 + timedelta(minutes=8, seconds=59))
    _, _, reopened = send(body, at=T0 + timedelta(minutes=15))  # open until T0+13:59: timed out
    assert first["storedCorrelationIds"] == refreshed["storedCorrelationIds"] == still_open["storedCorrelationIds"]
    assert reopened["storedCorrelationIds"] != first["storedCorrelationIds"]
    [problem] = problem_items(store, send.tenant)
    assert [problem["correlation_id"]["S"]] == reopened["storedCorrelationIds"]
    assert int(problem["opened_at"]["N"]) == ms(T0 + timedelta(minutes=15)) and problem["refreshes"]["N"] == "0"
    # the events of the first problem stay stored for the retention
    events = query(store, f"{send.tenant}#ops#ERROR_EVENT")
    by_problem = {}
    for item in events:
        by_problem.setdefault(item["correlation_id"]["S"], []).append(item)
    assert {key: len(value) for key, value in by_problem.items()} == {
        first["storedCorrelationIds"][0]: 3, reopened["storedCorrelationIds"][0]: 1
    }


def test_the_default_timeout_is_15_minutes(send):
    body = error_event()
    _, _, first = send(body, at=T0)
    assert send(body, at=T0 + timedelta(minutes=14, seconds=59))[2] == first
    assert send(body, at=T0 + timedelta(minutes=30, seconds=1))[2] != first


def test_start_timeout_and_end_do_not_make_another_problem_but_other_fields_do(send, store):
    body = error_event()
    _, _, first = send(body, at=T0)
    _, _, same = send({**body, "start": ms(T0) + 30_000, "timeoutMinutes": 30, "end": 5}, at=T0 + timedelta(minutes=1))
    _, _, other = send({**body, "title": "Another error"}, at=T0 + timedelta(minutes=1))
    _, _, other_type = send({**body, "eventType": "PERFORMANCE_EVENT"}, at=T0 + timedelta(minutes=1))
    assert same == first
    assert len({first["storedCorrelationIds"][0], other["storedCorrelationIds"][0], other_type["storedCorrelationIds"][0]}) == 3
    assert len(problem_items(store, send.tenant)) == 3


def test_a_retried_problem_event_is_stored_once_and_refreshes_the_problem(send, store):
    body = error_event(start=ms(T0) - 60_000)
    first = send(body, at=T0)
    retry = send(body, at=T0 + timedelta(seconds=20))
    assert first[2] == retry[2]
    assert len(query(store, f"{send.tenant}#ops#ERROR_EVENT")) == 1
    [problem] = problem_items(store, send.tenant)
    assert problem["refreshes"]["N"] == "1"


def test_problems_of_two_tenants_never_meet(send, settings, store, http_event, new_key):
    body = error_event()
    _, _, mine = send(body, at=T0)
    key, tenant = new_key()
    event = http_event(ENDPOINT, json.dumps(body).encode(), {"Authorization": f"Api-Token {key}"})
    response = Pipeline(catalog.get(ENDPOINT), settings, store, clock=lambda: T0).handle(event, LocalContext(ENDPOINT, "r"))
    theirs = json.loads(response["body"])
    assert theirs["storedCorrelationIds"] != mine["storedCorrelationIds"]
    assert len(problem_items(store, tenant)) == 1 and len(problem_items(store, send.tenant)) == 1


def test_a_rejected_problem_event_opens_no_problem(send, store):
    status, _, body = send(error_event(timeoutMinutes=0), at=T0)
    assert status == 400 and body["error"]["constraintViolations"][0]["path"] == "timeoutMinutes"
    assert problem_items(store, send.tenant) == [] and query(store, f"{send.tenant}#ops#ERROR_EVENT") == []


def test_a_problem_start_61_minutes_old_is_rejected(send):
    status, _, body = send(error_event(start=ms(T0 - timedelta(minutes=61))), at=T0)
    assert status == 400
    [violation] = body["error"]["constraintViolations"]
    assert violation["path"] == "start" and "60 minutes" in violation["message"]


def test_every_event_type_with_its_minimum_fields_is_stored(invoke, store):
    answers = {}
    for path in sorted((EVENTS / ENDPOINT).glob("valid_*.json")):
        event = load_event(ENDPOINT, path.stem)
        body = json.loads(event["body"])
        status, _, answer = invoke(ENDPOINT, event)
        assert status == 200, (path.stem, answer)
        answers.setdefault(body["eventType"], []).append(answer)
    assert len(answers) == 10  # every type of the spec, CUSTOM_ALERT included
    for event_type, type_answers in answers.items():
        for answer in type_answers:
            opens_problem = event_type not in {
                "CUSTOM_ANNOTATION", "CUSTOM_CONFIGURATION", "CUSTOM_DEPLOYMENT", "CUSTOM_INFO", "MARKED_FOR_TERMINATION"
            }
            assert bool(answer["storedCorrelationIds"]) == opens_problem
            assert bool(answer["storedEventIds"]) == (not opens_problem)
        assert query(store, f"sample#ops#{event_type}")


# --- storage failures ----------------------------------------------------------------------------------


class ConditionsFail:
    """The real client, except every conditional write to the problem item loses."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def update_item(self, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "lost"}}, "UpdateItem")

    put_item = update_item


def test_a_problem_that_cannot_be_opened_answers_a_retryable_503_and_stores_no_event(settings, store, http_event, new_key):
    key, tenant = new_key()
    event = http_event(ENDPOINT, json.dumps(error_event()).encode(), {"Authorization": f"Api-Token {key}"})
    broken = Store(settings, dynamodb=ConditionsFail(store.dynamodb), s3=store.s3)
    response = Pipeline(catalog.get(ENDPOINT), settings, broken, clock=lambda: T0).handle(event, LocalContext(ENDPOINT, "r"))
    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert body["error"]["code"] == 503 and "retry" in body["error"]["message"]
    assert query(store, f"{tenant}#ops#ERROR_EVENT") == []
