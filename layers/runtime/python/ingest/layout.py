"""The storage layout: how events, windows and rejects sit in DynamoDB and S3, built and parsed here only.

Events table (ingest.schema.EVENTS):

    pk = <tenant>#<family>#<stream>[#<shard>]   the stream is the family's (a provider, a dataset, an
                                                event type); the shard (crc32 of the dedup key) only
                                                when the stream has more than one (stream_shards,
                                                as recorded at the stream's first write)
    pk = ~shards#<tenant>#<family>#<stream>,    the stream's shard count (immutable)
    sk = shards
    sk = <dedup key>                            so a duplicate can never become a second item
    pk = ~streams#<tenant>#<family>,            a stream's record (a family's metadata for it, e.g. a
    sk = <stream>                               description; who changed it and when): one Query lists them

An event item carries tenant, family, stream, endpoint, event_time (epoch ms, the by_event_time
index), received_at (RFC 3339 UTC, microseconds), request_id, payload (compact JSON bytes),
expires_at (epoch seconds: the table's TTL) and the strings its family added. A keyed window (a
family's long-lived item that a conditional update keeps open) shares the table under its own
stream, unsharded, and carries no payload, which is how reads tell it from an event.

Rejects bucket:

    <area>tenant=<t>/endpoint=<e>/date=<YYYY-MM-DD>/<name>.json   the metadata
    <area>tenant=<t>/endpoint=<e>/date=<YYYY-MM-DD>/<name>.body   the whole body, byte for byte (a request
                                                                  rejected as a whole)
    <area>tenant=<t>/endpoint=<e>/date=<YYYY-MM-DD>/<name>.events only the rejected events (partial
                                                                  acceptance), each the bytes sent for it
    <area>tenant=<t>/endpoint=<e>/date=<YYYY-MM-DD>/<request id>.request   names <name>.json: one per request
    area = rejects/ (live) or replayed/ (archived after a replay)

The naming rule: <name> is the reject's content address (reject_name), the first 128 bits of
SHA-256 over tenant, endpoint, method, path (a dataset, say) and the body as received (and, for a
replay, the reject it replays, so a replay never overwrites what it replays). A retry of the same
bytes under a new request id (after a 503, say) names the same reject and overwrites it, so an event
is never kept twice; its metadata then names the latest attempt. Each attempt also writes a small
`<request id>.request` pointer beside it, which is how an answer's X-Request-Id finds the reject.
The date folder is the day received, so a retry across midnight UTC keeps a second copy. Rejects
written before this rule are named after their request id (<request id>.json) and still read.

Nothing here talks to AWS (ingest.store does) and nothing here knows a family: families pass their
streams, dedup keys and extra attributes in. The items are DynamoDB's wire format, built directly:
boto3's TypeSerializer over nested dicts would cost ~15 µs an event, a flat item a few.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from ingest.errors import Violation
    from ingest.family import Record
    from ingest.request import Request

# --- items -----------------------------------------------------------------------------------------

EXPIRES_AT = "expires_at"  # the events table's TTL attribute
EVENT_TIME = "event_time"
EVENT_TIME_INDEX = "by_event_time"  # (pk, event_time)
# What the index carries besides its keys (pk, sk, event_time): the expiry, so liveness is judged
# on the index; everything else is read from the table by key.
EVENT_TIME_INDEX_INCLUDE = (EXPIRES_AT,)
# What an event item is made of before its family's attributes: its identity and bookkeeping.
CORE_ATTRIBUTES = frozenset({"pk", "sk", "tenant", "family", "stream", "endpoint", "event_time", "received_at",
                             "request_id", "payload", "expires_at"})
KEY_PROJECTION = "pk, sk"
LIVENESS_PROJECTION = "pk, sk, expires_at"
EVENT_TIME_PROJECTION = "pk, sk, event_time"
# What a query reads from the event-time index: enough to order, page and count (ingest.manage.query_events).
TIMED_KEY_PROJECTION = "pk, sk, event_time, expires_at"
# Bounds of an open time range (epoch ms): year 0001 and year 9999.
MIN_EVENT_MS = -62_135_596_800_000
MAX_EVENT_MS = 253_402_300_799_999


@dataclass(frozen=True, slots=True)
class ItemKey:
    pk: str
    sk: str

    def wire(self) -> dict:
        return {"pk": {"S": self.pk}, "sk": {"S": self.sk}}

    @classmethod
    def of(cls, item: dict) -> ItemKey:
        """The key of a stored item (or of a key-only projection)."""
        return cls(item["pk"]["S"], item["sk"]["S"])


def iso_utc(moment: datetime) -> str:
    """The stored form of a moment (received_at): RFC 3339 UTC with microseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds, e.g. 2024-03-10T23:00:00.000Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- partitions and shards -------------------------------------------------------------------------

# The tenant of what keyless routes keep (e.g. reports of refused keys): the operator's, never a
# customer's. Tenant names start with a letter or digit (ingest.auth.TENANT_PATTERN), so no key's
# tenant can be this one, read it or dedup against it.
KEYLESS_TENANT = "_keyless"


def shard_of(dedup_key: str, shards: int) -> int:
    """The shard of an event: from its dedup key, so the same event always lands on the same shard
    and dedup still holds however many shards a stream is spread over."""
    return zlib.crc32(dedup_key.encode()) % shards


class Partitions:
    """The partitions of one tenant's family: `<tenant>#<family>#<stream>[#<shard>]`.

    Reads by dedup key go straight to the event's shard (`key`); time-range reads fan out over
    every shard of the stream (`of`). A stream's shard count is the one recorded at its first write
    (`stream_shards`, from its shard record); `shards` (the configured count) is for a stream not
    recorded yet."""

    __slots__ = ("prefix", "shards", "stream_shards")

    def __init__(self, tenant: str, family: str, shards: int = 1, stream_shards: Mapping[str, int] | None = None) -> None:
        self.prefix = f"{tenant}#{family}#"
        self.shards = shards
        self.stream_shards = stream_shards or {}

    def count(self, stream: str) -> int:
        return self.stream_shards.get(stream, self.shards)

    def key(self, stream: str, dedup_key: str) -> ItemKey:
        shards = self.count(stream)
        if shards == 1:
            return ItemKey(self.prefix + stream, dedup_key)
        return ItemKey(f"{self.prefix}{stream}#{shard_of(dedup_key, shards)}", dedup_key)

    def within(self, pk: str) -> str:
        """A partition key of these partitions without the tenant and family (`<stream>[#<shard>]`):
        what a query cursor names, so it carries no tenant."""
        if not pk.startswith(self.prefix):
            raise ValueError("not a partition of this tenant's family")
        return pk[len(self.prefix):]

    def of(self, stream: str) -> list[str]:
        """Every partition a stream's events may be in (one per shard)."""
        shards = self.count(stream)
        if shards == 1:
            return [self.prefix + stream]
        return [f"{self.prefix}{stream}#{shard}" for shard in range(shards)]


# A stream's shard count, fixed at its first write: one immutable item per stream, under a partition
# no event can have (a tenant never starts with "~"). The shard of an event is crc32(dedup key) %
# count, so a count that changed under a stream would lose its events to reads, dedup and delete.
SHARD_RECORD_SK = "shards"


def shard_record_key(tenant: str, family: str, stream: str) -> ItemKey:
    return ItemKey(f"~shards#{tenant}#{family}#{stream}", SHARD_RECORD_SK)


def shard_record(key: ItemKey, shards: int, recorded_at: datetime) -> dict:
    """PutItem arguments: record the count unless the stream has one already (the first writer wins;
    the record never expires: it outlives the events it describes)."""
    return {
        "Item": {**key.wire(), "shards": {"N": str(shards)}, "recorded_at": {"S": iso_utc(recorded_at)}},
        "ConditionExpression": "attribute_not_exists(pk)",
    }


def recorded_shards(item: dict) -> int:
    return int(item["shards"]["N"])


# --- stream records (a family's per-stream metadata: what a family calls a dataset, say) -----------
# One item per stream a tenant's family has: pk = ~streams#<tenant>#<family>, sk = <stream>, so one
# Query lists a tenant's streams and no event partition (a tenant never starts with "~") nor another
# tenant's can be reached. It has no event_time (never in the event-time index, never counted as an
# event) and no payload (never read back as one); created_at/by, updated_at/by and the family's own
# strings (a description). `by` is the key's prefix, never the secret.
STREAM_RECORD_ATTRIBUTES = ("stream", "created_at", "created_by", "updated_at", "updated_by")


def stream_records_pk(tenant: str, family: str) -> str:
    return f"~streams#{tenant}#{family}"


def stream_record_key(tenant: str, family: str, stream: str) -> ItemKey:
    return ItemKey(stream_records_pk(tenant, family), stream)


def stream_record_touch(key: ItemKey, at: datetime, by: str) -> dict:
    """UpdateItem arguments: the stream changed (an ingest or a delete); creates its record when it
    has none (the first event of a new stream makes it), never touching what the family set."""
    now = {"S": iso_utc(at)}
    return {
        "Key": key.wire(),
        "UpdateExpression": "SET #stream = :stream, updated_at = :now, updated_by = :by, "
                            "created_at = if_not_exists(created_at, :now), created_by = if_not_exists(created_by, :by)",
        "ExpressionAttributeNames": {"#stream": "stream"},
        "ExpressionAttributeValues": {":stream": {"S": key.sk}, ":now": now, ":by": {"S": by}},
    }


def stream_record_create(key: ItemKey, at: datetime, by: str, strings: Mapping[str, str]) -> dict:
    """PutItem arguments: a new record, refused (condition) when the stream has one already."""
    now = {"S": iso_utc(at)}
    item = {**key.wire(), "stream": {"S": key.sk}, "created_at": now, "created_by": {"S": by}, "updated_at": now,
            "updated_by": {"S": by}, **{name: {"S": value} for name, value in strings.items()}}
    return {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}


def stream_record_update(key: ItemKey, at: datetime, by: str, strings: Mapping[str, str]) -> dict:
    """UpdateItem arguments: set the family's strings of an existing record (condition), answering the new record."""
    names = {"#stream": "stream", **{f"#s{i}": name for i, name in enumerate(strings)}}
    values = {":now": {"S": iso_utc(at)}, ":by": {"S": by},
              **{f":s{i}": {"S": value} for i, value in enumerate(strings.values())}}
    sets = ["updated_at = :now", "updated_by = :by", *(f"#s{i} = :s{i}" for i in range(len(strings)))]
    return {
        "Key": key.wire(),
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": "attribute_exists(#stream)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }


def stream_records_query(tenant: str, family: str) -> dict:
    """Query arguments: every stream record of a tenant's family (consistent)."""
    return {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": stream_records_pk(tenant, family)}},
            "ConsistentRead": True}


def stream_record_of(item: dict) -> dict[str, str]:
    """A stored stream record as plain strings (stream, created_at, ..., the family's own)."""
    return {name: value["S"] for name, value in item.items() if name not in ("pk", "sk") and "S" in value}


def live_count_query(pk: str, now_s: int) -> dict:
    """Query arguments that count one partition's live events (Select COUNT): on the event-time
    index, so only events (and windows, which a counted family must not have) are seen, and the
    index's items are read, not the payloads; filtered on expiry with `is_live`'s rule. Works
    whether the index projects ALL or only keys, event time and expires_at."""
    return {
        "IndexName": EVENT_TIME_INDEX,
        "KeyConditionExpression": "pk = :pk",
        "FilterExpression": "attribute_not_exists(expires_at) OR expires_at > :now",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":now": {"N": str(now_s)}},
        "Select": "COUNT",
    }


def partition_keys_query(pk: str) -> dict:
    """Query arguments: the keys (and expiry) of every item of one partition, from the table
    (consistent), so a delete of a whole stream misses nothing written before it started."""
    return {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ProjectionExpression": LIVENESS_PROJECTION, "ConsistentRead": True}


# --- expiry ----------------------------------------------------------------------------------------


def expires_at(moment_s: int, retention_seconds: int) -> int:
    """When an item kept `retention_seconds` from `moment_s` (epoch seconds) expires: its TTL, and
    so how long its dedup key holds."""
    return moment_s + retention_seconds


# DynamoDB refuses an item over 400 KB (names and values): a payload over this leaves room for the
# keys and the other attributes, and is the client's mistake (a 400 naming the event), never a 500.
MAX_PAYLOAD_BYTES = 350 * 1024


def keep_first(now_s: int) -> tuple[str, dict]:
    """The condition of a keep-first write: nothing live is stored under the key (an item past its
    expiry counts as absent, as `is_live` says). Two racing writers: one wins, one is a duplicate."""
    return "attribute_not_exists(pk) OR expires_at <= :now", {":now": {"N": str(now_s)}}


def newer_wins(now_s: int, received_at: datetime) -> tuple[str, dict]:
    """The condition of an overwrite: nothing live is stored, or what is stored was received no
    later than this event (the same request retried overwrites itself). A replayed or delayed
    event, received earlier, never overwrites a newer one. (received_at is fixed-width UTC text,
    so it compares in time order.)"""
    return ("attribute_not_exists(pk) OR expires_at <= :now OR received_at <= :received",
            {":now": {"N": str(now_s)}, ":received": {"S": iso_utc(received_at)}})


def is_live(item: dict, now_s: int) -> bool:
    """The one liveness rule: an item counts as stored while its expiry is after `now_s` (epoch
    seconds). DynamoDB deletes expired items up to ~48 h late; until then they are gone to us: read,
    delete and dedup all ask this. An item without an expiry never expires (as the write conditions
    `keep_first` and `newer_wins` see it: `expires_at <= :now` is false when it is absent)."""
    return "expires_at" not in item or int(item["expires_at"]["N"]) > now_s


# --- event items -----------------------------------------------------------------------------------


class EventItems:
    """The items of one request's events. What every item of the request shares (tenant, family,
    endpoint, request, received time, expiry) is formatted once; `item` adds one event's own."""

    __slots__ = ("tenant", "family", "endpoint", "request_id", "received_at", "expires_at")

    def __init__(self, *, tenant: str, family: str, endpoint: str, request_id: str, received_at: datetime,
                 expires_at: int) -> None:
        self.tenant = tenant
        self.family = family
        self.endpoint = endpoint
        self.request_id = request_id
        self.received_at = iso_utc(received_at)
        self.expires_at = str(expires_at)

    def item(self, key: ItemKey, record: Record) -> dict:
        item = {
            "pk": {"S": key.pk},
            "sk": {"S": key.sk},
            "tenant": {"S": self.tenant},
            "family": {"S": self.family},
            "stream": {"S": record.stream},
            "endpoint": {"S": self.endpoint},
            "event_time": {"N": str(record.event_time_ms)},
            "received_at": {"S": self.received_at},
            "request_id": {"S": self.request_id},
            "payload": {"B": record.payload},
            "expires_at": {"N": self.expires_at},
        }
        for name, value in record.attributes.items():
            item[name] = {"S": value}
        return item


def is_event(item: dict) -> bool:
    """An event, not a window (the table holds both; only events carry a payload)."""
    return "payload" in item


def event_time_of(item: dict) -> int:
    return int(item["event_time"]["N"])


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
    # The event's bytes as stored: what the client's event was, kept verbatim (never re-serialized:
    # a family may store numbers a float cannot hold, e.g. 1e400 or 2**70+1, digit for digit).
    payload: bytes | None
    attributes: dict[str, str] = field(default_factory=dict)  # the strings the family added
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
            payload=bytes(item["payload"]["B"]) if "payload" in item else None,
            attributes={name: value["S"] for name, value in item.items() if name not in CORE_ATTRIBUTES and "S" in value},
            expires_at=int(item["expires_at"]["N"]) if "expires_at" in item else None,
        )

    @property
    def event_time(self) -> str:
        return iso_ms(self.event_time_ms)

    @property
    def event(self) -> orjson.Fragment | None:
        """The event to embed in an orjson answer: the stored bytes verbatim, not parsed and re-dumped."""
        return None if self.payload is None else orjson.Fragment(self.payload)

    def document(self) -> object:
        """The event parsed, for a family that reads its own fields back (its payload is plain JSON
        it wrote itself); a float-unsafe number comes back as a float or fails, so never answer with it."""
        return None if self.payload is None else orjson.loads(self.payload)

    def as_dict(self) -> dict:
        """The operator's view (`events list --json`, dumped with orjson: the event verbatim)."""
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
            "event": self.event,
        }


# --- reading by partition --------------------------------------------------------------------------


def partition_query(pk: str, *, start_ms: int | None = None, end_ms: int | None = None,
                    sk_prefix: str | None = None) -> dict:
    """Query arguments for one partition's items: with `sk_prefix`, those whose dedup key starts with
    it (the table itself, consistent); otherwise by event time on the index, bounds inclusive (an
    open bound is year 1 or year 9999)."""
    query: dict = {}
    values: dict = {":pk": {"S": pk}}
    condition = "pk = :pk"
    if sk_prefix is not None:
        condition += " AND begins_with(sk, :prefix)"
        values[":prefix"] = {"S": sk_prefix}
        query["ConsistentRead"] = True
    else:
        query["IndexName"] = EVENT_TIME_INDEX
        if start_ms is not None or end_ms is not None:
            condition += " AND event_time BETWEEN :start AND :end"
            values[":start"] = {"N": str(start_ms if start_ms is not None else MIN_EVENT_MS)}
            values[":end"] = {"N": str(end_ms if end_ms is not None else MAX_EVENT_MS)}
    query.update(KeyConditionExpression=condition, ExpressionAttributeValues=values)
    return query


def owner_filter(tenant: str, family: str | None = None) -> dict:
    """Scan filter arguments for the items of a tenant (and family)."""
    condition, values = "tenant = :tenant", {":tenant": {"S": tenant}}
    if family:
        condition += " AND #family = :family"
        values[":family"] = {"S": family}
    return {
        "FilterExpression": condition,
        "ExpressionAttributeValues": values,
        **({"ExpressionAttributeNames": {"#family": "family"}} if family else {}),
    }


# --- keyed windows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A keyed window: one item that stays open until `open_until`. While it is open a conditional
    update extends it and keeps its id; once it has timed out, a conditional put starts a new one
    under `new_id` (ingest.store.Store.open_or_refresh runs the two)."""

    key: ItemKey
    id_attribute: str
    new_id: str
    now_ms: int
    open_until_ms: int
    expires_at: int
    attributes: dict[str, str]  # tenant, family, stream, the family's own, request_id

    def refresh(self) -> dict:
        """UpdateItem arguments: extend the window if it is open at `now_ms` and would end sooner.
        Windows only ever grow: a delayed or replayed event never shrinks or closes a live one
        (when the condition fails, `is_open_past` tells whether it is open long enough already)."""
        return {
            "Key": self.key.wire(),
            "UpdateExpression": "SET open_until = :until, refreshed_at = :now, expires_at = :expires ADD refreshes :one",
            "ConditionExpression": "open_until > :now AND open_until < :until",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ExpressionAttributeValues": {
                ":until": {"N": str(self.open_until_ms)},
                ":now": {"N": str(self.now_ms)},
                ":expires": {"N": str(self.expires_at)},
                ":one": {"N": "1"},
            },
            "ReturnValues": "ALL_NEW",
        }

    def opening(self) -> dict:
        """PutItem arguments: a new window, unless an open one is there already."""
        now = {"N": str(self.now_ms)}
        item = {
            **self.key.wire(),
            **{name: {"S": value} for name, value in self.attributes.items()},
            self.id_attribute: {"S": self.new_id},
            "opened_at": now,
            "event_time": now,
            "open_until": {"N": str(self.open_until_ms)},
            "refreshed_at": now,
            "refreshes": {"N": "0"},
            "expires_at": {"N": str(self.expires_at)},
        }
        return {
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk) OR open_until <= :now",
            "ExpressionAttributeValues": {":now": now},
        }

    def id_of(self, item: dict) -> str:
        """The id of a stored window (what a refresh returned)."""
        return item[self.id_attribute]["S"]

    def is_open_past(self, item: dict | None) -> bool:
        """A stored window that is open now and already lasts at least as long as this one would."""
        return bool(item) and "open_until" in item and int(item["open_until"]["N"]) > self.now_ms \
            and int(item["open_until"]["N"]) >= self.open_until_ms


def window(tenant: str, family: str, stream: str, window_id: str, *, id_attribute: str, new_id: str, now_ms: int,
           open_until_ms: int, retention_seconds: int, request_id: str,
           attributes: Mapping[str, str] | None = None) -> Window:
    """The window `window_id` of a tenant's family, under its own stream: one partition (a window is
    written once a request, never hot, so it is not sharded). It outlives its last refresh by the
    family's retention, like its events."""
    return Window(
        key=ItemKey(f"{tenant}#{family}#{stream}", window_id),
        id_attribute=id_attribute,
        new_id=new_id,
        now_ms=now_ms,
        open_until_ms=open_until_ms,
        expires_at=expires_at(open_until_ms // 1000, retention_seconds),
        attributes={"tenant": tenant, "family": family, "stream": stream, **(attributes or {}),
                    "request_id": request_id},
    )


# --- reject objects --------------------------------------------------------------------------------

REJECTS = "rejects/"  # live rejects
REPLAYED = "replayed/"  # rejects a replay has dealt with (same layout)
AREAS = (REJECTS, REPLAYED)
META_CONTENT_TYPE = "application/json"
BODY_CONTENT_TYPE = "application/octet-stream"
EVENTS_CONTENT_TYPE = "text/plain; charset=utf-8"  # JSON objects, one a line (an event's own may span lines)
REQUEST_CONTENT_TYPE = "text/plain; charset=utf-8"
_REJECT_FOLDER = (r"(?P<area>rejects|replayed)/tenant=(?P<tenant>[^/]+)/endpoint=(?P<endpoint>[^/]+)/"
                  r"date=(?P<date>\d{4}-\d{2}-\d{2})/")
_REJECT_KEY = re.compile(_REJECT_FOLDER + r"(?P<name>[^/]+)\.json")
_REQUEST_KEY = re.compile(_REJECT_FOLDER + r"(?P<request_id>[^/]+)\.request")


def reject_name(tenant: str, endpoint: str, method: str, path: str, body: bytes, replay_of: str = "") -> str:
    """The name of a request's reject: its content address, SHA-256 of who sent what where (and,
    for a replay, of which reject it replays), so a retry of the same bytes, under a new request id,
    names the same reject and overwrites it rather than keeping a second copy."""
    digest = hashlib.sha256()
    for part in (tenant, endpoint, method, path, replay_of):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(encoded) + encoded)
    digest.update(body)
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RejectKey:
    area: str  # REJECTS or REPLAYED
    tenant: str
    endpoint: str
    day: str  # YYYY-MM-DD the request was received (UTC)
    name: str  # reject_name (a reject of the older layout: the request id)

    @classmethod
    def of(cls, tenant: str, endpoint: str, received_at: datetime, name: str, area: str = REJECTS) -> RejectKey:
        return cls(area, tenant, endpoint, received_at.strftime("%Y-%m-%d"), name)

    @classmethod
    def parse(cls, key: str) -> RejectKey | None:
        """A metadata object's key in either area, or None for anything else (a body, a stray object)."""
        match = _REJECT_KEY.fullmatch(key)
        if not match:
            return None
        return cls(match["area"] + "/", match["tenant"], match["endpoint"], match["date"], match["name"])

    @property
    def stem(self) -> str:
        """The key without its suffix: what the metadata and the body objects share."""
        return f"{self.folder}{self.name}"

    @property
    def folder(self) -> str:
        return f"{self.area}tenant={self.tenant}/endpoint={self.endpoint}/date={self.day}/"

    @property
    def json_key(self) -> str:
        return self.stem + ".json"

    @property
    def events_key(self) -> str:
        return self.stem + ".events"

    @property
    def body_key(self) -> str:
        return self.stem + ".body"

    def moved(self, area: str) -> RejectKey:
        return RejectKey(area, self.tenant, self.endpoint, self.day, self.name)

    @property
    def live_key(self) -> str:
        """The key in rejects/, which is how exports name a reject wherever it is now."""
        return self.moved(REJECTS).json_key


def request_pointer(key: RejectKey, request_id: str) -> tuple[str, bytes, str]:
    """The object that names the reject of request `request_id` (its X-Request-Id): beside the
    reject, `<request id>.request`, holding the reject's metadata key. One per request that led to
    the reject, so every attempt's X-Request-Id still finds it."""
    return f"{key.folder}{request_id}.request", key.json_key.encode(), REQUEST_CONTENT_TYPE


def pointed_request(object_key: str) -> str | None:
    """The request id a pointer object (request_pointer) is named after, or None for any other key."""
    match = _REQUEST_KEY.fullmatch(object_key)
    return match["request_id"] if match else None


def reject_search_prefix(area: str = REJECTS, tenant: str | None = None, endpoint: str | None = None) -> str:
    """The S3 prefix that lists an area's rejects, narrowed to a tenant (and then an endpoint)."""
    prefix = area
    if tenant:
        prefix += f"tenant={tenant}/"
        if endpoint:
            prefix += f"endpoint={endpoint}/"
    return prefix


def reject_meta(key: RejectKey, request: Request, *, family: str, violations: Iterable[Violation],
                kept_headers: Sequence[str]) -> dict:
    """A reject's metadata: where the request came from and why it was refused. Of the request's
    headers only `kept_headers` are kept (never the credentials). A retry overwrites it: it names
    the latest attempt (its request id and received time)."""
    return {
        "request_id": request.request_id,
        "tenant": key.tenant,
        "endpoint": key.endpoint,
        "family": family,
        "method": request.method,
        "path": request.path,
        "path_parameters": request.path_parameters,
        "headers": {name: request.header(name) for name in kept_headers if request.header(name) is not None},
        "received_at": iso_utc(request.received_at),
        "errors": [violation.as_dict() for violation in violations],
    }


def body_reject(key: RejectKey, meta: dict, body: bytes) -> list[tuple[str, bytes, str]]:
    """The objects of a whole-request reject: the body, byte for byte, then the metadata naming it,
    then the request's pointer (written last: it names what is complete)."""
    meta = {**meta, "body_key": key.body_key}
    return [(key.body_key, body, BODY_CONTENT_TYPE), (key.json_key, orjson.dumps(meta), META_CONTENT_TYPE),
            request_pointer(key, meta["request_id"])]


def events_reject(key: RejectKey, meta: dict, body: bytes, slices: Mapping[int, tuple[int, int]],
                  errors: Mapping[int, Sequence[dict]]) -> list[tuple[str, bytes, str]]:
    """The objects of a partial reject: only the rejected events, so the accepted ones' dropped
    fields are not kept anywhere. The events object holds, for each rejected event (index →
    (start, end) of its bytes in the decoded body), one JSON object starting on a line of its own,
    `{"index": 3, "errors": [...], "event": <the bytes the client sent for it>}`: readable and
    greppable as text, never a re-serialization. The metadata names the object and, per event, where
    its bytes sit in it (`start`, `end`), so a reader takes them back byte for byte."""
    blob = bytearray()
    entries = []
    for index, (start, end) in slices.items():
        head = {"index": index, "errors": list(errors.get(index, ()))}
        blob += orjson.dumps(head)[:-1] + b',"event":'
        entries.append({"index": index, "start": len(blob), "end": len(blob) + end - start})
        blob += body[start:end]
        blob += b"}\n"
    meta = {**meta, "events_key": key.events_key, "events": entries}
    return [(key.events_key, bytes(blob), EVENTS_CONTENT_TYPE), (key.json_key, orjson.dumps(meta), META_CONTENT_TYPE),
            request_pointer(key, meta["request_id"])]


def kept_events(meta: dict, events: bytes | None) -> list[tuple[int, bytes]]:
    """(index, the event's bytes) of each rejected event a partial reject keeps: sliced from its
    events object (`events`, the object `meta["events_key"]` names), or, in a reject written before
    events objects existed, base64 under the metadata's "events" (re-serialized JSON, still
    replayable). Raises ValueError when they cannot be read."""
    kept = []
    for entry in meta.get("events", []):
        try:
            index = int(entry["index"])
            if "raw" in entry:  # the older format
                kept.append((index, base64.b64decode(entry["raw"], validate=True)))
                continue
            if events is None:
                raise ValueError(f"its events object {meta.get('events_key')!r} is missing")
            start, end = int(entry["start"]), int(entry["end"])
            if not 0 <= start <= end <= len(events):
                raise ValueError(f"event {index} lies outside its events object")
            kept.append((index, events[start:end]))
        except (KeyError, ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"reject {meta.get('request_id', '?')}: a kept event is not readable ({exc})") from exc
    return kept
