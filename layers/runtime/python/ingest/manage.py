"""The generic steps of the routes that read back or delete what was stored (RouteKind.READ/DELETE).

A family configures them and nothing more: for a read, where the asked-for event may be
(`Family.lookups`) and how its dialect shows it (`Family.render_stored`, `Family.not_found`); for a
delete, what the request asks (`Family.delete_request`) and how the answer reads
(`Family.render_deleted`). The steps read through `ingest.readback.EventReader`, whose keys always
carry the asking tenant, so no lookup can ever reach another tenant's items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ingest import layout
from ingest.cursor import CursorCodec, CursorInvalid
from ingest.errors import BadRequest, NotFound, Violation
from ingest.layout import ItemKey
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


@dataclass(frozen=True, slots=True)
class AtEventTime:
    """The event of the stream stored at exactly `event_time_ms` whose dedup key `key_matches`
    accepts: keys from the event-time index (keys, time and expiry only), the item then from the
    table (consistent)."""

    stream: str
    event_time_ms: int
    key_matches: Callable[[str], bool] = field(compare=False)


Lookup = ByKey | ByEventTime | ByPrefix | AtEventTime


def find(reader: EventReader, lookup: Lookup, deadline: Deadline) -> StoredEvent | None:
    if isinstance(lookup, ByKey):
        stored = reader.get(lookup.stream, lookup.dedup_key, deadline)
        if stored is None or lookup.event_time_ms not in (None, stored.event_time_ms):
            return None
        return stored
    if isinstance(lookup, AtEventTime):
        entries = reader.store.index_entries(reader.partitions_of((lookup.stream,), deadline), deadline,
                                             start_ms=lookup.event_time_ms, end_ms=lookup.event_time_ms)
        for entry in entries:
            sort_key = ItemKey.of(entry).sk
            if layout.is_live(entry, reader.now_s) and lookup.key_matches(sort_key):
                stored = reader.get(lookup.stream, sort_key, deadline)
                if stored is not None and stored.event_time_ms == lookup.event_time_ms:
                    return stored
        return None
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


# --- queries (RouteKind.QUERY) ------------------------------------------------------------------

# Where a page ends: (event time, the partition within the tenant's family, the sort key). Every
# stored event has one, they are totally ordered, and a new event never changes an old one's.
Position = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class QueryAsk:
    """What a query asks: the events of `streams` whose event time is in [start_ms, end_ms]
    (inclusive) and which `matches` accepts (None: all), in position order, `page_size` a page.
    `criteria` is what the family needs to rebuild the ask from a cursor (plain JSON values)."""

    streams: tuple[str, ...]
    start_ms: int
    end_ms: int
    page_size: int
    criteria: dict[str, Any]
    matches: Callable[[StoredEvent], bool] | None = field(default=None, compare=False)
    # A page also ends before its stored payloads pass this many bytes (at least one event a
    # page), so an answer stays inside Lambda's 6 MB response limit.
    max_page_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Page:
    events: list[StoredEvent]
    total: int  # every event the ask matches, not only this page's
    next_cursor: str | None  # None: this is the last page


def query_events(family: Family, request: Request, principal: Principal, store: Store, deadline: Deadline) -> Response:
    """RouteKind.QUERY: one page of the tenant's events matching the ask, with a signed cursor to the next.

    The ask's keys come from the event-time index (keys, event time and expiry only), every
    partition of every stream at once; expired items are dropped there. They are ordered by
    position, counted, and the page's items are then read from the table (BatchGetItem,
    consistent, chunks in parallel). With a filter (`matches`) every candidate's item is read, to
    count exactly. A cursor holds the ask's criteria and the position of the page's last event,
    signed for this tenant and route: the next page starts strictly after that position, so paging
    neither repeats nor skips an event the index held when the first page was read; an event
    stored later shows on a later page if its position is after the cursor's, else not at all."""
    codec = CursorCodec(store.cursor_secret(deadline), tenant=principal.tenant, route=family.endpoint.name)
    token = family.query_cursor(request)
    criteria: dict | None = None
    after: Position | None = None
    if token is not None:
        try:
            state = codec.open(token)
            (time_ms, partition, sort_key) = state["p"]
            criteria = dict(state["q"])
            after = (int(time_ms), str(partition), str(sort_key))
        except (CursorInvalid, KeyError, TypeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, CursorInvalid) else "the cursor is not one this service issued"
            raise BadRequest(f"Invalid cursor: {message}.", (Violation(None, "cursor", message),)) from exc
    ask = family.query_request(request, criteria)
    reader = EventReader(store, family.settings, principal.tenant, family.endpoint.family,
                         _epoch_seconds(request.received_at))
    partitions = layout.Partitions(principal.tenant, family.endpoint.family)
    entries = store.index_entries(reader.partitions_of(ask.streams, deadline), deadline,
                                  start_ms=ask.start_ms, end_ms=ask.end_ms)
    keys: dict[Position, ItemKey] = {}
    for entry in entries:
        if layout.is_live(entry, reader.now_s):
            key = ItemKey.of(entry)
            keys[(layout.event_time_of(entry), partitions.within(key.pk), key.sk)] = key
    ordered = sorted(keys)

    def stored_at(spots: list[Position]) -> list[tuple[Position, StoredEvent]]:
        items = store.items([keys[spot] for spot in spots], deadline)
        found = []
        for spot in spots:
            item = items.get(keys[spot])
            # Gone from the table since the index saw it (deleted, expired): not an event any more.
            if item is not None and layout.is_event(item) and layout.is_live(item, reader.now_s):
                found.append((spot, StoredEvent.of(item)))
        return found

    wanted = ask.page_size + 1  # one more than a page: whether a next page exists
    if ask.matches is None:
        total = len(ordered)
        rest = [spot for spot in ordered if after is None or spot > after]
        page: list[tuple[Position, StoredEvent]] = []
        start = 0
        while len(page) < wanted and start < len(rest):
            chunk = rest[start : start + wanted - len(page)]
            page += stored_at(chunk)
            start += len(chunk)
    else:
        matched = [(spot, stored) for spot, stored in stored_at(ordered) if ask.matches(stored)]
        total = len(matched)
        page = [(spot, stored) for spot, stored in matched if after is None or spot > after][:wanted]
    more = len(page) > ask.page_size
    page = page[: ask.page_size]
    if ask.max_page_bytes is not None:
        size = 0
        for index, (_, stored) in enumerate(page):
            size += len(stored.payload or b"")
            if size > ask.max_page_bytes and index > 0:
                page, more = page[:index], True
                break
    next_cursor = codec.seal({"q": ask.criteria, "p": list(page[-1][0])}) if more else None
    return family.render_page(Page([stored for _, stored in page], total, next_cursor), ask, request)
