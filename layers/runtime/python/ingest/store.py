"""The one module that talks to AWS.

Clients are created lazily, once per process, with bounded retries and timeouts; tests inject their
own. The events table's items, keys and query shapes, and the reject objects, come from
ingest.layout: this module only runs the calls (deadline, retries, batching) on what it is given.

The deadline is a bound, not a hope: every call of a request runs on a worker thread and is waited
for only until the request's deadline (`_run`), whatever botocore's own timeouts and retries would
take. A call given up on may still land afterwards; that is safe because every write is idempotent
on a retry (derived ids, conditional keep-first, newer-wins on received time), and the answer then
is a retryable 503 that acknowledges nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from functools import cached_property, partial

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ingest import layout
from ingest.errors import Unavailable
from ingest.layout import ItemKey
from ingest.settings import Settings

WRITE_CHUNK = 25  # BatchWriteItem's hard limit (moto accepts more; DynamoDB refuses)
READ_CHUNK = 100  # BatchGetItem's hard limit
SHARD_COUNT_CACHE = 10_000  # streams whose shard count a process keeps (a few hundred KB at most)
# Calls that may run at once (a batch's conditional puts): the process's pool and connection pool.
# 128: a 255-event DataHub batch's puts take two rounds (64 took four), a 1,000-event usage batch's
# eight. A burst of that many new connections wants a listen backlog above it: the local emulator,
# the local gateway and the fault proxy listen with LISTEN_BACKLOG (the stdlib's and werkzeug's 128
# overflowed: connect timeouts, then 503s). Deployed DynamoDB has no such limit. A lane opens its
# connection only when a request has that many calls to make, so a small request opens few.
PARALLEL_CALLS = 128
_POOL = ThreadPoolExecutor(max_workers=PARALLEL_CALLS, thread_name_prefix="aws")
BUDGET_SPENT = "The storage budget for this request ran out; retry the request."
NOT_ACCEPTED = "Storage did not accept the request; retry it."


class ConditionNotMet:
    """The answer of a conditional write whose condition did not hold; `item` is what is stored."""

    __slots__ = ("item",)

    def __init__(self, item: dict | None) -> None:
        self.item = item


class KeyExists(Exception):
    """A key record with this prefix is already stored."""


class NoSuchKey(LookupError):
    """No key record has this prefix."""


class ConditionFailed(Exception):
    """The key exists but the change's condition did not hold; carries the stored record."""

    def __init__(self, record: dict) -> None:
        super().__init__(record["prefix"])
        self.record = record


# How key-record attributes are typed in DynamoDB (everything else is a string).
_KEY_NUMBERS = frozenset({"rate_limit"})
_KEY_LISTS = frozenset({"scopes"})


def _attribute(value) -> dict:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list | tuple):
        return {"L": [{"S": str(entry)} for entry in value]}
    return {"S": str(value)}


def key_item_of(record: dict) -> dict:
    """A key record in DynamoDB's wire format; empty values are left out."""
    item = {"pk": {"S": record["prefix"]}}
    for name, value in record.items():
        if name != "prefix" and value not in (None, "", [], ()):
            item[name] = _attribute(value)
    return item


def key_record_of(item: dict) -> dict:
    record = {}
    for name, wire in item.items():
        (kind, value), = wire.items()
        if kind == "L":
            value = [next(iter(entry.values())) for entry in value]
        elif kind == "N" or name in _KEY_NUMBERS:
            value = int(value)
        elif name in _KEY_LISTS and not isinstance(value, list):
            value = [value]
        record["prefix" if name == "pk" else name] = value
    return record


class Deadline:
    """A time budget for one request's AWS work, so no request outlives API Gateway's 29 s."""

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0


class Store:
    def __init__(self, settings: Settings, dynamodb=None, s3=None) -> None:
        self.settings = settings
        self._shard_counts: dict[ItemKey, int] = {}  # stream shard records read so far (immutable)
        if dynamodb is not None:
            self.__dict__["dynamodb"] = dynamodb
        if s3 is not None:
            self.__dict__["s3"] = s3

    def _config(self) -> Config:
        return Config(
            retries={"mode": "standard", "total_max_attempts": self.settings.aws_max_attempts},
            connect_timeout=self.settings.aws_connect_timeout,
            read_timeout=self.settings.aws_read_timeout,
            max_pool_connections=PARALLEL_CALLS,
        )

    @cached_property
    def dynamodb(self):
        return boto3.client("dynamodb", config=self._config())

    @cached_property
    def s3(self):
        return boto3.client("s3", config=self._config())

    @cached_property
    def secretsmanager(self):
        return boto3.client("secretsmanager", config=self._config())

    # --- API keys -------------------------------------------------------------------------------

    # A key record is the item pk=<prefix>; a rate counter is pk=rate#<prefix>#<window>, which no
    # prefix (8 letters or digits) can collide with.

    def get_key(self, prefix: str, deadline: Deadline | None = None) -> dict | None:
        """A key record by prefix; under the request's deadline when given (every request's first call)."""
        kwargs = {"TableName": self.settings.keys_table, "Key": {"pk": {"S": prefix}}, "ConsistentRead": True}
        if deadline is not None:
            response = self._call(self.dynamodb.get_item, deadline, **kwargs)
            item = response.get("Item")
            return key_record_of(item) if item else None
        try:
            response = self.dynamodb.get_item(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("The key store did not answer; retry the request.") from exc
        item = response.get("Item")
        return key_record_of(item) if item else None

    def put_key(self, record: dict, *, only_new: bool = False) -> None:
        """Store a key record; with only_new, refuse (KeyExists) to replace one with the same prefix."""
        condition = {"ConditionExpression": "attribute_not_exists(pk)"} if only_new else {}
        try:
            self.dynamodb.put_item(TableName=self.settings.keys_table, Item=key_item_of(record), **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise KeyExists(record["prefix"]) from exc
            raise

    def update_key(self, prefix: str, changes: dict, *, only_if_absent: str | None = None) -> dict:
        """Set attributes of an existing key record (never of a rate counter); returns the new record.

        Raises NoSuchKey when no key has this prefix, and ConditionFailed (carrying the stored
        record) when `only_if_absent` is already set: revoking twice keeps the first revocation."""
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": _attribute(value) for i, value in enumerate(changes.values())}
        condition = "attribute_exists(key_hash)"
        if only_if_absent:
            names["#absent"] = only_if_absent
            condition += " AND attribute_not_exists(#absent)"
        try:
            response = self.dynamodb.update_item(
                TableName=self.settings.keys_table,
                Key={"pk": {"S": prefix}},
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes))),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            if old and "key_hash" in old:
                raise ConditionFailed(key_record_of(old)) from exc
            raise NoSuchKey(prefix) from exc
        return key_record_of(response["Attributes"])

    def list_keys(self) -> list[dict]:
        """Every key record (an operator's command, not a request path: a Scan is fine here)."""
        records = []
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self.settings.keys_table, FilterExpression="attribute_exists(key_hash)", ConsistentRead=True
        ):
            records.extend(key_record_of(item) for item in page["Items"])
        return records

    # A key's window counts on one item per shard: shard 0 is pk=rate#<prefix>#<window> (the one item
    # of a single-shard key, as before sharding), shard i > 0 is pk=rate#<prefix>#<window>#<i>.

    @staticmethod
    def _counter_key(prefix: str, window: int, shard: int) -> dict:
        pk = f"rate#{prefix}#{window}" if shard == 0 else f"rate#{prefix}#{window}#{shard}"
        return {"pk": {"S": pk}}

    def count_request(self, prefix: str, window: int, purge_at: int, deadline: Deadline, *,
                      shard: int = 0) -> tuple[int, int | None]:
        """Count one request on a shard of a key's window: that shard's count so far, and the limit
        the window was marked spent under (None when it was not).

        One atomic UpdateItem (ADD) per request, so the count is exact however many Lambdas share
        the key; the counter purges itself through the table's TTL."""
        return self._counted(self._call(self.dynamodb.update_item, deadline,
                                        **self._count_call(prefix, window, purge_at, shard)))

    def count_request_started(self, prefix: str, window: int, purge_at: int, deadline: Deadline, *,
                              shard: int = 0) -> Callable[[], tuple[int, int | None]]:
        """count_request, started now on the pool; the answer waits in the returned callable (under
        the deadline, Unavailable like every call). For a request whose key the edge authorizer has
        already checked: its count then runs beside the key lookup instead of after it."""
        wait_for = self._start(self.dynamodb.update_item, deadline, **self._count_call(prefix, window, purge_at, shard))
        return lambda: self._counted(wait_for())

    def _count_call(self, prefix: str, window: int, purge_at: int, shard: int) -> dict:
        return dict(
            TableName=self.settings.keys_table,
            Key=self._counter_key(prefix, window, shard),
            UpdateExpression="ADD hits :one SET purge_at = :purge_at",
            ExpressionAttributeValues={":one": {"N": "1"}, ":purge_at": {"N": str(purge_at)}},
            ReturnValues="ALL_NEW",
        )

    @staticmethod
    def _counted(response: dict) -> tuple[int, int | None]:
        attributes = response["Attributes"]
        spent = attributes.get("spent")
        return int(attributes["hits"]["N"]), (int(spent["N"]) if spent else None)

    def read_counts(self, prefix: str, window: int, shards: int, deadline: Deadline) -> list[int]:
        """Every shard's count of a key's window (one consistent BatchGetItem; a shard never counted
        reads 0), UnprocessedKeys retried until the deadline."""
        table = self.settings.keys_table
        keys = [self._counter_key(prefix, window, shard) for shard in range(shards)]
        shard_of = {key["pk"]["S"]: shard for shard, key in enumerate(keys)}
        counts = [0] * shards
        pending = {table: {"Keys": keys, "ProjectionExpression": "pk, hits", "ConsistentRead": True}}
        attempt = 0
        while pending:
            response = self._call(self.dynamodb.batch_get_item, deadline, RequestItems=pending)
            for item in response.get("Responses", {}).get(table, []):
                counts[shard_of[item["pk"]["S"]]] = int(item["hits"]["N"]) if "hits" in item else 0
            pending = response.get("UnprocessedKeys") or {}
            attempt = self._backoff(pending, attempt, deadline)
        return counts

    def mark_spent(self, prefix: str, window: int, shards: int, limit: int, purge_at: int, deadline: Deadline) -> None:
        """Mark every shard of a key's window spent under this limit (one UpdateItem each, at once),
        so later requests of the window learn it from their own ADD's answer."""
        self._run(self.dynamodb.update_item, deadline, [
            dict(
                TableName=self.settings.keys_table,
                Key=self._counter_key(prefix, window, shard),
                UpdateExpression="SET spent = :limit, purge_at = :purge_at",
                ExpressionAttributeValues={":limit": {"N": str(limit)}, ":purge_at": {"N": str(purge_at)}},
            )
            for shard in range(shards)
        ])

    # --- events ---------------------------------------------------------------------------------

    def _batch_get(self, keys: Sequence[ItemKey], projection: str | None, deadline: Deadline) -> Iterator[dict]:
        """Stored items for keys (those that exist), BatchGetItem in chunks of 100, consistent reads
        (`projection` None: whole items); UnprocessedKeys retried until the deadline."""
        table = self.settings.events_table
        for start in range(0, len(keys), READ_CHUNK):
            request: dict = {"Keys": [key.wire() for key in keys[start : start + READ_CHUNK]], "ConsistentRead": True}
            if projection is not None:
                request["ProjectionExpression"] = projection
            pending = {table: request}
            attempt = 0
            while pending:
                response = self._call(self.dynamodb.batch_get_item, deadline, RequestItems=pending)
                yield from response.get("Responses", {}).get(table, [])
                pending = response.get("UnprocessedKeys") or {}
                attempt = self._backoff(pending, attempt, deadline)

    def events_in_order(self, keys: Iterable[ItemKey], deadline: Deadline) -> Iterator[dict]:
        """Whole stored items for keys, in the order of the keys (those still stored): what an index
        entry points at, read from the table (consistent) a BatchGetItem page at a time, lazily."""
        page: list[ItemKey] = []
        for key in keys:
            page.append(key)
            if len(page) == READ_CHUNK:
                yield from self._in_order(page, deadline)
                page = []
        if page:
            yield from self._in_order(page, deadline)

    def _in_order(self, keys: list[ItemKey], deadline: Deadline) -> Iterator[dict]:
        found = {ItemKey.of(item): item for item in self._batch_get(list(dict.fromkeys(keys)), None, deadline)}
        for key in keys:
            item = found.get(key)
            if item is not None:
                yield item

    def existing(self, keys: Sequence[ItemKey], now: int, deadline: Deadline) -> set[ItemKey]:
        """Keys already stored and not yet expired at `now` (epoch seconds; ingest.layout.is_live)."""
        return {
            ItemKey.of(item)
            for item in self._batch_get(keys, layout.LIVENESS_PROJECTION, deadline)
            if layout.is_live(item, now)
        }

    def _batch_write(self, requests: Sequence[dict], deadline: Deadline) -> int:
        """BatchWriteItem in chunks of 25 (DynamoDB's limit; moto accepts more), UnprocessedItems
        retried with backoff until the deadline. Returns the number of calls."""
        calls = 0
        table = self.settings.events_table
        for start in range(0, len(requests), WRITE_CHUNK):
            pending = {table: list(requests[start : start + WRITE_CHUNK])}
            attempt = 0
            while pending:
                response = self._call(self.dynamodb.batch_write_item, deadline, RequestItems=pending)
                calls += 1
                pending = response.get("UnprocessedItems") or {}
                attempt = self._backoff(pending, attempt, deadline)
        return calls

    def put_if(self, puts: Sequence[tuple[dict, str, dict]], deadline: Deadline, *,
               replaced: bool = False, stored_on_failure: bool = False) -> list[ConditionNotMet | dict | None]:
        """Conditional PutItems (item, ConditionExpression, ExpressionAttributeValues), all submitted
        at once (PARALLEL_CALLS run at a time), all within the deadline: where the item was written, None (or with
        `replaced`, the item it replaced, if any); where the condition did not hold, ConditionNotMet.
        Any other failure, or the deadline, raises Unavailable (some puts may have landed: each is
        safe to repeat). With `stored_on_failure`, a ConditionNotMet carries the stored item (ALL_OLD
        on a failed condition: no read units, and no read after the write)."""
        table = self.settings.events_table
        extra = {"ReturnValues": "ALL_OLD"} if replaced else {}
        if stored_on_failure:
            extra["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        calls = [
            dict(TableName=table, Item=item, ConditionExpression=condition, ExpressionAttributeValues=values, **extra)
            for item, condition, values in puts
        ]
        return [answer if isinstance(answer, ConditionNotMet) else (answer or {}).get("Attributes")
                for answer in self._run(self.dynamodb.put_item, deadline, calls, conditional=True)]

    def get_event(self, key: ItemKey) -> dict | None:
        response = self.dynamodb.get_item(TableName=self.settings.events_table, Key=key.wire(), ConsistentRead=True)
        return response.get("Item")

    def event_times(self, keys: Sequence[ItemKey], deadline: Deadline) -> dict[ItemKey, int]:
        """Event times of stored items (e.g. to answer a duplicate with what was stored first)."""
        return {
            ItemKey.of(item): layout.event_time_of(item)
            for item in self._batch_get(keys, layout.EVENT_TIME_PROJECTION, deadline)
        }

    def open_or_refresh(self, window: layout.Window, deadline: Deadline) -> str:
        """Extend the window if it is open (one conditional UpdateItem) and return its id; otherwise
        start it anew under its new id (a conditional PutItem). Two racing openers leave one window:
        the loser refreshes it."""
        table = self.settings.events_table
        for _ in range(3):
            [refreshed] = self._run(self.dynamodb.update_item, deadline, [dict(TableName=table, **window.refresh())],
                                    conditional=True)
            if not isinstance(refreshed, ConditionNotMet):
                return window.id_of(refreshed["Attributes"])
            if window.is_open_past(refreshed.item):  # open, and already as long: it stays as it is
                return window.id_of(refreshed.item)
            opened = self._conditional(self.dynamodb.put_item, deadline, TableName=table, **window.opening())
            if opened is not None:
                return window.new_id
        raise Unavailable("The problem could not be opened or refreshed; retry the request.")

    # --- stream shard counts --------------------------------------------------------------------

    def stream_shards(self, tenant: str, family: str, stream: str, configured: int, deadline: Deadline, *,
                      record: bool) -> int:
        """The stream's shard count as recorded at its first write, read once per process (it never
        changes, so the hot path makes no call for it once cached). With `record` (a write), a stream
        without one records `configured` first (a conditional put: two racing first writers agree on
        the winner's); without (a read or delete), an unrecorded stream has never been written under
        a record: `configured` it is, not cached, so a later first write is seen."""
        key = layout.shard_record_key(tenant, family, stream)
        cached = self._shard_counts.get(key)
        if cached is not None:
            return cached
        if record:
            # One call whether or not the stream has a record: the put answers with the stored one
            # when it is there already (ALL_OLD on a failed condition).
            put = layout.shard_record(key, configured, datetime.now(UTC))
            [answer] = self._run(self.dynamodb.put_item, deadline, [dict(
                TableName=self.settings.events_table, ReturnValuesOnConditionCheckFailure="ALL_OLD", **put)],
                conditional=True)
            item = answer.item if isinstance(answer, ConditionNotMet) else None
            if isinstance(answer, ConditionNotMet) and item is None:
                item = self.event(key, deadline)  # an endpoint that does not return it
        else:
            item = self.event(key, deadline)
            if item is None:
                return configured
        shards = configured if item is None else layout.recorded_shards(item)
        if len(self._shard_counts) >= SHARD_COUNT_CACHE:
            self._shard_counts.clear()
        self._shard_counts[key] = shards
        return shards

    def streams_shards(self, tenant: str, family: str, streams: Sequence[str], configured: int,
                       deadline: Deadline) -> dict[str, int]:
        """`stream_shards(..., record=False)` for several streams at once: the cached counts, and the
        others' records in one BatchGetItem (a stream without one: `configured`, not cached)."""
        counts = {}
        missing = {}
        for stream in streams:
            key = layout.shard_record_key(tenant, family, stream)
            cached = self._shard_counts.get(key)
            if cached is None:
                missing[key] = stream
            else:
                counts[stream] = cached
        found = self.items(list(missing), deadline) if missing else {}
        for key, stream in missing.items():
            item = found.get(key)
            counts[stream] = configured if item is None else layout.recorded_shards(item)
            if item is not None:
                if len(self._shard_counts) >= SHARD_COUNT_CACHE:
                    self._shard_counts.clear()
                self._shard_counts[key] = counts[stream]
        return counts

    # --- read-back and delete -------------------------------------------------------------------

    def event(self, key: ItemKey, deadline: Deadline) -> dict | None:
        """One stored item (consistent read), or None; raises Unavailable like the write path."""
        response = self._call(
            self.dynamodb.get_item, deadline, TableName=self.settings.events_table, Key=key.wire(), ConsistentRead=True
        )
        return response.get("Item")

    def query_events(self, pk: str, deadline: Deadline, *, start_ms: int | None = None, end_ms: int | None = None,
                     sk_prefix: str | None = None, keys_only: bool = False, limit: int | None = None,
                     newest_first: bool = False) -> Iterator[dict]:
        """Items of one partition: by event time (the by_event_time index, bounds inclusive) or, with
        `sk_prefix`, by dedup-key prefix (the table itself, consistent). Paginated lazily."""
        kwargs: dict = {"TableName": self.settings.events_table, "ScanIndexForward": not newest_first}
        kwargs.update(layout.partition_query(pk, start_ms=start_ms, end_ms=end_ms, sk_prefix=sk_prefix))
        if keys_only:  # the key and the expiry: a reader tells a live item from an expired one
            kwargs["ProjectionExpression"] = layout.LIVENESS_PROJECTION
        returned = 0
        while True:
            if limit is not None:
                kwargs["Limit"] = max(1, min(1_000, limit - returned))
            response = self._call(self.dynamodb.query, deadline, **kwargs)
            for item in response.get("Items", []):
                yield item
                returned += 1
                if limit is not None and returned >= limit:
                    return
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def scan_events(self, deadline: Deadline, *, tenant: str, family: str | None = None) -> Iterator[dict]:
        """Every item of a tenant (and family): an operator's listing when no stream is named, never a
        request path."""
        kwargs = {"TableName": self.settings.events_table, **layout.owner_filter(tenant, family)}
        while True:
            response = self._call(self.dynamodb.scan, deadline, **kwargs)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_events(self, keys: Sequence[ItemKey], deadline: Deadline) -> int:
        """Delete items (BatchWriteItem, chunks of 25). Deleting a key that is not there is a no-op,
        so a retried delete is safe. Returns the number of calls."""
        return self._batch_write([{"DeleteRequest": {"Key": key.wire()}} for key in keys], deadline)

    # --- queries (RouteKind.QUERY) ---------------------------------------------------------------

    def cursor_secret(self, deadline: Deadline) -> bytes:
        """The key that signs query cursors: the value of the Secrets Manager secret
        INGEST_CURSOR_SECRET_ID (generated at deploy), read once per process."""
        secret = self.__dict__.get("_cursor_secret")
        if secret is None:
            response = self._call(self.secretsmanager.get_secret_value, deadline,
                                  SecretId=self.settings.cursor_secret_id)
            value = response.get("SecretString")
            secret = value.encode() if value is not None else bytes(response.get("SecretBinary") or b"")
            if len(secret) < 32:
                raise Unavailable("The cursor secret is not usable (under 32 bytes); retry later.")
            self.__dict__["_cursor_secret"] = secret
        return secret

    def index_entries(self, pks: Sequence[str], deadline: Deadline, *, start_ms: int, end_ms: int) -> list[dict]:
        """Every item of these partitions whose event time is in [start_ms, end_ms], from the
        event-time index with only keys, event time and expiry projected (ingest.layout): one lane
        per partition, all at once on the pool, each reading its pages until done, within the deadline."""
        calls = [dict(pk=pk, start_ms=start_ms, end_ms=end_ms, deadline=deadline) for pk in pks]
        return [item for items in self._run(self._index_partition, deadline, calls) for item in items]

    def _index_partition(self, *, pk: str, start_ms: int, end_ms: int, deadline: Deadline) -> list[dict]:
        kwargs: dict = {"TableName": self.settings.events_table, "ProjectionExpression": layout.TIMED_KEY_PROJECTION}
        kwargs.update(layout.partition_query(pk, start_ms=start_ms, end_ms=end_ms))
        return [item for page in _pages(self.dynamodb.query, deadline, kwargs) for item in page.get("Items", [])]

    def items(self, keys: Sequence[ItemKey], deadline: Deadline) -> dict[ItemKey, dict]:
        """Whole stored items by key (consistent BatchGetItem, every chunk of 100 at once on the pool,
        UnprocessedKeys retried with backoff until the deadline); a key not stored is absent."""
        table = self.settings.events_table
        pending = [{table: {"Keys": [key.wire() for key in keys[start : start + READ_CHUNK]], "ConsistentRead": True}}
                   for start in range(0, len(keys), READ_CHUNK)]
        found: dict[ItemKey, dict] = {}
        attempt = 0
        while pending:
            answers = self._run(self.dynamodb.batch_get_item, deadline, [dict(RequestItems=ask) for ask in pending])
            pending = []
            for answer in answers:
                for item in answer.get("Responses", {}).get(table, []):
                    found[ItemKey.of(item)] = item
                if answer.get("UnprocessedKeys"):
                    pending.append(answer["UnprocessedKeys"])
            attempt = self._backoff({"pending": pending} if pending else {}, attempt, deadline)
        return found

    # --- stream records and counts (ingest.layout's stream records) ------------------------------------

    def update_items(self, updates: Sequence[dict], deadline: Deadline) -> None:
        """UpdateItems (ingest.layout's arguments) on the events table, all at once, within the deadline."""
        table = self.settings.events_table
        self._run(self.dynamodb.update_item, deadline, [dict(TableName=table, **update) for update in updates])

    def update_items_alongside(self, updates: Sequence[dict], deadline: Deadline, work):
        """UpdateItems (ingest.layout's arguments) started on the pool at once, while `work()` runs
        (so they add no round trip to the request's critical path); then waited for within the
        deadline, or Unavailable. Answers what `work()` answered; if it raises, the updates are
        left to land or not (each is safe to repeat)."""
        calls = [dict(TableName=self.settings.events_table, **update) for update in updates]
        future = _POOL.submit(_attempts, self.dynamodb.update_item, calls, False)
        result = work()
        done, _ = wait([future], timeout=max(0.0, deadline.remaining()))
        if not done:
            future.cancel()
            raise Unavailable(BUDGET_SPENT)
        if future.exception() is not None:
            raise Unavailable(NOT_ACCEPTED) from future.exception()
        return result

    def put_new(self, put: dict, deadline: Deadline) -> bool:
        """A conditional PutItem (ingest.layout's arguments): False when its condition did not hold."""
        return self._conditional(self.dynamodb.put_item, deadline, TableName=self.settings.events_table,
                                 **put) is not None

    def update_existing(self, update: dict, deadline: Deadline) -> dict | None:
        """A conditional UpdateItem answering the new item; None when its condition did not hold."""
        answer = self._conditional(self.dynamodb.update_item, deadline, TableName=self.settings.events_table,
                                   **update)
        return None if answer is None else answer.get("Attributes")

    def query_items(self, query: dict, deadline: Deadline) -> Iterator[dict]:
        """Items of a Query (ingest.layout's arguments) on the events table, paginated lazily."""
        page = partial(self._call, self.dynamodb.query, deadline)  # each on the pool, within the budget
        for response in _pages(page, deadline, {"TableName": self.settings.events_table, **query}):
            yield from response.get("Items", [])

    def count(self, queries: Sequence[dict], deadline: Deadline) -> list[int]:
        """The Count of each Select=COUNT Query (ingest.layout's arguments), every page of it: the
        queries run at once on the pool, each paginating in its own lane, within the deadline."""
        table = self.settings.events_table
        return self._run(_count_pages(self.dynamodb.query, deadline), deadline,
                         [dict(TableName=table, **query) for query in queries])

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

    def object_keys(self, prefix: str) -> Iterator[str]:
        """Keys of the rejects bucket under a prefix, in key order (an operator's listing)."""
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.settings.rejects_bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def get_object(self, key: str) -> bytes | None:
        """An object of the rejects bucket, or None when there is no such key."""
        try:
            return self.s3.get_object(Bucket=self.settings.rejects_bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def delete_objects(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.s3.delete_object(Bucket=self.settings.rejects_bucket, Key=key)

    # --- plumbing -------------------------------------------------------------------------------

    @classmethod
    def _call(cls, operation, deadline: Deadline, **kwargs) -> dict:
        return cls._run(operation, deadline, [kwargs])[0]

    @staticmethod
    def _start(operation, deadline: Deadline, **kwargs) -> Callable[[], dict]:
        """One call started on the pool now; the returned callable waits for its answer until the
        deadline, raising Unavailable like _run (a call given up on may still land: safe to repeat)."""
        if deadline.remaining() <= 0:
            raise Unavailable(BUDGET_SPENT)
        future = _POOL.submit(_attempts, operation, [kwargs], False)

        def answer() -> dict:
            try:
                return future.result(timeout=max(0.0, deadline.remaining()))[0]
            except TimeoutError as exc:
                future.cancel()
                raise Unavailable(BUDGET_SPENT) from exc
            except Exception as exc:
                raise Unavailable(NOT_ACCEPTED) from exc

        return answer

    @classmethod
    def _conditional(cls, operation, deadline: Deadline, **kwargs) -> dict | None:
        """Like _call, but a failed ConditionExpression is an answer (None), not an outage."""
        answer = cls._run(operation, deadline, [kwargs], conditional=True)[0]
        return None if isinstance(answer, ConditionNotMet) else answer

    @staticmethod
    def _run(operation, deadline: Deadline, calls: Sequence[dict], *, conditional: bool = False) -> list:
        """Run calls at once on the pool and wait for them only until the deadline: their answers in
        order, or Unavailable. With `conditional`, a failed ConditionExpression is an answer
        (ConditionNotMet) rather than an outage."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise Unavailable(BUDGET_SPENT)
        # At most PARALLEL_CALLS lanes; each runs its share of the calls one after another (a future
        # per call would cost more CPU than the stubbed call itself).
        lanes = [list(range(lane, len(calls), PARALLEL_CALLS)) for lane in range(min(PARALLEL_CALLS, len(calls)))]
        futures: list[Future] = [
            _POOL.submit(_attempts, operation, [calls[index] for index in lane], conditional) for lane in lanes
        ]
        done, pending = wait(futures, timeout=remaining, return_when=FIRST_EXCEPTION)
        failed = next((future for future in done if future.exception() is not None), None)
        if failed is not None:
            for future in pending:
                future.cancel()
            raise Unavailable(NOT_ACCEPTED) from failed.exception()
        if pending:
            for future in pending:
                future.cancel()  # not started yet: never sent; started: it may still land (safe to repeat)
            raise Unavailable(BUDGET_SPENT)
        answers: list = [None] * len(calls)
        for lane, future in zip(lanes, futures):
            for index, answer in zip(lane, future.result()):
                answers[index] = answer
        return answers

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


def _attempts(operation, calls: list[dict], conditional: bool) -> list:
    answers = []
    for call in calls:
        try:
            answers.append(operation(**call))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if not (conditional and error.get("Code") == "ConditionalCheckFailedException"):
                raise
            answers.append(ConditionNotMet(exc.response.get("Item")))
    return answers


def _pages(query, deadline: Deadline, kwargs: dict) -> Iterator[dict]:
    """Every page of one Query, following LastEvaluatedKey; Unavailable once the deadline has passed
    (the request has answered 503 already: stop reading)."""
    kwargs = dict(kwargs)
    while True:
        if deadline.expired():
            raise Unavailable(BUDGET_SPENT)
        page = query(**kwargs)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _count_pages(query, deadline: Deadline):
    """A Query call that follows LastEvaluatedKey and answers the summed Count (one lane of `_run`)."""

    def count(**kwargs) -> int:
        return sum(int(page.get("Count", 0)) for page in _pages(query, deadline, kwargs))

    return count
