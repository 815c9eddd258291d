"""The one module that talks to AWS.

Clients are created lazily, once per process, with bounded retries and timeouts; tests inject their
own. Items are built in DynamoDB's wire format directly: a flat item with the payload as bytes costs
a few microseconds, where boto3's TypeSerializer over nested dicts would cost ~15 µs per event.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ingest.errors import Unavailable
from ingest.settings import Settings

WRITE_CHUNK = 25  # BatchWriteItem's hard limit (moto accepts more; DynamoDB refuses)
READ_CHUNK = 100  # BatchGetItem's hard limit


class Deadline:
    """A time budget for one request's AWS work, so no request outlives API Gateway's 29 s."""

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0


@dataclass(frozen=True, slots=True)
class ItemKey:
    pk: str
    sk: str

    def wire(self) -> dict:
        return {"pk": {"S": self.pk}, "sk": {"S": self.sk}}


class Store:
    def __init__(self, settings: Settings, dynamodb=None, s3=None) -> None:
        self.settings = settings
        if dynamodb is not None:
            self.__dict__["dynamodb"] = dynamodb
        if s3 is not None:
            self.__dict__["s3"] = s3

    def _config(self) -> Config:
        return Config(
            retries={"mode": "standard", "total_max_attempts": self.settings.aws_max_attempts},
            connect_timeout=self.settings.aws_connect_timeout,
            read_timeout=self.settings.aws_read_timeout,
        )

    @cached_property
    def dynamodb(self):
        return boto3.client("dynamodb", config=self._config())

    @cached_property
    def s3(self):
        return boto3.client("s3", config=self._config())

    # --- API keys -------------------------------------------------------------------------------

    def get_key(self, prefix: str) -> dict | None:
        try:
            response = self.dynamodb.get_item(
                TableName=self.settings.keys_table, Key={"pk": {"S": prefix}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("The key store did not answer; retry the request.") from exc
        item = response.get("Item")
        return {name: next(iter(value.values())) for name, value in item.items()} if item else None

    def put_key(self, record: dict) -> None:
        item = {"pk": {"S": record["prefix"]}}
        item.update({name: {"S": str(value)} for name, value in record.items() if name != "prefix" and value})
        self.dynamodb.put_item(TableName=self.settings.keys_table, Item=item)

    # --- events ---------------------------------------------------------------------------------

    def existing(self, keys: Sequence[ItemKey], now: int, deadline: Deadline) -> set[ItemKey]:
        """Keys already stored and not yet expired (TTL deletion lags up to ~48 h)."""
        found: set[ItemKey] = set()
        table = self.settings.events_table
        for start in range(0, len(keys), READ_CHUNK):
            pending = {
                table: {
                    "Keys": [key.wire() for key in keys[start : start + READ_CHUNK]],
                    "ProjectionExpression": "pk, sk, expires_at",
                    "ConsistentRead": True,
                }
            }
            attempt = 0
            while pending:
                response = self._call(self.dynamodb.batch_get_item, deadline, RequestItems=pending)
                for item in response.get("Responses", {}).get(table, []):
                    if int(item["expires_at"]["N"]) > now:
                        found.add(ItemKey(item["pk"]["S"], item["sk"]["S"]))
                pending = response.get("UnprocessedKeys") or {}
                attempt = self._backoff(pending, attempt, deadline)
        return found

    def write(self, items: Sequence[dict], deadline: Deadline) -> int:
        """BatchWriteItem in chunks of 25; UnprocessedItems retried until the deadline. Returns calls."""
        calls = 0
        table = self.settings.events_table
        for start in range(0, len(items), WRITE_CHUNK):
            pending = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + WRITE_CHUNK]]}
            attempt = 0
            while pending:
                response = self._call(self.dynamodb.batch_write_item, deadline, RequestItems=pending)
                calls += 1
                pending = response.get("UnprocessedItems") or {}
                attempt = self._backoff(pending, attempt, deadline)
        return calls

    def get_event(self, key: ItemKey) -> dict | None:
        response = self.dynamodb.get_item(TableName=self.settings.events_table, Key=key.wire(), ConsistentRead=True)
        return response.get("Item")

    # --- rejects --------------------------------------------------------------------------------

    def put_objects(self, objects: Iterable[tuple[str, bytes, str]], deadline: Deadline) -> None:
        """Write (key, body, content type) objects to the rejects bucket, or raise Unavailable."""
        for key, body, content_type in objects:
            self._call(
                self.s3.put_object,
                deadline,
                Bucket=self.settings.rejects_bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
            )

    # --- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _call(operation, deadline: Deadline, **kwargs) -> dict:
        if deadline.expired():
            raise Unavailable("The storage budget for this request ran out; retry the request.")
        try:
            return operation(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("Storage did not accept the request; retry it.") from exc

    @staticmethod
    def _backoff(pending: dict, attempt: int, deadline: Deadline) -> int:
        """Full-jitter exponential backoff before retrying unprocessed items, within the deadline."""
        if not pending:
            return attempt
        pause = min(deadline.remaining(), random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        if pause <= 0:
            raise Unavailable("DynamoDB is throttling and the budget ran out; retry the request.")
        time.sleep(pause)
        return attempt + 1
