"""DataHub endpoint: handler + pipeline + a real moto server (DynamoDB, S3)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from ingest.layout import ItemKey
from ingest.store import Deadline, Store
from tests.conftest import EVENTS, load_event, partition_items, payload, reject_keys

ENDPOINT = "datahub_events"


def body_of(events: list[dict]) -> bytes:
    return json.dumps({"events": events}).encode()


def event(provider: str, **fields) -> dict:
    return {"provider": provider, "time": "2024-03-10T23:00:00Z", **fields}


def items(store: Store, tenant: str, provider: str) -> list[dict]:
    return partition_items(store.dynamodb, f"{tenant}#datahub#{provider}", store.settings.events_table)


@pytest.fixture
def send(invoke, http_event, new_key):
    key, tenant = new_key()

    def post(body: bytes, headers: dict | None = None, path: str | None = None):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **(headers or {})}
        return invoke(ENDPOINT, http_event(ENDPOINT, body, headers, path))

    post.tenant = tenant
    return post


def test_guide_sample_is_stored_and_can_be_read_back(invoke, store):
    status, headers, body = invoke(ENDPOINT, load_event(ENDPOINT, "valid_guide_sample"))
    assert (status, body) == (201, {"message": "Ingestion success"})
    assert headers["X-Request-Id"].startswith("sample-datahub_events-valid_guide_sample")
    [item] = items(store, "sample", "Datadog")
    stored = payload(item)
    assert stored["id"] == "12345678-1234-1234-1234-123412341234"
    assert stored["provider"] == "Datadog"  # sent as `cloud`
    assert stored["metrics"] == [{"type": "cost", "value": 352.0}, {"type": "usage", "value": 36.0}]
    assert item["sk"]["S"] == stored["id"] and item["tenant"]["S"] == "sample"
    assert int(item["event_time"]["N"]) == int(datetime(2024, 2, 23, 12, tzinfo=UTC).timestamp() * 1000)


def test_sending_twice_leaves_one_item_and_newer_wins(send, store):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    assert send(body_of([event(provider, id="a", metrics=[{"type": "cost", "value": 1}])]))[0] == 201
    assert send(body_of([event(provider, id="a", metrics=[{"type": "cost", "value": 2}])]))[0] == 201
    [item] = items(store, send.tenant, provider)
    assert payload(item)["metrics"][0]["value"] == 2


def test_duplicate_ids_inside_one_batch_last_wins(send, store):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    batch = [event(provider, id="d", metrics=[{"type": "cost", "value": v}]) for v in (1, 2, 3)]
    assert send(body_of(batch))[0] == 201
    [item] = items(store, send.tenant, provider)
    assert payload(item)["metrics"][0]["value"] == 3


def test_missing_id_gets_a_uuid_derived_from_the_body_and_index(send, store):
    # A UUIDv5 of (tenant, SHA-256 of the body, index): the same on a byte-identical resend (issue 11).
    provider = f"p-{uuid.uuid4().hex[:8]}"
    assert send(body_of([event(provider), event(provider)]))[0] == 201
    stored = items(store, send.tenant, provider)
    assert len(stored) == 2
    for item in stored:
        assert uuid.UUID(item["sk"]["S"]).version == 5


def test_one_bad_event_stores_nothing_names_it_and_keeps_the_raw_body(send, store):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    raw = body_of(
        [event(provider, id="ok"), event(provider, id="bad", dimensions=[{"type": "fixed", "key": "team", "value": "x"}])]
    ).replace(b'"ok"', b'"ok"   ')  # odd spacing must survive byte for byte
    status, headers, body = send(raw)
    assert status == 400
    assert "1 of 2 events are invalid" in body["error"]
    assert "events[1].dimensions[0].key" in body["error"] and "events[0]" not in body["error"]
    assert items(store, send.tenant, provider) == []

    request_id = headers["X-Request-Id"]
    prefix = f"rejects/tenant={send.tenant}/endpoint=datahub_events/"
    keys = reject_keys(store.s3, store.settings.rejects_bucket, prefix, request_id)
    assert [k.rsplit(".", 1)[1] for k in keys] == ["body", "json"]
    assert store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=keys[0])["Body"].read() == raw
    meta = json.loads(store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=keys[1])["Body"].read())
    assert meta["request_id"] == request_id and meta["tenant"] == send.tenant and meta["endpoint"] == ENDPOINT
    assert meta["errors"][0]["index"] == 1 and meta["errors"][0]["path"] == "events[1].dimensions[0].key"
    assert "Authorization" not in json.dumps(meta) and "Bearer" not in json.dumps(meta)


def test_malformed_json_is_400_with_line_and_column_and_kept_raw(send, store):
    raw = (EVENTS.parent / "events" / "datahub_events" / "malformed_json_trailing_commas.json").read_text()
    body_bytes = json.loads(raw)["body"].encode()
    status, headers, body = send(body_bytes)
    assert status == 400 and "line 10, column 26: trailing comma" in body["error"]
    folder = f"rejects/tenant={send.tenant}/endpoint=datahub_events/date={datetime.now(UTC):%Y-%m-%d}/"
    [key, _] = reject_keys(store.s3, store.settings.rejects_bucket, folder, headers["X-Request-Id"])
    assert key.endswith(".body")
    assert store.s3.get_object(Bucket=store.settings.rejects_bucket, Key=key)["Body"].read() == body_bytes


def test_255_events_take_11_write_calls_and_256_are_refused(send, store):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    status, _, _ = send(body_of([event(provider, id=f"e{i}") for i in range(255)]))
    assert status == 201 and len(items(store, send.tenant, provider)) == 255
    status, _, body = send(body_of([event(provider, id=f"e{i}") for i in range(256)]))
    assert status == 400 and "256 events; the limit is 255 events per request" in body["error"]


def test_unknown_query_parameters_are_ignored(send):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    assert send(body_of([event(provider)]), path="/datahub/v1/events?foo=bar&dryRun=1")[0] == 201


def test_two_tenants_with_the_same_ids_never_touch_each_other(invoke, http_event, new_key, store):
    provider = f"p-{uuid.uuid4().hex[:8]}"
    for value, (key, tenant) in enumerate((new_key(), new_key())):
        batch = body_of([event(provider, id="same", metrics=[{"type": "cost", "value": value}])])
        invoke(ENDPOINT, http_event(ENDPOINT, batch, {"Authorization": f"Bearer {key}"}))
        [item] = items(store, tenant, provider)
        assert payload(item)["metrics"][0]["value"] == value


@pytest.mark.parametrize("sample", sorted(p.stem for p in (EVENTS / ENDPOINT).glob("*.json")))
def test_every_sample_event_gets_its_documented_answer(invoke, sample):
    status, headers, body = invoke(ENDPOINT, load_event(ENDPOINT, sample))
    expected = 201 if sample.startswith("valid_") else 401 if sample.split("_")[0] in ("missing", "wrong") else 400
    assert status == expected, body
    assert headers["X-Request-Id"] and set(body) == ({"message"} if status == 201 else {"error"})


# --- failure modes: nothing acknowledged unless everything is stored --------------------------------


class FlakyDynamoDB:
    """The real client, but BatchWriteItem leaves some items unprocessed on chosen calls."""

    def __init__(self, real, unprocessed_on_calls: set[int]):
        self.real = real
        self.unprocessed_on_calls = unprocessed_on_calls
        self.write_sizes: list[int] = []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems):
        [(table, requests)] = RequestItems.items()
        self.write_sizes.append(len(requests))
        if len(self.write_sizes) in self.unprocessed_on_calls and len(requests) > 1:
            self.real.batch_write_item(RequestItems={table: requests[:1]})
            return {"UnprocessedItems": {table: requests[1:]}}
        return self.real.batch_write_item(RequestItems=RequestItems)


def principal_for(new_key):
    from ingest.auth import Principal

    _, tenant = new_key()
    return Principal(tenant=tenant, key_prefix="TESTTEST")


def direct_request(body: bytes):
    from ingest.request import Request

    return Request.from_apigw({"httpMethod": "POST", "body": body.decode(), "requestContext": {"requestId": str(uuid.uuid4())}})


def test_deletes_go_in_chunks_of_25_and_unprocessed_items_are_retried(settings, store, new_key):
    # Events are written by conditional PutItems; BatchWriteItem (chunks of 25) is what deletes use.
    pipeline = Pipeline(catalog.get(ENDPOINT), settings, store)
    principal = principal_for(new_key)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    outcome = pipeline.ingest(direct_request(body_of([event(provider, id=f"e{i}") for i in range(60)])), principal, Deadline(10))
    assert outcome.count(outcome.events[0].status) == 60 and len(items(store, principal.tenant, provider)) == 60
    flaky = FlakyDynamoDB(store.dynamodb, unprocessed_on_calls={1, 3})
    Store(settings, dynamodb=flaky, s3=store.s3).delete_events([event.key for event in outcome.events], Deadline(10))
    assert max(flaky.write_sizes) <= 25 and len(flaky.write_sizes) > 3
    assert items(store, principal.tenant, provider) == []


def test_throttling_past_the_budget_is_retryable_and_acknowledges_nothing(settings, store, new_key, invoke, http_event):
    class AlwaysThrottled(FlakyDynamoDB):
        def put_item(self, **kwargs):
            from botocore.exceptions import ClientError

            time.sleep(0.05)
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                              "PutItem")

    pipeline = Pipeline(catalog.get(ENDPOINT), settings, Store(settings, dynamodb=AlwaysThrottled(store.dynamodb, set()), s3=store.s3))
    from ingest.errors import Unavailable

    with pytest.raises(Unavailable):
        pipeline.ingest(direct_request(body_of([event("p", id="x")])), principal_for(new_key), Deadline(0.3))


def test_a_reject_that_cannot_be_written_fails_the_request_retryably(settings, store, new_key):
    broken = Settings(**{**settings.model_dump(), "rejects_bucket": "no-such-bucket-for-rejects"})
    pipeline = Pipeline(catalog.get(ENDPOINT), broken, Store(broken, dynamodb=store.dynamodb, s3=store.s3))
    key, tenant = new_key()
    event_ = {
        "httpMethod": "POST",
        "multiValueHeaders": {"Authorization": [f"Bearer {key}"]},
        "body": body_of([{"provider": "p"}]).decode(),
        "requestContext": {"requestId": str(uuid.uuid4())},
    }
    response = pipeline.handle(event_)
    assert response["statusCode"] == 503 and "retry" in json.loads(response["body"])["error"]
    assert response["headers"]["Retry-After"] == "1"


def test_items_past_expiry_but_not_yet_deleted_count_as_absent(settings, store, new_key):
    pipeline = Pipeline(catalog.get(ENDPOINT), settings, store)
    principal = principal_for(new_key)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    pk = f"{principal.tenant}#datahub#{provider}"
    store.dynamodb.put_item(
        TableName=settings.events_table,
        Item={"pk": {"S": pk}, "sk": {"S": "old"}, "expires_at": {"N": "1000"}, "payload": {"B": b"{}"}},
    )
    now = int(datetime.now(UTC).timestamp())
    assert store.existing([ItemKey(pk, "old")], now, Deadline(5)) == set()
    outcome = pipeline.ingest(direct_request(body_of([event(provider, id="old")])), principal, Deadline(5))
    assert outcome.events[0].status.value == "stored"
    [item] = items(store, principal.tenant, provider)
    assert int(item["expires_at"]["N"]) > now + 29 * 86400


def test_resending_reports_duplicate_outcomes(settings, store, new_key):
    pipeline = Pipeline(catalog.get(ENDPOINT), settings, store)
    principal = principal_for(new_key)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    batch = body_of([event(provider, id="a"), event(provider, id="b"), event(provider, id="a")])
    first = pipeline.ingest(direct_request(batch), principal, Deadline(5))
    assert [e.status.value for e in first.events] == ["duplicate", "stored", "stored"]
    second = pipeline.ingest(direct_request(batch), principal, Deadline(5))
    assert [e.status.value for e in second.events] == ["duplicate", "duplicate", "duplicate"]


def test_limits_are_configurable_per_endpoint(settings, store, new_key):
    tight = Settings(**{**settings.model_dump(), "limits": {ENDPOINT: {"max_events": 2}}})
    pipeline = Pipeline(catalog.get(ENDPOINT), tight, store)
    from ingest.errors import BadRequest

    with pytest.raises(BadRequest, match="limit is 2 events"):
        pipeline.ingest(direct_request(body_of([event("p")] * 3)), principal_for(new_key), Deadline(5))


def test_a_full_batch_is_one_conditional_put_per_event_run_in_parallel(settings, store, new_key):
    from ingest.store import PARALLEL_CALLS

    class Counting(FlakyDynamoDB):
        def __init__(self, real):
            super().__init__(real, set())
            self.running = self.most = 0
            self.lock = threading.Lock()

        def put_item(self, **kwargs):
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                time.sleep(0.002)  # hold it, so calls that run at once overlap
                return self.real.put_item(**kwargs)
            finally:
                with self.lock:
                    self.running -= 1

    counting = Counting(store.dynamodb)
    pipeline = Pipeline(catalog.get(ENDPOINT), settings, Store(settings, dynamodb=counting, s3=store.s3))
    principal = principal_for(new_key)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    outcome = pipeline.ingest(direct_request(body_of([event(provider, id=f"e{i}") for i in range(255)])), principal,
                              Deadline(10))
    assert outcome.write_calls == 255 and len(items(store, principal.tenant, provider)) == 255
    assert 1 < counting.most <= PARALLEL_CALLS
