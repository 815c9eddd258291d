"""The local emulator applies DynamoDB writes atomically, as DynamoDB does (local.emulator): concurrent
ADDs each get their own count, and of racing conditional puts exactly one wins. moto alone does not
guarantee it, and the rate-limit and dedup race tests stand on it."""

from __future__ import annotations

import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


@pytest.fixture(autouse=True)
def eager_thread_switches():
    """The emulator runs in this process: switching threads every few microseconds instead of every
    5 ms makes moto's unguarded read-modify-write interleave, as a loaded machine does."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _client():
    return boto3.client("dynamodb", config=Config(max_pool_connections=32, retries={"max_attempts": 1}))


def test_concurrent_adds_each_get_their_own_count(settings) -> None:
    dynamodb, key = _client(), {"pk": {"S": f"atomic-{uuid.uuid4().hex}"}, "sk": {"S": "counter"}}
    start = threading.Barrier(16)

    def add_many(_: int) -> list[int]:
        start.wait()
        return [int(dynamodb.update_item(TableName=settings.events_table, Key=key, UpdateExpression="ADD hits :one",
                                         ExpressionAttributeValues={":one": {"N": "1"}},
                                         ReturnValues="UPDATED_NEW")["Attributes"]["hits"]["N"])
                for _ in range(10)]  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        counts = [count for counts in pool.map(add_many, range(16)) for count in counts]
    assert sorted(counts) == list(range(1, 161))


def test_of_racing_conditional_puts_exactly_one_wins(settings) -> None:
    dynamodb, pk = _client(), f"atomic-{uuid.uuid4().hex}"
    start = threading.Barrier(16)

    def put(writer: int) -> bool:
        start.wait()
        try:
            dynamodb.put_item(TableName=settings.events_table, ConditionExpression="attribute_not_exists(pk)",
                              Item={"pk": {"S": pk}, "sk": {"S": "e"}, "writer": {"N": str(writer)}})  # fmt: skip
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False

    for _ in range(5):
        pk = f"atomic-{uuid.uuid4().hex}"
        start.reset()
        with ThreadPoolExecutor(16) as pool:
            won = list(pool.map(put, range(16)))
        assert won.count(True) == 1
