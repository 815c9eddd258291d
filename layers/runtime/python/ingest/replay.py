"""Export rejects as editable NDJSON, and replay them through the very pipeline a live request takes.

A replay rebuilds the request from the reject's stored metadata (method, path, path parameters,
kept headers, received time, tenant) and the body (as stored, or rebuilt from edited NDJSON lines),
and hands it to `Pipeline.ingest` with the tenant's principal: the same parsing, validation,
dedup and storage as a live request, so a replay can never store what the API would refuse.

* Idempotent. The received time is the original one, so every server-derived field (defaults,
  time windows, dedup keys) is what the live request got, and the dedup write stores an event once
  however often it is replayed. Events sent without the family's generated-id field
  (`FamilySpec.generated_id_field`: the server would generate a random id) get one derived from the
  original request id and index instead, for the same reason.
* Marked. A replayed reject moves to `replayed/` with what the replay did (ingest.rejects), so it
  is not replayed again by mistake (`force` replays it anyway, and is still idempotent).
* A replay that is rejected again leaves a new reject (new request id `<original>-replay-<n>`, the
  new errors, `replay_of` pointing back) in `rejects/`; the original is archived, nothing is lost.
* Storage unavailable, a body over the size cap: nothing moves, the reject stays as it was.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest import catalog
from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError
from ingest.family import Status
from ingest.layout import iso_utc
from ingest.pipeline import Pipeline
from ingest.rejects import GZIP_MAGIC, LINE_FIELDS, REPLAYED, Reject, RejectKey, RejectNotFound, RejectStore
from ingest.request import Request, decode_body
from ingest.settings import Settings
from ingest.spec import RouteKind
from ingest.store import Deadline, Store

_PINNED_IDS = uuid.UUID("6f1e2f5c-3a57-4b8e-9d1e-2b7c0c7e5a10")  # namespace of replay-pinned ids
REPLAY_BUDGET_SECONDS = 60.0


class ReplayError(Exception):
    """A reject or an NDJSON file that cannot be replayed as asked; the message says why."""


@dataclass
class ReplayResult:
    reject: str  # the reject's key in rejects/ (how exports name it)
    request_id: str
    tenant: str
    endpoint: str
    status: str  # stored | rejected | skipped | missing | failed | would-store | would-reject
    message: str = ""
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    replay_request_id: str | None = None
    new_reject: str | None = None
    archived: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("stored", "skipped", "would-store")

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based line number in the NDJSON file
    data: dict

    @property
    def reject(self) -> str:
        return self.data["reject"]

    @property
    def index(self) -> int | None:
        return self.data.get("index")


def read_ndjson(text: str, source: str = "<input>") -> list[Line]:
    """Parse and check every line before anything is replayed: one bad line, nothing happens."""
    lines, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            problems.append(f"{source} line {number}: not JSON ({exc})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{source} line {number}: a line must be a JSON object as `rejects export` writes it")
            continue
        missing = [name for name in LINE_FIELDS if not isinstance(data.get(name), str)]
        if missing:
            problems.append(f"{source} line {number}: missing {', '.join(missing)} (lines come from `rejects export`)")
            continue
        if RejectKey.parse(data["reject"]) is None:
            problems.append(f"{source} line {number}: reject {data['reject']!r} is not a reject key")
            continue
        has_body = "body" in data or "body_base64" in data
        if has_body == ("event" in data):
            problems.append(f"{source} line {number}: a line carries either an event or a body, not "
                            f"{'both' if has_body else 'neither'}")
            continue
        if "event" in data and not (isinstance(data.get("index"), int) and not isinstance(data["index"], bool)):
            problems.append(f"{source} line {number}: an event line needs its integer index")
            continue
        lines.append(Line(number, data))
    seen: dict[tuple[str, int], int] = {}
    for line in lines:
        if line.index is None:
            continue
        first = seen.setdefault((line.reject, line.index), line.number)
        if first != line.number:
            problems.append(f"{source} line {line.number}: event {line.index} of {line.reject} is also on line {first}")
    if problems:
        raise ReplayError("\n".join(problems))
    if not lines:
        raise ReplayError(f"{source}: no lines to replay")
    return lines


def group_lines(lines: Iterable[Line]) -> dict[str, list[Line]]:
    """Lines by reject, in the order rejects first appear; events in index order."""
    groups: dict[str, list[Line]] = {}
    for line in lines:
        groups.setdefault(line.reject, []).append(line)
    return {key: sorted(group, key=lambda line: (line.index is None, line.index or 0)) for key, group in groups.items()}


def _body_field(body: bytes) -> dict:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}


def _line_body(data: dict) -> bytes:
    if "body" in data:
        if not isinstance(data["body"], str):
            raise ReplayError("a body line's `body` must be a string")
        return data["body"].encode("utf-8")
    try:
        return base64.b64decode(data["body_base64"], validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ReplayError(f"`body_base64` is not base64 ({exc})") from exc


def _plain(body: bytes) -> bytes:
    """A stored body as JSON bytes (a body that failed to inflate is kept as received)."""
    if body[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return body
    return body


class Replayer:
    def __init__(self, store: Store, settings: Settings, clock=lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.settings = settings
        self.rejects = RejectStore(store)
        self.clock = clock
        self._pipelines: dict[str, Pipeline] = {}

    def pipeline(self, endpoint_name: str) -> Pipeline:
        if endpoint_name not in self._pipelines:
            try:
                endpoint = catalog.get(endpoint_name)
            except KeyError as exc:
                raise ReplayError(f"endpoint {endpoint_name!r} is not in the catalog (any more)") from exc
            if endpoint.kind is not RouteKind.INGEST:
                raise ReplayError(f"endpoint {endpoint_name!r} stores no events; its rejects cannot be replayed")
            self._pipelines[endpoint_name] = Pipeline(endpoint, self.settings, self.store)
        return self._pipelines[endpoint_name]

    # --- requests -----------------------------------------------------------------------------------

    def request(self, reject: Reject, body: bytes, request_id: str | None = None) -> Request:
        """The request as the pipeline saw it, from the reject's metadata (never from an edited line)."""
        meta = reject.meta
        endpoint = self.pipeline(reject.endpoint).endpoint
        headers = {
            name.lower(): [value]
            for name, value in (meta.get("headers") or {}).items()
            if name.lower() != "content-encoding" and isinstance(value, str)
        }
        if body[:2] == GZIP_MAGIC:  # a body that could not be inflated is kept as received
            headers["content-encoding"] = ["gzip"]
        try:
            received_at = datetime.fromisoformat(meta["received_at"])
        except (KeyError, ValueError) as exc:
            raise ReplayError(f"reject {reject.key.json_key} has no readable received_at") from exc
        return Request(
            request_id=request_id or reject.request_id,
            method=meta.get("method") or endpoint.method,
            path=meta.get("path") or endpoint.path,
            headers=headers,
            path_parameters=dict(meta.get("path_parameters") or {}),
            query={},
            wire_body=body,
            received_at=received_at,
            replay_of=reject.key.live_key,
        )

    def _envelope(self, reject: Reject, body: bytes) -> tuple[Any, list] | None:
        """(document, its events list) of a stored body, or None when the body is not usable JSON."""
        pipeline = self.pipeline(reject.endpoint)
        try:
            request = self.request(reject, body)
            document = json.loads(decode_body(request, pipeline.limits))
            events = pipeline.family.extract(document, request, pipeline.limits)
        except (IngestError, ValueError):
            return None
        return document, events

    @staticmethod
    def _with_events(document: Any, events: list, new_events: list) -> Any:
        """The document with its events replaced (the family's own envelope, found by identity)."""
        if isinstance(document, list):
            return new_events
        if len(events) == 1 and events[0] is document:
            if len(new_events) != 1:
                raise ReplayError("this endpoint takes exactly one event per request")
            return new_events[0]
        for name, value in document.items():
            if value is events:
                return {**document, name: new_events}
        raise ReplayError("cannot tell where the events sit in the stored body")

    # --- export ------------------------------------------------------------------------------------

    def export(self, reject: Reject) -> list[dict]:
        """NDJSON lines of a reject: one per event (all of a whole-request reject's events, since
        none of them was stored; the rejected ones of a partial one), or one with the body when it
        was not usable JSON. A partial reject's line also carries `raw`, the event as the client
        sent it, as text (for reading; a replay from edited lines takes `event`)."""
        meta = reject.meta
        base = {
            "reject": reject.key.live_key,
            "request_id": reject.request_id,
            "tenant": reject.tenant,
            "endpoint": reject.endpoint,
            "family": meta.get("family"),
            "received_at": reject.received_at,
            "method": meta.get("method"),
            "path": meta.get("path"),
            "path_parameters": meta.get("path_parameters") or {},
            "headers": meta.get("headers") or {},
        }
        by_index: dict[int | None, list[dict]] = {}
        for error in reject.errors:
            by_index.setdefault(error.get("index"), []).append(
                {"path": error.get("path", ""), "message": error.get("message", "")}
            )
        if not reject.whole_request:
            try:
                return [
                    {**base, "index": index, "errors": by_index.get(index, []), "event": json.loads(raw),
                     "raw": raw.decode("utf-8")}
                    for index, raw in reject.rejected_events()
                ]
            except ValueError as exc:
                raise ReplayError(str(exc)) from exc
        body = self.rejects.body(reject)
        if body is None:
            raise ReplayError(f"reject {reject.key.json_key}: its body object is missing")
        envelope = self._envelope(reject, _plain(body))
        if envelope is None:
            return [{**base, "index": None, "errors": reject.errors, **_body_field(_plain(body))}]
        _, events = envelope
        return [
            {**base, "index": index, "of": len(events), "errors": by_index.get(index, []), "event": event}
            for index, event in enumerate(events)
        ]

    # --- replay ------------------------------------------------------------------------------------

    def resolve(self, reference: str) -> Reject | None:
        try:
            return self.rejects.find(reference)
        except RejectNotFound:
            return None

    def as_is_body(self, reject: Reject) -> bytes:
        if reject.whole_request:
            body = self.rejects.body(reject)
            if body is None:
                raise ReplayError(f"reject {reject.key.json_key}: its body object is missing")
            return self._pin_ids(reject, body)
        try:
            events = reject.rejected_events()
        except ValueError as exc:
            raise ReplayError(str(exc)) from exc
        if self.pipeline(reject.endpoint).limits.max_events == 1:  # a single-event route takes the object
            body = events[0][1]
        else:
            body = b"[" + b",".join(raw for _, raw in events) + b"]"
        return self._pin_ids(reject, body)

    def edited_body(self, reject: Reject, lines: list[Line]) -> bytes:
        for line in lines:
            for name in ("request_id", "tenant", "endpoint"):
                if line.data[name] != getattr(reject, name):
                    raise ReplayError(
                        f"line {line.number}: {name} {line.data[name]!r} is not the reject's ({getattr(reject, name)!r}); "
                        "a line replays into its own reject's tenant and endpoint only"
                    )
        body_lines = [line for line in lines if "event" not in line.data]
        if body_lines:
            if len(lines) != 1:
                raise ReplayError(f"line {body_lines[0].number}: a body line must be the only line of its reject")
            return self._pin_ids(reject, _line_body(body_lines[0].data))
        new_events = [line.data["event"] for line in lines]
        if reject.whole_request:
            body = self.rejects.body(reject)
            envelope = self._envelope(reject, _plain(body)) if body is not None else None
            if envelope is None:
                raise ReplayError(f"reject {reject.key.json_key}: its stored body is not usable JSON; edit the "
                                  "body line `rejects export` writes for it instead")
            document = self._with_events(*envelope, new_events)
        elif self.pipeline(reject.endpoint).limits.max_events == 1:
            if len(new_events) != 1:
                raise ReplayError(f"line {lines[1].number}: this endpoint takes exactly one event per request")
            document = new_events[0]
        else:
            document = new_events
        return self._pin_ids(reject, json.dumps(document, ensure_ascii=False).encode("utf-8"))

    def _pin_ids(self, reject: Reject, body: bytes) -> bytes:
        """Give events the server would give a random id a stable one instead (see module doc)."""
        field_name = self.pipeline(reject.endpoint).endpoint.spec.generated_id_field
        if field_name is None:
            return body
        envelope = self._envelope(reject, _plain(body))
        if envelope is None:
            return body
        document, events = envelope
        if not any(isinstance(event, dict) and event.get(field_name) is None for event in events):
            return body
        root = reject.meta.get("original_request_id") or reject.request_id
        pinned = [
            {**event, field_name: str(uuid.uuid5(_PINNED_IDS, f"{reject.tenant}/{root}/{index}"))}
            if isinstance(event, dict) and event.get(field_name) is None else event
            for index, event in enumerate(events)
        ]
        return json.dumps(self._with_events(document, events, pinned), ensure_ascii=False).encode("utf-8")

    def replay(self, reference: str, lines: list[Line] | None = None, *, dry_run: bool = False,
               force: bool = False, source: str = "as-is") -> ReplayResult:
        reject = self.resolve(reference)
        parsed = RejectKey.parse(reference)
        if reject is None:
            return ReplayResult(
                parsed.live_key if parsed else reference, parsed.name if parsed else reference,
                parsed.tenant if parsed else "", parsed.endpoint if parsed else "", "missing",
                "no such reject in rejects/ or replayed/ (was its object deleted?); nothing replayed",
            )
        result = ReplayResult(reject.key.live_key, reject.request_id, reject.tenant, reject.endpoint, "stored")
        if reject.key.area == REPLAYED and not force:
            done = reject.meta.get("replay", {})
            result.status = "skipped"
            result.message = (f"already replayed at {done.get('at', '?')} ({done.get('outcome', '?')}, request "
                              f"{done.get('request_id', '?')}); --force replays it again")
            return result
        try:
            body = self.edited_body(reject, lines) if lines is not None else self.as_is_body(reject)
            root = reject.meta.get("original_request_id") or reject.request_id
            replay_id = f"{root}-replay-{uuid.uuid4().hex[:8]}"
            request = self.request(reject, body, replay_id)
        except ReplayError as exc:
            result.status, result.message = "failed", str(exc)
            return result
        pipeline = self.pipeline(reject.endpoint)
        if dry_run:
            return self._dry_run(pipeline, request, result)
        principal = Principal(tenant=reject.tenant, key_prefix="replay")
        result.replay_request_id = replay_id
        try:
            outcome = pipeline.ingest(request, principal, Deadline(REPLAY_BUDGET_SECONDS))
        except BadRequest as error:  # the body as a whole is unusable: the pipeline kept it as a new reject
            result.status, result.message = "rejected", error.message
            result.errors = [violation.as_dict() for violation in error.violations] or [
                {"index": None, "path": "", "message": error.message}
            ]
            result.new_reject = pipeline.reject_key(request, principal).json_key
        except IngestError as error:  # storage unavailable, too large: nothing moves
            result.status, result.message = "failed", f"{error.message} (the reject is left as it was)"
            return result
        else:
            result.stored = outcome.count(Status.STORED)
            result.duplicate = outcome.count(Status.DUPLICATE)
            result.rejected = outcome.count(Status.REJECTED)
            result.errors = [violation.as_dict() for event in outcome.rejected for violation in event.errors]
            result.new_reject = outcome.reject_key
            if result.rejected:
                result.status = "rejected"
                result.message = f"{result.rejected} event(s) rejected again; kept as a new reject"
            else:
                result.message = f"{result.stored} stored, {result.duplicate} already stored"
        self._mark(reject, result, source, root)
        return result

    def _dry_run(self, pipeline: Pipeline, request: Request, result: ReplayResult) -> ReplayResult:
        family = pipeline.family
        try:
            raw_events = family.extract(family.parse(decode_body(request, pipeline.limits), request), request,
                                        pipeline.limits)
        except IngestError as error:
            result.status, result.message = "would-reject", error.message
            result.errors = [violation.as_dict() for violation in error.violations]
            return result
        _, errors = family.validate_request(raw_events, request)
        result.errors = [violation.as_dict() for index in sorted(errors) for violation in errors[index]]
        if family.all_or_nothing and errors:
            result.rejected = len(raw_events)
        else:
            result.rejected = len(errors)
            result.stored = len(raw_events) - len(errors)
        result.status = "would-reject" if errors else "would-store"
        result.message = (f"would store {result.stored} event(s) (new or already stored), reject {result.rejected}; "
                          "nothing written")
        return result

    def _mark(self, reject: Reject, result: ReplayResult, source: str, root: str) -> None:
        record = {
            "at": iso_utc(self.clock()),
            "request_id": result.replay_request_id,
            "source": source,
            "outcome": result.status,
            "stored": result.stored,
            "duplicate": result.duplicate,
            "rejected": result.rejected,
            "new_reject": result.new_reject,
        }
        # A live reject moves to replayed/; a forced replay of an archived one is recorded there.
        result.archived = self.rejects.archive(reject, record).json_key
        if result.new_reject:
            self.rejects.annotate(
                result.new_reject, {"replay_of": result.reject, "original_request_id": root, "replay_source": source}
            )
