"""Log events, wire-compatible with the Baselime Events API: `POST /v1/{dataset}` and
`POST /v1/{dataset}/{namespace}` (seed 003; the namespace in the path wins over `x-namespace`).

The body is a JSON array of JSON objects, whatever the Content-Type says. Partial acceptance, as
the original: every valid event is stored, and if any failed the answer is 400 listing them under
`invalid` (their raw form goes to S3). The dataset is checked against an allow-list before it is
used and becomes part of the partition key. Dedup (keep-first, within the dataset): an event's
`id`; else its `requestId` together with a hash of the event (one request logs many lines); else
the hash alone. docs/logs.md has the rules and the numbers behind the limits.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, Field

from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError, MethodNotAllowed, PayloadTooLarge, Unauthorized, Violation
from ingest.families.logs import jsonparse as logs_json
from ingest.family import Family, Outcome, Record, Response, json_response
from ingest.request import Request
from ingest.spec import Limits, RouteKind

# 1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, never "..": nothing
# that could mean a path, a key separator ('#') or a look-alike letter reaches a key.
DATASET_PATTERN = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_EVENT_BYTES = 256 * 1024  # the reference's "256kb", of compact JSON
MAX_EVENT_DEPTH = 254  # orjson writes no deeper; the body's array is one more level
# Header values that mean "not set": the edge logger sends the literal `undefined` for an unset
# service or namespace (fetch stringifies it), and `null` the same way for an explicit null.
UNSET_HEADER_VALUES = frozenset({"", "undefined", "null"})
# Fields that carry the event's own time, in order of preference: epoch numbers (seconds,
# milliseconds, microseconds or nanoseconds, told apart by magnitude) or ISO 8601 strings.
TIME_FIELDS = ("timestamp", "@timestamp", "time", "_time")
# A sort key may hold 1,024 bytes; a longer id or requestId is keyed on its SHA-256 instead.
MAX_KEY_PART_BYTES = 512
# `x-service` and `x-namespace` are stored beside every event of the request (and indexed strings):
# bounded, so a huge header is the client's 400, never an item DynamoDB refuses.
MAX_HEADER_VALUE_BYTES = 256
_LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
ACCEPTED = {"message": "Request Accepted"}


class EventList(list):
    """The request's events, with the compact JSON of each (`payloads`) computed once in extract."""

    __slots__ = ("payloads",)


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A valid event: the object as parsed and its compact JSON, computed once for size and storage."""

    fields: dict
    payload: bytes


@lru_cache(maxsize=256)
def checked_dataset(name: str | None) -> str:
    if name is None or not DATASET_PATTERN.fullmatch(name):
        shown = "none" if name is None else ascii(name)  # ascii(): a look-alike letter shows as \u....
        raise BadRequest(
            f"Invalid dataset {shown} in the path /v1/<dataset>: use 1-128 ASCII letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, without '..'."
        )
    return name


def header_value(request: Request, name: str) -> str | None:
    value = request.header(name)
    if value is None or value.strip() in UNSET_HEADER_VALUES:
        return None
    return value.strip()


def namespace(request: Request) -> str | None:
    """The request's namespace: the path's (`/v1/<dataset>/<namespace>`) when it names one, else the
    `x-namespace` header's. The path wins (docs/logs.md): it is the more specific, explicit choice,
    made per request by the URL, where a header is often set once for a whole client (the edge
    logger sends the literal "undefined" when it was never set). A path segment that reads as unset
    ("undefined", "null": a URL built from an unset variable) falls back to the header."""
    value = request.path_parameters.get("namespace")
    if value is not None and value.strip() not in UNSET_HEADER_VALUES:
        return value.strip()
    return header_value(request, "x-namespace")


def stream_attributes(request: Request) -> dict[str, str]:
    """`service` and `namespace`, as stored beside every event of the request."""
    attributes = {}
    for name, value in (("service", header_value(request, "x-service")), ("namespace", namespace(request))):
        if value is not None:
            attributes[name] = value
    return attributes


def json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _identifier(value: object) -> str | None:
    """An id usable as a dedup key, typed: a non-empty string is itself, an integer (not a boolean)
    is `int:<decimal>`, so `{"id": 5}` and `{"id": "5"}` are two events, not one."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return f"int:{value}"
    if isinstance(value, orjson.Fragment):  # a number beyond 64 bits or a double, kept verbatim (jsonparse)
        text = orjson.dumps(value).decode()
        return f"int:{text}" if text.lstrip("-").isdigit() else None
    return None


def _key_part(kind: str, value: str) -> str:
    part = f"{kind}:{value}"
    if len(part.encode("utf-8")) <= MAX_KEY_PART_BYTES:
        return part
    return f"{kind}-sha256:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def dedup_key(fields: dict) -> str:
    event_id = _identifier(fields.get("id"))
    if event_id is not None:
        # A string id spelled like a typed integer ("int:5") must not become the integer 5's key.
        typed_lookalike = isinstance(fields.get("id"), str) and event_id.startswith("int:")
        return _key_part("id-text" if typed_lookalike else "id", event_id)
    # Sorted keys: the same event with its keys in another order is the same event.
    digest = "sha256:" + hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()
    request_id = _identifier(fields.get("requestId"))
    if request_id is not None:
        # A requestId names a request, and one request logs many distinct lines (seed 003's own
        # example sends two events with one requestId): alone it would drop all but the first.
        # With the hash, a retried request stores nothing twice, and the key still groups a
        # request's lines (begins_with(sk, "requestId:<id>#")).
        return f"{_key_part('requestId', request_id)}#{digest}"
    return digest


def epoch_ms(value: object) -> int | None:
    """Milliseconds since the epoch of an event's time field, or None when it is not a time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        magnitude = abs(value)
        if magnitude < 1e11:  # seconds (until the year 5138)
            ms = value * 1_000
        elif magnitude < 1e14:  # milliseconds (what the edge logger sends)
            ms = value
        elif magnitude < 1e17:  # microseconds
            ms = value / 1_000
        elif magnitude < 1e20:  # nanoseconds
            ms = value / 1_000_000
        else:
            return None
        ms = int(ms)
        return ms if abs(ms) <= _LATEST_MS else None
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:  # no zone: UTC, as log shippers mean it
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1_000)
    return None


def event_time(fields: dict) -> tuple[int, str] | None:
    """(epoch ms, field name) of the first time field that holds a usable time."""
    for name in TIME_FIELDS:
        if name in fields:
            ms = epoch_ms(fields[name])
            if ms is not None:
                return ms, name
    return None


# --- the OpenAPI document (the same rules, as schemas) -----------------------------------------

AnyEvent = Annotated[
    dict[str, Any],
    Field(
        description="Any JSON object of at most 262,144 bytes as compact JSON. `id` (or else `requestId` "
        "with the event's hash) deduplicates it within the dataset; `timestamp`, `@timestamp`, `time` or "
        "`_time` (epoch s/ms/µs/ns or ISO 8601) is indexed as its event time.",
        examples=[{"message": "This is an example log event", "requestId": "6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1"}],
    ),
]
LogEventsRequest = Annotated[list[AnyEvent], Field(min_length=1, description="A JSON array of event objects.")]


class AcceptedBody(BaseModel):
    message: Literal["Request Accepted"]


class InvalidEvent(BaseModel):
    index: int = Field(description="Position of the event in the request's array, from 0.")
    reason: str


class BadRequestBody(BaseModel):
    message: Literal["Bad Request"]
    invalid: list[InvalidEvent] | None = Field(
        default=None, description="The events that failed (every other event was stored)."
    )
    reason: str | None = Field(default=None, description="What was wrong with the request as a whole.")


class MessageBody(BaseModel):
    message: str
    reason: str | None = None


def compact(event: object) -> bytes:
    """An event's compact JSON, the very payload stored. Copied to a bytes object of its own size:
    orjson's result keeps its whole write buffer (16 KiB for a 2 KB event, measured with orjson
    3.13), which a request of 5,000 events would hold 80 MiB for until it answers."""
    return bytes(memoryview(orjson.dumps(event)))


class LogsFamily(Family):
    name = "logs"
    all_or_nothing = False
    serves_kinds = frozenset({RouteKind.INGEST})

    def parse(self, body: bytes, request: Request) -> object:
        checked_dataset(request.path_parameters.get("dataset"))  # before anything else looks at it
        for header in ("x-service", "x-namespace"):
            value = header_value(request, header)
            if value is not None and len(value.encode("utf-8")) > MAX_HEADER_VALUE_BYTES:
                raise BadRequest(f"The {header} header is {len(value.encode('utf-8')):,} bytes; the limit is "
                                 f"{MAX_HEADER_VALUE_BYTES} bytes. Nothing in this request was stored.")
        in_path = request.path_parameters.get("namespace")
        if in_path is not None and len(in_path.encode("utf-8", "surrogatepass")) > MAX_HEADER_VALUE_BYTES:
            raise BadRequest(f"The namespace in the path /v1/<dataset>/<namespace> is "
                             f"{len(in_path.encode('utf-8', 'surrogatepass')):,} bytes; the limit is "
                             f"{MAX_HEADER_VALUE_BYTES} bytes. Nothing in this request was stored.")
        if in_path is not None and not in_path.isprintable():
            raise BadRequest("The namespace in the path /v1/<dataset>/<namespace> holds control characters. "
                             "Nothing in this request was stored.")
        return logs_json.loads(body)

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        if not isinstance(document, list):
            raise BadRequest(f"The request body must be a JSON array of event objects; it is {json_type(document)}.")
        events = EventList(self.check_count(document, limits, "The request body"))
        # Serialized here, once, because orjson writes at most 254 levels: an event nested deeper
        # parses but could be neither stored nor kept raw on its own, so it fails the request here,
        # where the pipeline keeps the whole body raw.
        events.payloads = []
        for index, event in enumerate(events):
            try:
                events.payloads.append(compact(event))
            except orjson.JSONEncodeError as exc:
                raise BadRequest(
                    f"Event {index} nests arrays and objects deeper than {MAX_EVENT_DEPTH} levels; "
                    "nothing in this request was stored."
                ) from exc
        return events

    def validate(self, raw_events: list) -> tuple[list, dict[int, list[Violation]]]:
        # Any object is a valid event, so there is no model to run: the checks are its type and its
        # size, and the compact JSON measured here is the very payload that gets stored.
        models: list[LogEvent | None] = []
        errors: dict[int, list[Violation]] = {}
        payloads = raw_events.payloads if isinstance(raw_events, EventList) else map(compact, raw_events)
        for index, (raw, payload) in enumerate(zip(raw_events, payloads)):
            if not isinstance(raw, dict):
                message = f"The event must be a JSON object; it is {json_type(raw)}."
            else:
                if len(payload) <= MAX_EVENT_BYTES:
                    models.append(LogEvent(raw, payload))
                    continue
                message = (
                    f"The event is {len(payload):,} bytes as compact JSON; the limit is {MAX_EVENT_BYTES:,} "
                    "bytes (256 KiB) per event."
                )
            models.append(None)
            errors[index] = [Violation(index, f"[{index}]", message)]
        return models, errors

    def record(self, model: LogEvent, request: Request, principal: Principal, origin: str) -> Record:
        attributes = stream_attributes(request)
        found = event_time(model.fields)
        if found is None:
            time_ms, attributes["event_time_source"] = int(request.received_at.timestamp() * 1_000), "received_at"
        else:
            time_ms, attributes["event_time_source"] = found
        return Record(
            stream=checked_dataset(request.path_parameters.get("dataset")),
            dedup_key=dedup_key(model.fields),
            event_time_ms=time_ms,
            payload=model.payload,
            attributes=attributes,
        )

    def render(self, outcome: Outcome) -> Response:
        rejected = outcome.rejected
        if not rejected:
            return json_response(202, ACCEPTED)
        invalid = [
            {"index": event.index, "reason": " ".join(violation.message for violation in event.errors)}
            for event in rejected
        ]
        return json_response(400, {"message": "Bad Request", "invalid": invalid})

    def render_error(self, error: IngestError) -> Response:
        # The reference's bodies exactly; where it has none (403, 413, 429) the same shape. A
        # "reason" is added where the client can act on it; never for 401 (says nothing about the
        # key) or 500.
        if isinstance(error, Unauthorized):
            return json_response(401, {"message": "Unauthorised"})
        if isinstance(error, MethodNotAllowed):
            return json_response(405, {"message": "Method Not Allowed"}, {"Allow": ", ".join(error.allowed)})
        if error.status == 500:
            return json_response(500, {"message": "Internal Error"})
        if error.status > 500:  # storage unavailable or the budget spent: retryable, nothing stored
            return json_response(error.status, {"message": HTTPStatus(error.status).phrase})
        if isinstance(error, PayloadTooLarge):
            return json_response(413, {"message": "Payload Too Large", "reason": error.message})
        return json_response(error.status, {"message": HTTPStatus(error.status).phrase, "reason": error.message})

    def openapi_request(self, endpoint) -> Any:
        return LogEventsRequest

    def openapi_responses(self, endpoint) -> dict:
        return {
            202: ("Every event is stored (or was already: a retry stores nothing twice).", "application/json",
                  AcceptedBody),
            400: ("The request could not be used (`reason`), or some events failed (`invalid`: index and "
                  "reason of each; every other event was stored).", "application/json", BadRequestBody),
        }


FAMILY = LogsFamily()
