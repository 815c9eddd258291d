"""Ops events, wire-compatible with Events API v1 `POST /api/v1/events` (`postEvent`, seed 004).

The body is one `EventCreation` object. Information-only events are stored under a dedup key and
answered with event ids; problem-opening events open (or refresh) a problem and are answered with
its correlation id. Every violation of the model, the per-type matrix and the time windows is
listed in one 400 answer in the original's `ErrorEnvelope` shape; the raw body goes to S3.

Storage (pk = `<tenant>#ops#<stream>`):

* every accepted event: stream = its eventType, sk = `info#<event id>` or
  `problem#<correlation id>#<digest>`; the digest covers the canonical event (nulls and ignored
  fields dropped) with start/end as sent, plus the minute it was received when start or end was
  left to default, and an information-only event's id (`storedEventIds`) is a 64-bit hash of
  (tenant, type, `info#<digest>`). A retried identical request is therefore one item; the same body
  without a start sent in a later minute is a new event, as it would be in the original. Keying an
  information-only event by its id is what lets `GET /api/v1/events/<id>_<start>` read it from the
  table itself, consistently, instead of the eventually consistent event-time index.
* one problem item per distinct problem: stream `problem`, sk = a digest of the canonical event
  without start/end/timeoutMinutes. A conditional update keeps it open (`open_until`) while it is
  refreshed; once it has timed out, the same payload opens a new problem with a new correlation id.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from ingest import layout
from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError, Violation
from ingest.family import Family, Outcome, Record, Response, Status, format_path, json_response
from ingest.families.ops.model import (
    DEFAULT_TIMEOUT_MINUTES,
    ENTITY_TYPES,
    IGNORED_FOR_INFO,
    IGNORED_FOR_PROBLEM,
    MINUTE_MS,
    TAG_CONTEXTS,
    EventType,
    OpsEvent,
    drop_nulls,
    event_type_of,
    matrix_violations,
    time_violations,
)
from ingest.request import Request
from ingest.spec import Limits, RouteKind
from ingest.store import Deadline, Store
from ingest.types import epoch_ms
from ingest.validation import parse_model

PROBLEM_STREAM = "problem"  # lower case: can never equal an eventType stream
PAYLOAD_BODY = "PAYLOAD_BODY"


def canonical_json(document: Any) -> bytes:
    """Compact JSON with sorted keys: the same event is the same bytes, however it was sent."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def digest(document: Any) -> str:
    """128 bits of SHA-256 over the canonical JSON: equal documents, equal digests."""
    return hashlib.sha256(canonical_json(document)).hexdigest()[:32]


def event_id(tenant: str, stream: str, dedup_key: str) -> int:
    """The int64 `storedEventIds` value: derived from the event's identity (`info#<digest>`), so a
    retry gets it again."""
    seed = hashlib.sha256(f"{tenant}#{stream}#{dedup_key}".encode()).digest()
    return int.from_bytes(seed[:8], "big", signed=True)


def info_key(event_id: int | str) -> str:
    """The sort key of an information-only event: its event id, so a `storedIds` value names its item.
    Dedup holds as before: the id is a function of the digest (two different events share a key only
    if 64 bits of SHA-256 collide: about 1 in 3.7e7 for a million events of one type and tenant)."""
    return f"info#{event_id}"


# --- response models (the spec's EventStoreResult and ErrorEnvelope) ------------------------------


class EventStoreResult(BaseModel):
    storedEventIds: list[int] = Field(description="int64 ids of the information-only events stored.")
    storedIds: list[str] = Field(description="`<event id>_<start epoch ms>` of the information-only events.")
    storedCorrelationIds: list[str] = Field(description="Correlation ids of the problems opened or refreshed.")


class OpsConstraintViolation(BaseModel):
    """The spec's ConstraintViolation (prefixed: OpenAPI components are shared by every family)."""

    path: str = Field(description="Field path in the body, e.g. attachRules.tagRule[0].tags.")
    message: str
    parameterLocation: str = Field(description="PAYLOAD_BODY (a pushed event) or QUERY (a query's parameter).")
    location: str | None = None


class OpsError(BaseModel):
    code: int
    message: str
    constraintViolations: list[OpsConstraintViolation] | None = None


class OpsErrorEnvelope(BaseModel):
    error: OpsError


# --- pydantic error messages ------------------------------------------------------------------------

_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def _field_name(loc: tuple) -> str:
    names = [part for part in loc if isinstance(part, str)]
    return names[-1] if names else "body"


def violation_message(error: dict) -> str:
    kind, loc = error["type"], error["loc"]
    name = _field_name(loc)
    if kind == "missing":
        return f"{name} is required"
    if kind in _TYPE_WORDS:
        if len(loc) >= 2 and loc[-2] == "customProperties":
            return f"custom property {loc[-1]!r} {_TYPE_WORDS[kind]} (customProperties map strings to strings)"
        if loc and isinstance(loc[-1], int):
            return f"each entry of {name} {_TYPE_WORDS[kind]}"
        return f"{name} {_TYPE_WORDS[kind]}"
    if kind == "enum":
        value = error.get("input")
        if name == "eventType":
            return f"unknown eventType {value!r}; allowed: {', '.join(EventType)}"
        if name == "context":
            return f"unknown tag context {value!r}; allowed: {', '.join(TAG_CONTEXTS)}"
        if name == "meTypes":
            return f"unknown entity type {value!r} in meTypes; see TagMatchRule.meTypes for the {len(ENTITY_TYPES)} allowed"
    if kind == "too_short" and name == "tags":
        return "tags must list at least one tag"
    if kind == "too_short" and name == "meTypes":
        return "meTypes must list at least one entity type"
    return error["msg"].removeprefix("Value error, ")


class OpsFamily(Family):
    name = "ops"
    all_or_nothing = True  # one event per request: a reject keeps the body byte for byte
    answers_with_stored = True  # a duplicate info event answers with the start already stored
    serves_kinds = frozenset({RouteKind.INGEST})
    adapter = TypeAdapter(OpsEvent)
    list_adapter = TypeAdapter(list[OpsEvent])

    # --- request → events --------------------------------------------------------------------------

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        if not isinstance(document, dict):
            raise BadRequest(
                "The request body must be one JSON object (EventCreation).",
                (Violation(None, "", "the body must be a JSON object"),),
            )
        return [document]

    def validate_request(self, raw_events: list, request: Request) -> tuple[list, dict[int, list[Violation]]]:
        return self.validate_at(raw_events, epoch_ms(request.received_at))

    def validate(self, raw_events: list) -> tuple[list, dict[int, list[Violation]]]:
        """Outside a request (no received time at hand), the windows are checked against now."""
        return self.validate_at(raw_events, epoch_ms(datetime.now(UTC)))

    def validate_at(self, raw_events: list, now_ms: int) -> tuple[list, dict[int, list[Violation]]]:
        """Model, matrix and time rules, all reported together; `now_ms` is when the request arrived."""
        models: list = [None] * len(raw_events)
        errors: dict[int, list[Violation]] = {}
        for index, raw in enumerate(raw_events):
            violations: list[Violation] = []
            model = None
            try:
                model = parse_model(raw, self.adapter)  # one event per request: no list fast path
            except ValidationError as exc:
                for error in exc.errors(include_url=False, include_context=False):
                    violations.append(Violation(index, format_path("", error["loc"]), violation_message(error)))
            present = drop_nulls(raw)
            event_type = event_type_of(present) if isinstance(present, dict) else None
            if event_type is not None:
                violations += matrix_violations(present, event_type)
                violations += time_violations(present, event_type, now_ms)
            if violations:
                errors[index] = list(dict.fromkeys(violations))
            else:
                models[index] = model
        return models, errors

    # --- event → stored item -----------------------------------------------------------------------

    def record(self, model: OpsEvent, request: Request, principal: Principal, origin: str) -> Record:
        now_ms = epoch_ms(request.received_at)
        canonical = model.model_dump(mode="json", exclude_none=True)
        identity_extra = {}
        stream = model.eventType.value
        if model.opens_problem:
            for name in IGNORED_FOR_PROBLEM:
                canonical.pop(name, None)
            if model.start is None:
                identity_extra["receivedMinute"] = now_ms // MINUTE_MS
            start = now_ms if model.start is None else model.start
            timeout = DEFAULT_TIMEOUT_MINUTES if model.timeoutMinutes is None else model.timeoutMinutes
            problem = {name: value for name, value in canonical.items() if name not in ("start", "timeoutMinutes")}
            open_until = max(start, now_ms) + timeout * MINUTE_MS
            return Record(
                stream=stream,
                # store_outcome puts the correlation id after `problem#` once it is known
                dedup_key=f"problem#{digest({**canonical, **identity_extra})}",
                event_time_ms=start,
                payload=canonical_json({**canonical, "start": start, "timeoutMinutes": timeout}),
                attributes={"kind": "problem", "problem_key": digest(problem), "open_until": str(open_until)},
            )
        for name in IGNORED_FOR_INFO:
            canonical.pop(name, None)
        if model.start is None or model.end is None:
            identity_extra["receivedMinute"] = now_ms // MINUTE_MS
        start = now_ms if model.start is None else model.start
        end = max(start, now_ms) if model.end is None else model.end  # a future start ends no earlier
        the_id = event_id(principal.tenant, stream, f"info#{digest({**canonical, **identity_extra})}")
        return Record(
            stream=stream,
            dedup_key=info_key(the_id),
            event_time_ms=start,
            payload=canonical_json({**canonical, "start": start, "end": end}),
            attributes={"kind": "info", "event_id": str(the_id)},
        )

    def store_outcome(self, outcome: Outcome, store: Store, deadline: Deadline, write: Callable[[], None]) -> None:
        """Open or refresh each problem first (so its events carry the correlation id), then the
        dedup write; a duplicate info event answers with the start of the event already stored."""
        now_ms = epoch_ms(outcome.request.received_at)
        retention_seconds = store.settings.retention_seconds(self.name)
        for event in outcome.events:
            record = event.record
            if record is None or record.attributes["kind"] != "problem":
                continue
            open_until = int(record.attributes["open_until"])
            correlation_id = store.open_or_refresh(
                layout.window(
                    outcome.principal.tenant, self.name, PROBLEM_STREAM, record.attributes["problem_key"],
                    id_attribute="correlation_id",
                    new_id=secrets.token_hex(8),
                    now_ms=now_ms,
                    open_until_ms=open_until,
                    # the problem item outlives its last refresh by the family's retention, like its events
                    retention_seconds=retention_seconds,
                    request_id=outcome.request.request_id,
                    attributes={"event_type": record.stream},
                ),
                deadline,
            )
            record.attributes["correlation_id"] = correlation_id
            record.dedup_key = record.dedup_key.replace("problem#", f"problem#{correlation_id}#", 1)
        write()
        duplicates = [
            event for event in outcome.events
            if event.status is Status.DUPLICATE and event.record and event.record.attributes["kind"] == "info"
        ]
        # The stored item comes back with the failed write (answers_with_stored); only an endpoint
        # that does not return it (ReturnValuesOnConditionCheckFailure) costs a read of the event times.
        unread = [event for event in duplicates if not (event.stored and layout.EVENT_TIME in event.stored)]
        stored_times = store.event_times([event.key for event in unread], deadline) if unread else {}
        for event in duplicates:
            if event.stored and layout.EVENT_TIME in event.stored:
                event.record.event_time_ms = layout.event_time_of(event.stored)
            else:
                event.record.event_time_ms = stored_times.get(event.key, event.record.event_time_ms)

    # --- the dialect ---------------------------------------------------------------------------------

    def render(self, outcome: Outcome) -> Response:
        violations = [violation for event in outcome.events for violation in event.errors]
        if violations:
            details = "; ".join(str(violation) for violation in violations)
            return self._error(400, f"Constraints violated ({len(violations)}): {details}", violations)
        result = EventStoreResult(storedEventIds=[], storedIds=[], storedCorrelationIds=[])
        for event in outcome.events:
            attributes = event.record.attributes
            if attributes["kind"] == "problem":
                result.storedCorrelationIds.append(attributes["correlation_id"])
            else:
                result.storedEventIds.append(int(attributes["event_id"]))
                result.storedIds.append(f"{attributes['event_id']}_{event.record.event_time_ms}")
        return json_response(200, result.model_dump())

    def render_error(self, error: IngestError) -> Response:
        if error.status == 400:
            violations = error.violations or (Violation(None, "", error.message),)
            return self._error(400, error.message, violations)
        return json_response(error.status, {"error": {"code": error.status, "message": error.message}})

    @staticmethod
    def _error(status: int, message: str, violations, location: str = PAYLOAD_BODY) -> Response:
        return json_response(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "constraintViolations": [
                        {"path": v.path, "message": v.message, "parameterLocation": location, "location": None}
                        for v in violations
                    ],
                }
            },
        )

    # --- OpenAPI -------------------------------------------------------------------------------------

    def openapi_request(self, endpoint) -> type:
        return OpsEvent

    def openapi_responses(self, endpoint) -> dict:
        return {
            200: ("Stored: event ids for information-only events, a correlation id for a problem-opening one.",
                  "application/json", EventStoreResult),
            400: ("Malformed body, or every violation of the model, the per-type field matrix and the time "
                  "windows, each with its field path; nothing stored, the raw body kept.", "application/json",
                  OpsErrorEnvelope),
        }


FAMILY = OpsFamily()
