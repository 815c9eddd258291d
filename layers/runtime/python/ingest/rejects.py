"""The reject store as an operator uses it: find, read and export rejects; archive replayed ones.

The pipeline writes one reject per request content that had a rejected event, laid out (and named)
by ingest.layout:

    rejects/tenant=<t>/endpoint=<e>/date=<YYYY-MM-DD>/<name>.json   metadata: errors (index, path,
        message), endpoint, family, tenant, request id, received time, method, path, path parameters,
        the request headers worth keeping (never the credentials)
    rejects/.../<name>.body   the body byte for byte, when the whole request was rejected
        (all-or-nothing families, or a body that could not be used at all)
    rejects/.../<name>.events   partial-acceptance families: only the rejected events, each the
        bytes the client sent for it (its slice of the decoded body), one JSON object a line with its
        errors beside it: {"index": 3, "errors": [...], "event": <the bytes as sent>}; the metadata's
        "events" says where each event's bytes sit in it (index, start, end). Rejects written before
        this kept them base64 under "events" in the metadata; they are still read and replayed.
    rejects/.../<request id>.request   names <name>.json: how an X-Request-Id finds its reject

<name> is the content address of the request (a retry of the same bytes overwrites the same
reject); rejects of the older layout are named after their request id and are found by it too.
A replayed reject moves to `replayed/` (same layout), its metadata extended with what the replay
did, so it cannot be replayed again by mistake and nothing is ever lost.

Export writes NDJSON, one line per event (or per request, when the body was not usable JSON):
everything needed to rebuild the request, the errors of that event, and the event itself, which is
what an operator edits before `rejects replay --from`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from ingest import layout
from ingest.layout import AREAS, REJECTS, REPLAYED, RejectKey
from ingest.store import Deadline, Store
from ingest.types import Iso8601

GZIP_MAGIC = b"\x1f\x8b"
_MOMENT = TypeAdapter(Iso8601)
# One line of an export: the fields that say where it belongs, checked on replay.
LINE_FIELDS = ("reject", "request_id", "tenant", "endpoint")


class RejectNotFound(LookupError):
    """No reject object (in rejects/ or replayed/) for an id or key."""


@dataclass(slots=True)
class Reject:
    key: RejectKey
    meta: dict
    _body: bytes | None = None
    _events: bytes | None = None  # the events object of a partial reject (loaded with it)

    @property
    def request_id(self) -> str:
        return self.meta.get("request_id", self.key.name)

    @property
    def tenant(self) -> str:
        return self.meta.get("tenant", self.key.tenant)

    @property
    def endpoint(self) -> str:
        return self.meta.get("endpoint", self.key.endpoint)

    @property
    def received_at(self) -> str:
        return self.meta.get("received_at", "")

    @property
    def errors(self) -> list[dict]:
        return self.meta.get("errors", [])

    @property
    def whole_request(self) -> bool:
        """The whole request was kept (its body), rather than only its rejected events."""
        return "body_key" in self.meta

    def rejected_events(self) -> list[tuple[int, bytes]]:
        """(index, the bytes the client sent for it) of each rejected event of a partial reject
        (ingest.layout.kept_events; a reject of the older format gives its re-serialized JSON)."""
        try:
            return layout.kept_events(self.meta, self._events)
        except ValueError as exc:
            raise ValueError(f"reject {self.key.json_key}: {exc}") from exc

    def matches(self, text: str) -> bool:
        needle = text.lower()
        return any(needle in f"{error.get('path', '')}: {error.get('message', '')}".lower() for error in self.errors)

    def summary(self) -> dict:
        """What `rejects list` shows of a reject."""
        first = self.errors[0] if self.errors else {}
        return {
            "id": self.request_id,
            "key": self.key.json_key,
            "tenant": self.tenant,
            "endpoint": self.endpoint,
            "received_at": self.received_at,
            "errors": len(self.errors),
            "events": len(self.meta.get("events", [])) if not self.whole_request else None,
            "first_error": f"{first.get('path') or '(request)'}: {first.get('message', '')}" if first else "",
            "replay": self.meta.get("replay"),
        }


def parse_moment(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (no zone: UTC), a date, or a duration back from now (`24h`, `7d`)."""
    text = text.strip()
    duration = re.fullmatch(r"(\d+)([smhdw])", text.lower())
    if duration:
        seconds = int(duration.group(1)) * {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}[duration.group(2)]
        return datetime.fromtimestamp(now.timestamp() - seconds, now.tzinfo)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    try:
        # A CLI argument, not an event: the Powertools parser would read a str as JSON text.
        return _MOMENT.validate_python(text)
    except ValidationError as exc:
        raise ValueError(f"{text!r} is not a time (2024-03-10T23:00:00Z), a date (2024-03-10) or a duration "
                         "back from now (90m, 24h, 7d)") from exc


class RejectStore:
    """Reads and archives rejects through ingest.store.Store (the one module that talks to AWS)."""

    def __init__(self, store: Store, workers: int = 8) -> None:
        self.store = store
        self.workers = workers

    def keys(self, *, area: str = REJECTS, tenant: str | None = None, endpoint: str | None = None,
             since: datetime | None = None, until: datetime | None = None) -> Iterator[RejectKey]:
        """Reject keys, narrowed by S3 prefix (tenant, endpoint) and by their date folder."""
        first_day = since.date().isoformat() if since else None
        last_day = until.date().isoformat() if until else None
        for key in self.store.object_keys(layout.reject_search_prefix(area, tenant, endpoint)):
            parsed = RejectKey.parse(key)
            if parsed is None or (endpoint and parsed.endpoint != endpoint):
                continue
            if (first_day and parsed.day < first_day) or (last_day and parsed.day > last_day):
                continue
            yield parsed

    def load(self, key: RejectKey) -> Reject | None:
        raw = self.store.get_object(key.json_key)
        if raw is None:
            return None
        try:
            meta = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"reject {key.json_key} is not JSON ({exc})") from exc
        events = self.store.get_object(meta["events_key"]) if isinstance(meta.get("events_key"), str) else None
        return Reject(key, meta, _events=events)

    def load_many(self, keys: Iterable[RejectKey]) -> list[Reject]:
        with ThreadPoolExecutor(self.workers) as pool:
            return [reject for reject in pool.map(self.load, keys) if reject is not None]

    def select(self, *, area: str = REJECTS, tenant: str | None = None, endpoint: str | None = None,
               since: datetime | None = None, until: datetime | None = None, error_text: str | None = None,
               limit: int | None = None) -> list[Reject]:
        rejects = []
        for reject in self.load_many(self.keys(area=area, tenant=tenant, endpoint=endpoint, since=since, until=until)):
            received = _received(reject)
            if since and received and received < since:
                continue
            if until and received and received > until:
                continue
            if error_text and not reject.matches(error_text):
                continue
            rejects.append(reject)
        rejects.sort(key=lambda reject: (reject.received_at, reject.request_id))
        return rejects[:limit] if limit else rejects

    def find(self, reference: str, *, tenant: str | None = None) -> Reject:
        """A reject by its S3 key (either area) or its request id (`X-Request-Id`). The live one
        (rejects/) wins over an archived one (replayed/). With `tenant`, only that tenant's rejects
        count: a key of another tenant is not found, whatever its path says."""
        parsed = RejectKey.parse(reference)
        if parsed is not None and tenant is not None and parsed.tenant != tenant:
            raise RejectNotFound(reference)
        candidates = [parsed.moved(REJECTS), parsed.moved(REPLAYED)] if parsed else []
        if not candidates:
            candidates = self._named(reference, tenant)
        for key in candidates:
            reject = self.load(key)
            if reject is not None:
                return reject
        raise RejectNotFound(reference)

    def _named(self, request_id: str, tenant: str | None) -> list[RejectKey]:
        """The rejects a request id names: through its pointer object (ingest.layout.request_pointer),
        or, for a reject of the older layout, its own name."""
        found: list[RejectKey] = []
        for area in AREAS:
            for object_key in self.store.object_keys(layout.reject_search_prefix(area, tenant)):
                if layout.pointed_request(object_key) == request_id:
                    target = RejectKey.parse((self.store.get_object(object_key) or b"").decode("utf-8", "replace"))
                    if target is not None and (tenant is None or target.tenant == tenant):
                        found += [target.moved(REJECTS), target.moved(REPLAYED)]
                else:
                    parsed = RejectKey.parse(object_key)
                    if parsed is not None and parsed.name == request_id:
                        found.append(parsed)
        return list(dict.fromkeys(found))

    def body(self, reject: Reject) -> bytes | None:
        if reject._body is None and reject.whole_request:
            reject._body = self.store.get_object(reject.key.body_key)
        return reject._body

    def archive(self, reject: Reject, replay: dict) -> RejectKey:
        """Move a live reject to replayed/, its metadata extended with `replay`. Written first, deleted
        after: a crash in between leaves the reject in both places, never in neither."""
        target = reject.key.moved(REPLAYED)
        meta = {**reject.meta, "replay": replay, "replays": [*reject.meta.get("replays", []), replay]}
        objects = []
        body = self.body(reject)
        if body is not None:
            meta["body_key"] = target.body_key
            objects.append((target.body_key, body, layout.BODY_CONTENT_TYPE))
        if reject._events is not None:
            meta["events_key"] = target.events_key
            objects.append((target.events_key, reject._events, layout.EVENTS_CONTENT_TYPE))
        objects.append((target.json_key, json.dumps(meta).encode(), layout.META_CONTENT_TYPE))
        self.store.put_objects(objects, Deadline(60))
        if reject.key.area == REJECTS:
            stale = [reject.key.json_key]
            if body is not None:
                stale.append(reject.key.body_key)
            if reject._events is not None:
                stale.append(reject.key.events_key)
            self.store.delete_objects(stale)
        reject.key, reject.meta = target, meta
        return target

    def annotate(self, key: str, fields: dict) -> None:
        """Add fields to a reject's metadata (e.g. which reject a failed replay came from)."""
        raw = self.store.get_object(key)
        if raw is None:
            return
        meta = {**json.loads(raw), **fields}
        self.store.put_objects([(key, json.dumps(meta).encode(), layout.META_CONTENT_TYPE)], Deadline(60))


def _received(reject: Reject) -> datetime | None:
    try:
        return datetime.fromisoformat(reject.received_at)
    except ValueError:
        return None
