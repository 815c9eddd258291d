"""Read-back of stored events: what the read routes answer and what `python -m cli events list` prints.

An item is `pk = <tenant>#<family>#<stream>[#<shard>]`, `sk = <dedup key>`, with the event's time,
the time it was received, the request that stored it and the payload as compact JSON bytes
(ingest.pipeline). Reads are always by partition key, so they can only ever see the asking
tenant's items; a stream with shards (INGEST_STREAM_SHARDS) is read shard by shard.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from ingest.pipeline import partition_key, partition_keys
from ingest.settings import Settings
from ingest.store import Deadline, ItemKey, Store

# Item attributes that are the item's identity or bookkeeping, not something a family added.
_CORE = frozenset({"pk", "sk", "tenant", "family", "stream", "endpoint", "event_time", "received_at", "request_id",
                   "payload", "expires_at"})


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds, e.g. 2024-03-10T23:00:00.000Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    tenant: str
    family: str
    stream: str
    id: str  # the dedup key (the item's sort key)
    event_time_ms: int
    received_at: str
    request_id: str
    endpoint: str
    payload: object  # the event as stored, parsed
    attributes: dict[str, str] = field(default_factory=dict)  # what the family added (e.g. service)
    expires_at: int | None = None

    @classmethod
    def of(cls, item: dict) -> StoredEvent:
        return cls(
            tenant=item["tenant"]["S"],
            family=item["family"]["S"],
            stream=item["stream"]["S"],
            id=item["sk"]["S"],
            event_time_ms=int(item["event_time"]["N"]),
            received_at=item.get("received_at", {}).get("S", ""),
            request_id=item.get("request_id", {}).get("S", ""),
            endpoint=item.get("endpoint", {}).get("S", ""),
            payload=orjson.loads(item["payload"]["B"]) if "payload" in item else None,
            attributes={name: value["S"] for name, value in item.items() if name not in _CORE and "S" in value},
            expires_at=int(item["expires_at"]["N"]) if "expires_at" in item else None,
        )

    @property
    def event_time(self) -> str:
        return iso_ms(self.event_time_ms)

    def as_dict(self) -> dict:
        """The operator's view (`events list --json`)."""
        return {
            "tenant": self.tenant,
            "family": self.family,
            "stream": self.stream,
            "id": self.id,
            "event_time": self.event_time,
            "received_at": self.received_at,
            "request_id": self.request_id,
            "endpoint": self.endpoint,
            "attributes": self.attributes,
            "event": self.payload,
        }


class EventReader:
    """Tenant-scoped reads of one family's events."""

    def __init__(self, store: Store, settings: Settings, tenant: str, family: str) -> None:
        self.store = store
        self.tenant = tenant
        self.family = family
        self.prefix = f"{tenant}#{family}#"
        self.shards = settings.shards(family)

    def key(self, stream: str, dedup_key: str) -> ItemKey:
        return ItemKey(partition_key(self.prefix, stream, dedup_key, self.shards), dedup_key)

    def get(self, stream: str, dedup_key: str, deadline: Deadline) -> StoredEvent | None:
        item = self.store.event(self.key(stream, dedup_key), deadline)
        # Stored items are events; the ops family's problem windows share the table but carry no payload.
        return StoredEvent.of(item) if item and "payload" in item else None

    def between(self, stream: str, deadline: Deadline, start_ms: int | None = None, end_ms: int | None = None,
                limit: int | None = None) -> Iterator[StoredEvent]:
        """A stream's events by event time (bounds inclusive), shard after shard; `limit` is per
        shard (merge and cut the shards' lists for a global order)."""
        for pk in partition_keys(self.prefix, stream, self.shards):
            for item in self.store.query_events(pk, deadline, start_ms=start_ms, end_ms=end_ms, limit=limit):
                if "payload" in item:
                    yield StoredEvent.of(item)

    def with_prefix(self, stream: str, sk_prefix: str, deadline: Deadline) -> Iterator[StoredEvent]:
        """A stream's events whose dedup key starts with `sk_prefix`, shard after shard."""
        for pk in partition_keys(self.prefix, stream, self.shards):
            for item in self.store.query_events(pk, deadline, sk_prefix=sk_prefix):
                if "payload" in item:
                    yield StoredEvent.of(item)

    def keys_between(self, stream: str, start_ms: int, end_ms: int, deadline: Deadline) -> Iterator[ItemKey]:
        for pk in partition_keys(self.prefix, stream, self.shards):
            for item in self.store.query_events(pk, deadline, start_ms=start_ms, end_ms=end_ms, keys_only=True):
                yield ItemKey(item["pk"]["S"], item["sk"]["S"])

    def scan(self, deadline: Deadline, stream: str | None = None, start_ms: int | None = None,
             end_ms: int | None = None) -> Iterator[StoredEvent]:
        """Every event of the tenant's family, filtered here (an operator's listing with no stream)."""
        for item in self.store.scan_events(deadline, tenant=self.tenant, family=self.family):
            if "payload" not in item:
                continue
            event = StoredEvent.of(item)
            if stream is not None and event.stream != stream:
                continue
            if start_ms is not None and event.event_time_ms < start_ms:
                continue
            if end_ms is not None and event.event_time_ms > end_ms:
                continue
            yield event
