"""Usage events, wire-compatible with Dashdive's ingest API: one route per cloud service.

A service (S3, EC2, ...) is one model module of this package (``s3.py``, ``ec2.py``): its events as a
union discriminated on ``action``. The package's spec (``__init__.py``) names each service
(``UsageService``, its models by module path, imported on first use) and declares its routes with
``service_routes``, one family object per route, and the route decides the dialect:

* ``POST /<service>``: one event object; 200 ``{"message": ...}`` (also for a duplicate), or 400
  naming the field.
* ``POST /<service>/batch``: a JSON array; 200 with one outcome per event (stored, duplicate,
  rejected with its errors). Invalid events are rejected one by one, never the whole batch.
* ``GET /<service>/recommendedBatchSize``: the batch route's event limit, as a plain-text integer.
* ``GET /ping`` (a service-less family object): 200 for a valid key, 401 otherwise.

The seed's rules: unknown fields are dropped and never kept (only rejected events are kept raw);
``null`` is always allowed for an optional field; timestamps are ISO 8601, no zone meaning UTC,
offsets honoured and stored as UTC. The stored payload is the canonical event (compact JSON of the
validated model, nulls left out), and its SHA-256 is the dedup key: an SDK retry of the same event
lands on the same item and is reported as a duplicate, never counted twice.
"""

from __future__ import annotations

import hashlib
import importlib
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter
from pydantic.alias_generators import to_camel

from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError, Violation
from ingest.family import Family, Outcome, Record, Response, Status, format_path, json_response
from ingest.request import Request
from ingest.spec import Endpoint, Limits, Route, RouteKind
from ingest.types import Iso8601, epoch_ms
from ingest.validation import parse_events

# One stored event must fit a DynamoDB item (400 KB) with room for the key and attributes; a real
# usage event is well under 1 KB, so only a pathological one (say, 1,000 very long keys in one
# DeleteObjects) meets this cap, and it is rejected with the other schema failures.
MAX_EVENT_BYTES = 256 * 1024

SUCCESS_MESSAGE = "Event processed successfully"  # the reference spec's 200 description
DUPLICATE_MESSAGE = "Event processed successfully (a duplicate of an event already stored; counted once)"


# Beyond 2**53 a double no longer holds every integer, and the JSON parser turns an integer beyond
# 64 bits into a double: such a number cannot be counted exactly, so it is refused, never rounded.
_EXACT_FLOAT_INTEGERS = 2**53


def _json_integer(value: object) -> object:
    # JSON Schema's "integer" includes 2.0; SDKs that compute sizes as floats send exactly that.
    if isinstance(value, float) and value.is_integer():
        if abs(value) > _EXACT_FLOAT_INTEGERS:
            raise ValueError(
                "must be an integer of at most 64 bits (this number is beyond 64 bits, or a float beyond 2**53, "
                "and cannot be stored exactly)"
            )
        return int(value)
    return value


def integer(minimum: int | None = None) -> Any:
    """A JSON integer, at least `minimum`. (The constraint sits beside the validator, not outside
    it, so the OpenAPI document says `minimum` rather than pydantic's own `ge`.)"""
    return Annotated[StrictInt, Field(ge=minimum), BeforeValidator(_json_integer)]


# Shared field types: exact JSON types, no coercion of "12" or "true" strings.
Text = StrictStr
Integer = integer()
Count = integer(minimum=0)


class UsageEvent(BaseModel):
    """Fields every usage event carries, whatever the service. Unknown fields are dropped."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, serialize_by_alias=True
    )

    # Declared here so it comes first in the stored payload; each event narrows it to its Literal.
    action: str
    timestamp: Iso8601 = Field(
        description="When the usage happened. ISO 8601 extended format; without a zone it is UTC, and an "
        "offset such as +08:00 is honoured. Stored normalized to UTC (`2024-03-01T04:00:00Z`).",
        examples=["2024-03-01T12:00:00Z"],
    )
    customer_id: Text | None = Field(default=None, description="Optional. Your customer the usage is attributed to.")
    feature_id: Text | None = Field(default=None, description="Optional. Your product feature that caused the usage.")
    client_type: Text | None = Field(default=None, description="Optional. The kind of client that made the call.")
    client_id: Text | None = Field(default=None, description="Optional. The client that made the call.")


def action_names(event_union: Any) -> tuple[str, ...]:
    """The discriminator values of a service's event union, in declaration order."""
    members = get_args(get_args(event_union)[0])
    return tuple(value for model in members for value in get_args(model.model_fields["action"].annotation))


def event_union(*models: type[UsageEvent]) -> Any:
    """The request model of a service: its events, discriminated on `action`."""
    return Annotated[Union[models], Field(discriminator="action")]  # noqa: UP007 (a runtime tuple of models)


@dataclass(frozen=True, slots=True)
class UsageService:
    name: str  # the route's first segment and the storage stream: "s3"
    title: str  # how messages and the OpenAPI document name it: "S3"
    models: str  # "<module>:<name>" of the event_union(...) of the service's models, imported when first used

    @property
    def event(self) -> Any:
        """The service's event union. Its module is imported on first use, so a handler imports only
        its own service's models (S3's 38 take ~150 ms to build; an EC2 handler never builds them)."""
        module, _, name = self.models.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def path(self) -> str:
        return f"/{self.name}"

    @property
    def batch_path(self) -> str:
        return f"/{self.name}/batch"


class Role(StrEnum):
    SINGLE = "single"
    BATCH = "batch"
    BATCH_SIZE = "batch_size"
    PING = "ping"


@dataclass(frozen=True, slots=True)
class Accepted:
    """A validated event and its canonical bytes (computed once: size check, payload and dedup key)."""

    event: UsageEvent
    payload: bytes


# --- response bodies (for the OpenAPI document; rendered as plain dicts) ---------------------------


class UsageMessageBody(BaseModel):
    message: str


class UsageErrorDetail(BaseModel):
    path: str = Field(description="Where in the request body, e.g. `bucket` (single route) or `[2].bucket` (batch).")
    message: str


class UsageErrorBody(BaseModel):
    message: str = Field(description="What was wrong, naming the event index and field.")
    errors: list[UsageErrorDetail] | None = Field(default=None, description="Each schema violation of the event.")


class UsageEventResult(BaseModel):
    index: int = Field(description="Position of the event in the request array.")
    status: Literal["stored", "duplicate", "rejected"] = Field(
        description="stored: new and kept; duplicate: already stored (an SDK retry), counted once; rejected: "
        "schema failure, kept raw for correction and not stored."
    )
    errors: list[UsageErrorDetail] | None = Field(default=None, description="Only for rejected events.")


class UsageBatchBody(BaseModel):
    message: str
    stored: int
    duplicates: int
    rejected: int
    events: list[UsageEventResult] = Field(description="One outcome per event of the request, in order.")


# --- the family -----------------------------------------------------------------------------------


class UsageFamily(Family):
    name = "usage"
    all_or_nothing = False  # each event of a batch is stored or rejected on its own

    def __init__(self, service: UsageService | None = None, role: Role | None = None,
                 batch_route: Route | None = None) -> None:
        self.service = service
        self.role = role  # which route of the service this object serves (SINGLE or BATCH for ingest routes)
        self.batch_route = batch_route  # a BATCH_SIZE route: the batch route whose event limit it announces
        self.recommended_batch_size: int | None = None

    # Built for the route that validates (bind), not for every route declared: a service's routes
    # are four family objects, and its union's adapters cost ~5 ms a pair.
    @cached_property
    def adapter(self) -> TypeAdapter:
        return TypeAdapter(self.service.event)

    @cached_property
    def list_adapter(self) -> TypeAdapter:
        return TypeAdapter(list[self.service.event])

    @cached_property
    def actions(self) -> tuple[str, ...]:
        return action_names(self.service.event)

    # --- which route ------------------------------------------------------------------------------

    def bind(self, endpoint: Endpoint, settings) -> UsageFamily:
        """This family as one route uses it. The route decides the dialect; a family object declared
        for the wrong kind of route fails at cold start rather than on the first request."""
        role = self.role_of(endpoint)
        if role in (Role.SINGLE, Role.BATCH):
            # Built at cold start (the init phase), not on the first request, on the declared object,
            # so every binding of the route shares them.
            self.adapter, self.list_adapter, self.actions  # noqa: B018
        bound = super().bind(endpoint, settings)
        bound.role = role
        if bound.role is Role.BATCH_SIZE:
            bound.recommended_batch_size = settings.limits_for(self.batch_route).max_events
        return bound

    def role_of(self, endpoint: Endpoint) -> Role:
        if endpoint.kind is RouteKind.PING:
            return Role.PING
        if endpoint.kind is RouteKind.BATCH_SIZE:
            if self.batch_route is None:
                raise ValueError(f"{endpoint.name}: a batch-size route needs its batch route (batch_route=)")
            return Role.BATCH_SIZE
        if endpoint.kind is RouteKind.INGEST and self.service is not None and self.role in (Role.SINGLE, Role.BATCH):
            return self.role
        raise ValueError(f"{endpoint.name}: a usage {endpoint.kind} route needs a service and the role SINGLE or BATCH "
                         "(ingest), or is a ping/batch_size route")

    # --- the request ------------------------------------------------------------------------------

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        title = self.service.title
        if self.role is Role.SINGLE:
            if not isinstance(document, dict):
                raise BadRequest(
                    f"The request body must be one JSON object (an {title} usage event); "
                    f"send arrays of events to {self.service.batch_path}."
                )
            return [document]
        if not isinstance(document, list):
            raise BadRequest(
                f"The request body must be a JSON array of {title} usage events; got {_json_kind(document)}."
            )
        return self.check_count(document, limits, "The request body")

    def validate(self, raw_events: list) -> tuple[list, dict[int, list[Violation]]]:
        """Every event on its own: the valid ones as Accepted, the rest as violations by index."""
        models, found = parse_events(
            raw_events, self.adapter, self.list_adapter,
            lambda index, loc, error: self._violation(index, loc, error, raw_events[index]),
        )
        errors: dict[int, list[Violation]] = defaultdict(list, found)
        accepted: list[Accepted | None] = []
        for index, model in enumerate(models):
            payload = None if model is None else self.adapter.dump_json(model, by_alias=True, exclude_none=True)
            if payload is not None and len(payload) > MAX_EVENT_BYTES:
                message = f"the event is {len(payload)} bytes once validated; the limit is {MAX_EVENT_BYTES} bytes"
                errors[index].append(Violation(index, self._path(index, ()), message))
                payload = None
            accepted.append(None if payload is None else Accepted(model, payload))
        return accepted, dict(errors)

    def _path(self, index: int, loc: tuple) -> str:
        """Relative to the request body: `bucket` on the single route, `[2].bucket` in a batch."""
        if loc and loc[0] in self.actions:
            loc = loc[1:]  # the discriminated union puts the action in the location; bodies have no such key
        return format_path("", loc if self.role is Role.SINGLE else (index, *loc))

    def _violation(self, index: int, loc: tuple, error: dict, raw: object) -> Violation:
        kind = error["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            return Violation(index, self._path(index, ("action",)), self._action_message(raw))
        if kind == "model_attributes_type" and not loc:
            return Violation(index, self._path(index, ()), f"an event must be a JSON object; got {_json_kind(raw)}")
        return Violation(index, self._path(index, loc), error["msg"].removeprefix("Value error, "))

    def _action_message(self, raw: object) -> str:
        action = raw.get("action") if isinstance(raw, dict) else None
        expected = f"one of the {len(self.actions)} {self.service.title} actions: {', '.join(self.actions)}"
        if not isinstance(raw, dict) or "action" not in raw:
            return f"Field required: {expected}"
        if not isinstance(action, str):
            return f"must be a string, {expected}; got {_json_kind(action)}"
        return f"unknown action {action!r}; expected {expected}"

    def record(self, accepted: Accepted, request: Request, principal: Principal, origin: str) -> Record:
        return Record(
            stream=self.service.name,
            dedup_key=hashlib.sha256(accepted.payload).hexdigest(),
            event_time_ms=epoch_ms(accepted.event.timestamp),
            payload=accepted.payload,
        )

    # --- the dialect ------------------------------------------------------------------------------

    def render(self, outcome: Outcome) -> Response:
        if self.role is Role.SINGLE:
            return self._render_single(outcome)
        counts = {status: outcome.count(status) for status in Status}
        results = []
        for event in outcome.events:
            result: dict[str, Any] = {"index": event.index, "status": event.status.value}
            if event.errors:
                result["errors"] = [_detail(violation) for violation in event.errors]
            results.append(result)
        message = (
            f"{counts[Status.STORED]} stored, {counts[Status.DUPLICATE]} duplicate, {counts[Status.REJECTED]} rejected "
            f"of {len(outcome.events)} events"
        )
        if counts[Status.REJECTED]:
            message += " (rejected events are kept raw for correction)"
        body = {
            "message": message,
            "stored": counts[Status.STORED],
            "duplicates": counts[Status.DUPLICATE],
            "rejected": counts[Status.REJECTED],
            "events": results,
        }
        return json_response(200, body)

    def _render_single(self, outcome: Outcome) -> Response:
        [event] = outcome.events
        if event.status is Status.STORED:
            return json_response(200, {"message": SUCCESS_MESSAGE})
        if event.status is Status.DUPLICATE:
            return json_response(200, {"message": DUPLICATE_MESSAGE})
        details = "; ".join(str(violation) for violation in event.errors)
        return json_response(
            400,
            {
                "message": f"Invalid {self.service.title} event, not stored (kept raw for correction): {details}",
                "errors": [_detail(violation) for violation in event.errors],
            },
        )

    def render_error(self, error: IngestError) -> Response:
        return json_response(error.status, {"message": error.message})

    def answer(self, request: Request, principal: Principal) -> Response:
        if self.role is Role.BATCH_SIZE:
            body = str(self.recommended_batch_size).encode("ascii")
            return Response(200, body, content_type="text/plain; charset=utf-8")
        return json_response(200, {"message": "pong"})

    # --- the OpenAPI document ---------------------------------------------------------------------

    def openapi_request(self, endpoint: Endpoint) -> Any:
        role = self.role_of(endpoint)
        if role is Role.SINGLE:
            return self.service.event
        if role is Role.BATCH:
            return Annotated[list[self.service.event], Field(min_length=1, max_length=endpoint.limits.max_events)]
        return None

    def openapi_responses(self, endpoint: Endpoint) -> dict:
        role = self.role_of(endpoint)
        json_type = "application/json"
        if role is Role.PING:
            return {200: ("The key is valid.", json_type, UsageMessageBody)}
        if role is Role.BATCH_SIZE:
            return {200: ("Events per request to send to the batch route.", "text/plain", int)}
        if role is Role.SINGLE:
            return {
                200: ("Event processed successfully; also for a duplicate (stored once).", json_type, UsageMessageBody),
                400: ("Malformed body, or an invalid event (each error names its field); the event is kept raw for "
                      "correction.", json_type, UsageErrorBody),
            }
        return {
            200: ("Every event has an outcome: stored, duplicate, or rejected (kept raw) with its errors.", json_type,
                  UsageBatchBody),
            400: ("Not a JSON array, empty, or over the events limit; nothing stored.", json_type, UsageErrorBody),
        }


def _detail(violation: Violation) -> dict:
    return {"path": violation.path, "message": violation.message}


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# The service-less family object: GET /ping.
PING = UsageFamily()
