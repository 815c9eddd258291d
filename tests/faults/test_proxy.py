"""The fault proxy itself, against the real moto server: forwarding is faithful, and each fault does
what it says. What reached storage is always read from moto directly (the session's `store`)."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError

from tests.faults.proxy import Delay, Drop, Fail, Gather, Partial, Reset, Throttle, dynamodb_operation, s3_operation

pytestmark = pytest.mark.faults

try:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - it comes with schemathesis in requirements-dev.txt
    given = None


def client(service: str, proxy, attempts: int = 1, read_timeout: float = 5, connect_timeout: float = 2):
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=read_timeout,
                    connect_timeout=connect_timeout)
    return boto3.client(service, endpoint_url=proxy.url, config=config)


@pytest.fixture
def pk():
    return f"proxy-test#{uuid.uuid4().hex}"


def item(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "payload": {"B": b"\x00\xffraw"}, "expires_at": {"N": "4102444800"}}


def stored(store, pk: str) -> list[str]:
    """Sort keys of a partition, read from moto directly."""
    from tests.conftest import partition_items

    return sorted(entry["sk"]["S"] for entry in partition_items(store.dynamodb, pk, store.settings.events_table))


def object_exists(store, key: str) -> bool:
    return store.get_object(key) is not None


def raw_call(proxy, target: str, body: dict) -> tuple[int, dict, bytes]:
    """A DynamoDB call over plain HTTP (no signature: only for answers the proxy makes itself)."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    connection.request("POST", "/", body=json.dumps(body), headers={
        "X-Amz-Target": f"DynamoDB_20120810.{target}", "Content-Type": "application/x-amz-json-1.0"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, data


# --- which operation a request is -----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "target", "headers", "operation"), [
    ("PUT", "/bucket/a/b.json", {}, "PutObject"),
    ("PUT", "/bucket/a%2Fb?x-id=PutObject", {}, "PutObject"),
    ("GET", "/bucket/key", {}, "GetObject"),
    ("HEAD", "/bucket/key", {}, "HeadObject"),
    ("DELETE", "/bucket/key", {}, "DeleteObject"),
    ("PUT", "/bucket/key", {"x-amz-copy-source": "/other/key"}, "CopyObject"),
    ("PUT", "/bucket/key?partNumber=1&uploadId=u", {}, "UploadPart"),
    ("POST", "/bucket/key?uploads", {}, "CreateMultipartUpload"),
    ("POST", "/bucket/key?uploadId=u", {}, "CompleteMultipartUpload"),
    ("DELETE", "/bucket/key?uploadId=u", {}, "AbortMultipartUpload"),
    ("GET", "/bucket?list-type=2&prefix=rejects%2F", {}, "ListObjectsV2"),
    ("GET", "/bucket", {}, "ListObjects"),
    ("PUT", "/bucket", {}, "CreateBucket"),
    ("HEAD", "/bucket", {}, "HeadBucket"),
    ("POST", "/bucket?delete", {}, "DeleteObjects"),
    ("GET", "/", {}, "ListBuckets"),
])
def test_s3_operations_are_named_by_method_path_and_query(method, target, headers, operation):
    assert s3_operation(method, target, headers) == operation


def test_dynamodb_operations_are_named_by_their_target_header():
    assert dynamodb_operation({"x-amz-target": "DynamoDB_20120810.BatchWriteItem"}) == "BatchWriteItem"
    assert dynamodb_operation({"x-amz-target": "Other.Thing"}) is None
    assert dynamodb_operation({}) is None


# --- forwarding -------------------------------------------------------------------------------------------


def test_without_rules_every_call_reaches_moto_and_moto_answers(proxy, store, settings, pk):
    dynamodb, s3 = client("dynamodb", proxy), client("s3", proxy)
    dynamodb.put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert stored(store, pk) == ["a"]  # in moto itself
    got = dynamodb.get_item(TableName=settings.events_table, Key={"pk": {"S": pk}, "sk": {"S": "a"}})
    assert got["Item"]["payload"]["B"] == b"\x00\xffraw"

    key = f"proxy-test/{uuid.uuid4().hex}/o b+c.bin"
    body = bytes(range(256)) * 300  # binary, larger than one read
    s3.put_object(Bucket=settings.rejects_bucket, Key=key, Body=body, ContentType="application/octet-stream")
    assert store.get_object(key) == body
    assert s3.get_object(Bucket=settings.rejects_bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=settings.rejects_bucket, Key=key)["ContentLength"] == len(body)
    listed = s3.list_objects_v2(Bucket=settings.rejects_bucket, Prefix=key)
    assert [entry["Key"] for entry in listed["Contents"]] == [key]
    s3.delete_object(Bucket=settings.rejects_bucket, Key=key)
    assert not object_exists(store, key)

    calls = proxy.calls_of()
    assert [call.operation for call in calls] == [
        "PutItem", "GetItem", "PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObject"]
    assert all(call.fault is None and call.forwarded and call.status in (200, 204) for call in calls)
    assert calls[2].body == body  # the request as boto3 sent it, recorded byte for byte


def test_moto_errors_pass_through_untouched(proxy, settings):
    dynamodb = client("dynamodb", proxy)
    with pytest.raises(ClientError) as caught:
        dynamodb.get_item(TableName="no-such-table", Key={"pk": {"S": "x"}})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    [call] = proxy.calls_of("GetItem")
    assert call.status == 400 and call.fault is None


def test_many_threads_at_once_all_get_their_own_answers(proxy, store, settings, pk):
    dynamodb = client("dynamodb", proxy)
    errors = []

    def work(thread: int) -> None:
        try:
            for n in range(5):
                dynamodb.put_item(TableName=settings.events_table, Item=item(pk, f"{thread}-{n}"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(stored(store, pk)) == 40
    assert len(proxy.calls_of("PutItem")) == 40


# --- Throttle ---------------------------------------------------------------------------------------------


def test_throttle_is_dynamodbs_own_error_body(proxy):
    proxy.inject("BatchWriteItem", Throttle())
    status, headers, body = raw_call(proxy, "BatchWriteItem", {"RequestItems": {}})
    assert status == 400
    assert headers["content-type"] == "application/x-amz-json-1.0" and headers["x-amzn-requestid"]
    error = json.loads(body)
    assert error["__type"] == "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    assert "provisioned throughput" in error["message"]
    [call] = proxy.calls_of("BatchWriteItem")
    assert call.fault == "Throttle()" and not call.forwarded and call.status == 400


def test_a_throttled_write_is_refused_and_never_reaches_moto(proxy, store, settings, pk):
    rule = proxy.inject("PutItem", Throttle())
    with pytest.raises(ClientError) as caught:
        client("dynamodb", proxy).put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert caught.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stored(store, pk) == []
    assert (rule.seen, rule.fired) == (1, 1)


def test_throttle_times_2_is_retried_through_by_botocore(proxy, store, settings, pk):
    rule = proxy.inject("PutItem", Throttle(), times=2)
    client("dynamodb", proxy, attempts=3).put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert stored(store, pk) == ["a"]
    calls = proxy.calls_of("PutItem")
    assert [call.fault for call in calls] == ["Throttle()", "Throttle()", None]
    assert [call.status for call in calls] == [400, 400, 200]
    assert (rule.seen, rule.fired, rule.armed) == (3, 2, False)


def test_s3_throttle_is_slowdown_503(proxy, store, settings):
    proxy.inject("PutObject", Throttle())
    key = f"proxy-test/{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as caught:
        client("s3", proxy).put_object(Bucket=settings.rejects_bucket, Key=key, Body=b"x")
    assert caught.value.response["Error"]["Code"] == "SlowDown"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert not object_exists(store, key)


# --- Fail -------------------------------------------------------------------------------------------------


def test_fail_500_is_an_internal_server_error_and_nothing_is_written(proxy, store, settings, pk):
    proxy.inject("BatchWriteItem", Fail(500))
    with pytest.raises(ClientError) as caught:
        client("dynamodb", proxy).batch_write_item(
            RequestItems={settings.events_table: [{"PutRequest": {"Item": item(pk, "a")}}]})
    assert caught.value.response["Error"]["Code"] == "InternalServerError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert stored(store, pk) == []


def test_s3_fail_500_is_internal_error(proxy, store, settings):
    proxy.inject("PutObject", Fail(500))
    key = f"proxy-test/{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as caught:
        client("s3", proxy).put_object(Bucket=settings.rejects_bucket, Key=key, Body=b"x")
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert not object_exists(store, key)


def test_after_lets_calls_through_first_and_times_disarms(proxy, store, settings, pk):
    rule = proxy.inject("PutItem", Fail(500), after=2, times=1)
    dynamodb = client("dynamodb", proxy)
    outcomes = []
    for n in range(4):
        try:
            dynamodb.put_item(TableName=settings.events_table, Item=item(pk, str(n)))
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    assert outcomes == ["ok", "ok", "InternalServerError", "ok"]
    assert stored(store, pk) == ["0", "1", "3"]
    assert (rule.seen, rule.fired) == (4, 1)


def test_where_narrows_a_rule_and_other_operations_pass(proxy, store, settings, pk):
    proxy.inject("PutItem", Fail(500), where=lambda call: call.json()["Item"]["sk"]["S"] == "bad")
    dynamodb = client("dynamodb", proxy)
    dynamodb.put_item(TableName=settings.events_table, Item=item(pk, "good"))
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName=settings.events_table, Item=item(pk, "bad"))
    dynamodb.get_item(TableName=settings.events_table, Key={"pk": {"S": pk}, "sk": {"S": "good"}})
    assert stored(store, pk) == ["good"]


def test_clear_disarms_every_rule(proxy, store, settings, pk):
    proxy.inject("*", Fail(500))
    dynamodb = client("dynamodb", proxy)
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName=settings.events_table, Item=item(pk, "a"))
    proxy.clear()
    dynamodb.put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert stored(store, pk) == ["a"]


def test_partial_refuses_operations_it_cannot_split(proxy):
    with pytest.raises(ValueError, match="BatchWriteItem"):
        proxy.inject("PutItem", Partial(keep=1))


# --- Delay ------------------------------------------------------------------------------------------------


def test_a_delay_past_the_read_timeout_times_out_yet_the_write_lands_after_the_client_left(proxy, store, settings, pk):
    proxy.inject("PutItem", Delay(5.0))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        client("dynamodb", proxy, read_timeout=0.3).put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert time.monotonic() - started < 1  # the client gave up on its own timeout
    assert proxy.wait_idle(timeout=2)  # the hold ended when the client hung up, not 5 s later
    assert stored(store, pk) == ["a"]  # and then the write landed, with nobody left to answer
    [call] = proxy.calls_of("PutItem")
    assert call.forwarded and call.status is None and call.ended >= started + 0.3


def test_a_delay_within_the_read_timeout_holds_the_request_then_answers(proxy, store, settings, pk):
    proxy.inject("PutItem", Delay(0.6))
    done = threading.Event()
    thread = threading.Thread(target=lambda: (client("dynamodb", proxy).put_item(
        TableName=settings.events_table, Item=item(pk, "a")), done.set()))
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    assert stored(store, pk) == [] and not done.is_set()  # held before moto saw it
    thread.join()
    assert done.is_set() and time.monotonic() - started >= 0.6
    assert stored(store, pk) == ["a"]


def test_a_response_delay_applies_the_write_at_once_and_answers_late(proxy, store, settings, pk):
    proxy.inject("PutItem", Delay(2.0, phase="response"))
    done = threading.Event()
    thread = threading.Thread(target=lambda: (client("dynamodb", proxy).put_item(
        TableName=settings.events_table, Item=item(pk, "a")), done.set()))
    started = time.monotonic()
    thread.start()
    while not stored(store, pk) and time.monotonic() - started < 1.5:
        time.sleep(0.02)
    assert stored(store, pk) == ["a"] and not done.is_set()  # written, the answer still held
    thread.join()
    assert done.is_set() and time.monotonic() - started >= 2.0


def test_gather_holds_every_answer_until_all_parties_have_read(proxy, settings, pk):
    proxy.inject("GetItem", Gather(3), times=3)
    answered: list[float] = []

    def read(delay: float) -> None:
        time.sleep(delay)
        client("dynamodb", proxy).get_item(TableName=settings.events_table, Key={"pk": {"S": pk}, "sk": {"S": "x"}})
        answered.append(time.monotonic())

    threads = [threading.Thread(target=read, args=(delay,)) for delay in (0, 0.2, 0.4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = proxy.calls_of("GetItem")
    assert len(answered) == 3 and min(answered) >= max(call.started for call in calls)  # nobody went on early


# --- Reset ------------------------------------------------------------------------------------------------


def test_reset_closes_the_connection_without_an_answer(proxy, store, settings, pk):
    proxy.inject("PutItem", Reset())
    with pytest.raises(BotoCoreError) as caught:
        client("dynamodb", proxy).put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert isinstance(caught.value, ConnectionClosedError), repr(caught.value)
    assert stored(store, pk) == []
    [call] = proxy.calls_of("PutItem")
    assert call.status is None and not call.forwarded


def test_reset_after_forwarding_loses_only_the_answer(proxy, store, settings, pk):
    proxy.inject("PutObject", Reset(forward=True))
    key = f"proxy-test/{uuid.uuid4().hex}"
    with pytest.raises(ConnectionClosedError):
        client("s3", proxy).put_object(Bucket=settings.rejects_bucket, Key=key, Body=b"landed")
    assert store.get_object(key) == b"landed"


def test_after_a_reset_the_client_reconnects(proxy, store, settings, pk):
    proxy.inject("PutItem", Reset(), times=1)
    client("dynamodb", proxy, attempts=2).put_item(TableName=settings.events_table, Item=item(pk, "a"))
    assert stored(store, pk) == ["a"]
    assert [call.fault for call in proxy.calls_of("PutItem")] == ["Reset(forward=False)", None]


# --- Drop -------------------------------------------------------------------------------------------------


def test_drop_acknowledges_writes_that_never_reach_moto(proxy, store, settings, pk):
    proxy.inject(["BatchWriteItem", "PutObject"], Drop())
    response = client("dynamodb", proxy).batch_write_item(
        RequestItems={settings.events_table: [{"PutRequest": {"Item": item(pk, "a")}}]})
    assert response["UnprocessedItems"] == {}
    key = f"proxy-test/{uuid.uuid4().hex}"
    assert client("s3", proxy).put_object(Bucket=settings.rejects_bucket, Key=key, Body=b"x")["ETag"]
    assert stored(store, pk) == [] and not object_exists(store, key)


# --- Partial ----------------------------------------------------------------------------------------------


def write_requests(pk: str, count: int) -> list[dict]:
    return [{"PutRequest": {"Item": item(pk, f"{n:02d}")}} for n in range(count)]


def test_partial_batch_write_stores_the_kept_items_and_returns_the_rest_unprocessed(proxy, store, settings, pk):
    proxy.inject("BatchWriteItem", Partial(keep=3))
    requests = write_requests(pk, 10)
    response = client("dynamodb", proxy).batch_write_item(RequestItems={settings.events_table: requests})
    assert stored(store, pk) == ["00", "01", "02"]
    assert response["UnprocessedItems"] == {settings.events_table: requests[3:]}


def test_partial_by_fraction_and_keep_zero_which_never_calls_moto(proxy, store, settings, pk):
    rule = proxy.inject("BatchWriteItem", Partial(fraction=0.5), times=1)
    dynamodb = client("dynamodb", proxy)
    response = dynamodb.batch_write_item(RequestItems={settings.events_table: write_requests(pk, 9)})
    assert stored(store, pk) == ["00", "01", "02", "03"]
    assert len(response["UnprocessedItems"][settings.events_table]) == 5
    assert not rule.armed
    proxy.inject("BatchWriteItem", Partial(keep=0))
    response = dynamodb.batch_write_item(RequestItems={settings.events_table: write_requests(pk + "-none", 2)})
    assert len(response["UnprocessedItems"][settings.events_table]) == 2
    assert stored(store, pk + "-none") == []
    assert not proxy.calls_of("BatchWriteItem")[-1].forwarded


def test_partial_batch_get_answers_part_and_returns_the_other_keys_unprocessed(proxy, store, settings, pk):
    for n in range(10):
        store.dynamodb.put_item(TableName=settings.events_table, Item=item(pk, f"{n:02d}"))
    keys = [{"pk": {"S": pk}, "sk": {"S": f"{n:02d}"}} for n in range(10)]
    proxy.inject("BatchGetItem", Partial(keep=4))
    response = client("dynamodb", proxy).batch_get_item(RequestItems={
        settings.events_table: {"Keys": keys, "ProjectionExpression": "pk, sk", "ConsistentRead": True}})
    answered = sorted(entry["sk"]["S"] for entry in response["Responses"][settings.events_table])
    assert answered == ["00", "01", "02", "03"]
    assert response["UnprocessedKeys"] == {
        settings.events_table: {"Keys": keys[4:], "ProjectionExpression": "pk, sk", "ConsistentRead": True}}


if given is not None:

    @hypothesis_settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_partial_splits_any_batch_exactly_between_moto_and_unprocessed(proxy, store, settings, data):
        count = data.draw(st.integers(min_value=1, max_value=25), label="items")
        keep = data.draw(st.integers(min_value=0, max_value=count + 2), label="keep")
        pk = f"proxy-test#{uuid.uuid4().hex}"
        proxy.clear()
        proxy.inject("BatchWriteItem", Partial(keep=keep))
        requests = write_requests(pk, count)
        response = client("dynamodb", proxy).batch_write_item(RequestItems={settings.events_table: requests})
        kept = min(keep, count)
        assert stored(store, pk) == [f"{n:02d}" for n in range(kept)]
        assert response["UnprocessedItems"].get(settings.events_table, []) == requests[kept:]

else:

    def test_partial_splits_any_batch_exactly_between_moto_and_unprocessed():
        pytest.skip("hypothesis is not installed")
