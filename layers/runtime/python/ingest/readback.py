"""Read-back of stored events: what the read routes answer and what `python -m cli events list` prints.

How an item is keyed and what it holds is ingest.layout's (StoredEvent is re-exported from there).
Reads are always by partition key, so they can only ever see the asking tenant's items; a stream
with shards (INGEST_STREAM_SHARDS) is read shard by shard. An item past its expiry is never served,
even while DynamoDB has not deleted it yet (up to ~48 h): `layout.is_live`, the rule delete and dedup
use too, decides.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

from ingest import layout
from ingest.layout import ItemKey, StoredEvent, iso_ms
from ingest.settings import Settings
from ingest.store import Deadline, Store

__all__ = ["EventReader", "StoredEvent", "iso_ms", "to_epoch_ms"]


def to_epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class EventReader:
    """Tenant-scoped reads of one family's events."""

    def __init__(self, store: Store, settings: Settings, tenant: str, family: str, now_s: int | None = None) -> None:
        self.store = store
        # The moment liveness is judged at (epoch seconds): the request's received time, or now.
        self.now_s = int(time.time()) if now_s is None else now_s
        self.tenant = tenant
        self.family = family
        self.shards = settings.shards(family)

    def _partitions(self, stream: str, deadline: Deadline) -> layout.Partitions:
        """The stream's partitions under the shard count recorded at its first write."""
        shards = self.store.stream_shards(self.tenant, self.family, stream, self.shards, deadline, record=False)
        return layout.Partitions(self.tenant, self.family, shards)

    def partitions_of(self, streams: tuple[str, ...], deadline: Deadline) -> list[str]:
        """Every partition the streams' events may be in (each stream's shards; the shard records not
        cached yet read in one BatchGetItem)."""
        if len(streams) <= 1:
            return [pk for stream in streams for pk in self._partitions(stream, deadline).of(stream)]
        counts = self.store.streams_shards(self.tenant, self.family, streams, self.shards, deadline)
        partitions = layout.Partitions(self.tenant, self.family, self.shards, counts)
        return [pk for stream in streams for pk in partitions.of(stream)]

    def key(self, stream: str, dedup_key: str, deadline: Deadline) -> ItemKey:
        return self._partitions(stream, deadline).key(stream, dedup_key)

    def get(self, stream: str, dedup_key: str, deadline: Deadline) -> StoredEvent | None:
        item = self.store.event(self.key(stream, dedup_key, deadline), deadline)
        # Keyed windows share the table; only events are read back.
        return StoredEvent.of(item) if item and self._served(item) else None

    def _served(self, item: dict) -> bool:
        """An event (not a window) that is still live."""
        return layout.is_event(item) and layout.is_live(item, self.now_s)

    def between(self, stream: str, deadline: Deadline, start_ms: int | None = None, end_ms: int | None = None,
                limit: int | None = None) -> Iterator[StoredEvent]:
        """A stream's events by event time (bounds inclusive), shard after shard; `limit` is per
        shard (merge and cut the shards' lists for a global order)."""
        for pk in self._partitions(stream, deadline).of(stream):
            # The index carries keys, event time and expiry only (ingest.schema): the live entries'
            # items are read from the table by key, a page of keys at a time, in the index's order.
            live = (ItemKey.of(entry) for entry in self.store.query_events(pk, deadline, start_ms=start_ms,
                                                                         end_ms=end_ms, limit=limit)
                    if layout.is_live(entry, self.now_s))
            for item in self.store.events_in_order(live, deadline):
                if self._served(item):
                    yield StoredEvent.of(item)

    def with_prefix(self, stream: str, sk_prefix: str, deadline: Deadline) -> Iterator[StoredEvent]:
        """A stream's events whose dedup key starts with `sk_prefix`, shard after shard."""
        for pk in self._partitions(stream, deadline).of(stream):
            for item in self.store.query_events(pk, deadline, sk_prefix=sk_prefix):
                if self._served(item):
                    yield StoredEvent.of(item)

    def keys_between(self, stream: str, start_ms: int, end_ms: int, deadline: Deadline) -> Iterator[ItemKey]:
        for pk in self._partitions(stream, deadline).of(stream):
            for item in self.store.query_events(pk, deadline, start_ms=start_ms, end_ms=end_ms, keys_only=True):
                if layout.is_live(item, self.now_s):  # an expired item is absent: not deleted, not counted
                    yield ItemKey.of(item)

    def scan(self, deadline: Deadline, stream: str | None = None, start_ms: int | None = None,
             end_ms: int | None = None) -> Iterator[StoredEvent]:
        """Every event of the tenant's family, filtered here (an operator's listing with no stream)."""
        for item in self.store.scan_events(deadline, tenant=self.tenant, family=self.family):
            if not self._served(item):
                continue
            event = StoredEvent.of(item)
            if stream is not None and event.stream != stream:
                continue
            if start_ms is not None and event.event_time_ms < start_ms:
                continue
            if end_ms is not None and event.event_time_ms > end_ms:
                continue
            yield event
