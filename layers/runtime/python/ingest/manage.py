"""The generic steps of the routes that read back or delete what was stored (RouteKind.READ/DELETE).

A family configures them and nothing more: for a read, where the asked-for event may be
(`Family.lookups`) and how its dialect shows it (`Family.render_stored`, `Family.not_found`); for a
delete, what the request asks (`Family.delete_request`) and how the answer reads
(`Family.render_deleted`). The steps read through `ingest.readback.EventReader`, whose keys always
carry the asking tenant, so no lookup can ever reach another tenant's items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ingest.errors import NotFound
from ingest.readback import EventReader, StoredEvent

if TYPE_CHECKING:
    from ingest.auth import Principal
    from ingest.family import Family, Response
    from ingest.request import Request
    from ingest.store import Deadline, Store

# Time-range deletes go in batches as the index is read: a range larger than one request's budget
# is partly deleted and answered 5xx, and the retry deletes the rest (deleting a missing key is a no-op).
DELETE_BATCH = 100


@dataclass(frozen=True, slots=True)
class ByKey:
    """The event stored under exactly this dedup key (a consistent read of the table), and, with
    `event_time_ms`, only if that is its event time."""

    stream: str
    dedup_key: str
    event_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ByEventTime:
    """An event of the stream whose event time is in [start_ms, end_ms] and whose family attributes
    include `attributes` (all of them)."""

    stream: str
    start_ms: int
    end_ms: int
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ByPrefix:
    """The latest event (event time, then received time) whose dedup key starts with `prefix`."""

    stream: str
    prefix: str


Lookup = ByKey | ByEventTime | ByPrefix


def find(reader: EventReader, lookup: Lookup, deadline: Deadline) -> StoredEvent | None:
    if isinstance(lookup, ByKey):
        stored = reader.get(lookup.stream, lookup.dedup_key, deadline)
        if stored is None or lookup.event_time_ms not in (None, stored.event_time_ms):
            return None
        return stored
    if isinstance(lookup, ByEventTime):
        wanted = dict(lookup.attributes)
        for stored in reader.between(lookup.stream, deadline, lookup.start_ms, lookup.end_ms):
            if all(stored.attributes.get(name) == value for name, value in wanted.items()):
                return stored
        return None
    found = list(reader.with_prefix(lookup.stream, lookup.prefix, deadline))
    return max(found, key=lambda stored: (stored.event_time_ms, stored.received_at), default=None)


def read_event(family: Family, request: Request, principal: Principal, store: Store, deadline: Deadline) -> Response:
    """RouteKind.READ: the first lookup that finds the event answers; none: 404 in the dialect."""
    reader = EventReader(store, family.settings, principal.tenant, family.endpoint.family,
                         _epoch_seconds(request.received_at))
    for lookup in family.lookups(request):
        stored = find(reader, lookup, deadline)
        if stored is not None:
            return family.render_stored(stored, request)
    raise NotFound(family.not_found(request))


@dataclass(frozen=True, slots=True)
class DeleteAsk:
    """What a delete request asks for: events of one stream, by ids or by an event-time range
    (both bounds inclusive). `not_found` is the 404 message when none of the ids is stored."""

    stream: str
    ids: tuple[str, ...] | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    not_found: str = "Nothing stored for this API key matches; nothing was deleted."


def delete_events(family: Family, request: Request, principal: Principal, store: Store,
                  deadline: Deadline) -> Response:
    """RouteKind.DELETE; ids none of which is stored for the tenant are a 404.

    By ids: effective at once (consistent reads of the table). By time range: on the event-time
    index, which is eventually consistent, so events written a moment before may not be covered
    yet (docs/operations.md says so). The table cannot serve a range: its sort key is the dedup
    key, so a consistent range delete would read and filter the whole partition, a cost growing
    with everything kept rather than with the range."""
    ask = family.delete_request(request)
    now = _epoch_seconds(request.received_at)
    reader = EventReader(store, family.settings, principal.tenant, family.endpoint.family, now)
    if ask.ids is not None:
        ids = list(dict.fromkeys(ask.ids))
        keys = {event_id: reader.key(ask.stream, event_id, deadline) for event_id in ids}
        stored = store.existing(list(keys.values()), now, deadline)
        found = [event_id for event_id, key in keys.items() if key in stored]
        if not found:
            raise NotFound(ask.not_found)
        store.delete_events([keys[event_id] for event_id in found], deadline)
        family.streams_changed([ask.stream], principal, store, deadline)
        return family.render_deleted(len(found), [event_id for event_id in ids if event_id not in found])
    deleted, batch = 0, []
    for key in reader.keys_between(ask.stream, ask.start_ms, ask.end_ms, deadline):
        batch.append(key)
        if len(batch) == DELETE_BATCH:
            store.delete_events(batch, deadline)
            deleted, batch = deleted + len(batch), []
    if batch:
        store.delete_events(batch, deadline)
        deleted += len(batch)
    if deleted:
        family.streams_changed([ask.stream], principal, store, deadline)
    return family.render_deleted(deleted, [])


def _epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())
