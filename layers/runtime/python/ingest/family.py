"""What a family does on its routes: how events sit in a request, its models, dedup key and dialect.

The pipeline is one code path for every family; a family object (the `impl` of each of its routes in
its `SPEC`, `ingest.spec`) only fills in these hooks. Read-back and delete are generic steps
(`ingest.manage`) that a family configures through `lookups`/`render_stored` and
`delete_request`/`render_deleted`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from pydantic import TypeAdapter

from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError, Violation
from ingest.request import Request, parse_json
from ingest.spec import Limits, RouteKind
from ingest.validation import parse_events

if TYPE_CHECKING:
    from ingest.manage import DeleteAsk, Lookup, Page, QueryAsk
    from ingest.readback import StoredEvent
    from ingest.store import Deadline, ItemKey, Store


class Status(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(slots=True)
class Record:
    """What a family hands the pipeline for one valid event; the pipeline adds tenant, TTL, keys."""

    stream: str  # provider, service or dataset: part of the partition key
    dedup_key: str  # the sort key
    event_time_ms: int
    payload: bytes  # compact JSON of the canonical event
    attributes: dict[str, str] = field(default_factory=dict)  # extra indexed strings


@dataclass(slots=True)
class EventOutcome:
    index: int
    status: Status
    errors: tuple[Violation, ...] = ()
    record: Record | None = None
    key: ItemKey | None = None  # the item's key, set by the pipeline's dedup write
    # A duplicate's stored item, as its failed conditional write returned it (ALL_OLD), for a family
    # that answers with what was stored first (Family.answers_with_stored); None otherwise.
    stored: dict | None = None


@dataclass(slots=True)
class Outcome:
    request: Request
    principal: Principal
    events: list[EventOutcome]
    reject_key: str | None = None
    write_calls: int = 0

    def count(self, status: Status) -> int:
        return sum(1 for event in self.events if event.status is status)

    @property
    def rejected(self) -> list[EventOutcome]:
        return [event for event in self.events if event.status is Status.REJECTED]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, orjson.dumps(body), headers=headers or {})


def format_path(prefix: str, loc: tuple) -> str:
    """('events', 0, 'dimensions', 1, 'key') -> events[0].dimensions[1].key"""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class Family:
    """Defaults fit a family whose body is a JSON array of events, validated one by one."""

    name: ClassVar[str]
    all_or_nothing: ClassVar[bool] = False
    # A family whose answer to a duplicate shows what was stored first: its keep-first writes return
    # the stored item when their condition fails (EventOutcome.stored), so no read follows the write.
    answers_with_stored: ClassVar[bool] = False
    path_prefix: ClassVar[str] = ""  # how the dialect names the events in a path
    # False: a refused request's body is not kept raw in S3, because it may carry a secret in clear
    # (the usage SDK's report of a key it refused, sent without a key). The answer still names what
    # was wrong; nothing of the request is stored anywhere.
    keeps_raw_rejects: ClassVar[bool] = True
    # The models handed to the Powertools parser (ingest.validation), built once at import:
    adapter: ClassVar[TypeAdapter]  # one event
    list_adapter: ClassVar[TypeAdapter]  # the whole list in one call: the fast path

    def parse(self, body: bytes, request: Request) -> object:
        """The decoded body as a JSON document. Default: strict orjson (ingest.request.parse_json).
        A family whose JSON needs more (e.g. integers beyond 64 bits kept exact) overrides it."""
        return parse_json(body)

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        if not isinstance(document, list):
            raise BadRequest("The request body must be a JSON array of events.")
        return self.check_count(document, limits)

    @staticmethod
    def check_count(events: list, limits: Limits, where: str = "the request") -> list:
        if not events:
            raise BadRequest(f"{where} carries no events; send at least one.")
        if len(events) > limits.max_events:
            raise BadRequest(
                f"{where} carries {len(events)} events; the limit is {limits.max_events} events per request."
            )
        return events

    def validate(self, raw_events: list) -> tuple[list, dict[int, list[Violation]]]:
        """Validate every event through the Powertools parser (ingest.validation); returns the models
        (None where rejected) and violations by index."""
        return parse_events(
            raw_events, self.adapter, self.list_adapter,
            lambda index, loc, error: Violation(index, self.path(index, loc), self.message(error)),
            keep_valid=not self.all_or_nothing,
        )

    def validate_request(self, raw_events: list, request: Request) -> tuple[list, dict[int, list[Violation]]]:
        """What the pipeline calls: for families whose rules depend on the request (e.g. the time it
        was received). Default: `validate`."""
        return self.validate(raw_events)

    def store_outcome(self, outcome: Outcome, store: Store, deadline: Deadline, write: Callable[[], None]) -> None:
        """How the outcome reaches storage; `write` is the pipeline's dedup write. A family with its
        own storage step (e.g. a conditional update) wraps it. Default: just the write."""
        write()

    def path(self, index: int, loc: tuple) -> str:
        return format_path(self.path_prefix, (index, *loc))

    @staticmethod
    def message(error: dict) -> str:
        return error["msg"]

    def record(self, model: Any, request: Request, principal: Principal, origin: str) -> Record:
        """The Record of one valid event. `origin` is `<SHA-256 of the body as received>/<index>`
        (the digest only when the spec has a generated_id_field): the same on a byte-identical
        resend, so an id the server derives from it makes a retry land on the same item."""
        raise NotImplementedError

    def render(self, outcome: Outcome) -> Response:
        raise NotImplementedError

    def render_error(self, error: IngestError) -> Response:
        raise NotImplementedError

    # The route kinds this family object serves; None: any. A wrong spec entry then fails at cold
    # start, not on the first request.
    serves_kinds: ClassVar[frozenset[RouteKind] | None] = None

    def bind(self, endpoint, settings) -> Family:
        """The family as one endpoint uses it: a shallow copy that knows its endpoint, kind and
        settings, sharing the adapters built at import. Called once per Pipeline; families extend it."""
        if self.serves_kinds is not None and endpoint.kind not in self.serves_kinds:
            raise ValueError(f"{endpoint.name}: {type(self).__name__} serves {sorted(self.serves_kinds)} routes only")
        bound = copy.copy(self)
        bound.endpoint, bound.kind, bound.settings = endpoint, endpoint.kind, settings
        bound.limits = settings.limits_for(endpoint)
        return bound

    def answer(self, request: Request, principal: Principal | None) -> Response:
        """The answer of a route that neither carries, reads nor deletes events (a ping, a batch
        size, a document), after authentication, rate limit and scope."""
        raise NotImplementedError

    def serve(self, request: Request, principal: Principal, store: Store, deadline: Deadline) -> Response:
        """The answer of a RouteKind.STREAMS route (a family's streams as resources), after
        authentication, rate limit and scope."""
        raise NotImplementedError

    def streams_changed(self, streams: list[str], principal: Principal, store: Store, deadline: Deadline) -> None:
        """Called after events of these streams were deleted (ingest.manage): a family that keeps
        per-stream records updates them. Default: nothing."""

    # --- read-back (RouteKind.READ; the step is ingest.manage.read_event) --------------------------

    def lookups(self, request: Request) -> list[Lookup]:
        """Where the asked-for event may be stored, tried in order (the first that finds it wins).
        A malformed id is the client's mistake: raise BadRequest."""
        raise NotImplementedError

    def render_stored(self, stored: StoredEvent, request: Request) -> Response:
        """The 200 answer with a stored event, in the dialect."""
        raise NotImplementedError

    def not_found(self, request: Request) -> str:
        """The message of the 404 when nothing of the tenant matches."""
        return "No such event is stored for this API key."

    # --- delete (RouteKind.DELETE; the step is ingest.manage.delete_events) ------------------------

    def delete_request(self, request: Request) -> DeleteAsk:
        """The request as an `ingest.manage.DeleteAsk` (stream, then ids or a time range)."""
        raise NotImplementedError

    def render_deleted(self, deleted: int, not_found: list[str]) -> Response:
        raise NotImplementedError

    # --- queries (RouteKind.QUERY; the step is ingest.manage.query_events) -------------------------

    def query_cursor(self, request: Request) -> str | None:
        """The cursor the request carries (None: a first page)."""
        raise NotImplementedError

    def query_request(self, request: Request, criteria: dict | None) -> QueryAsk:
        """The request as an `ingest.manage.QueryAsk`; `criteria` is what a valid cursor carried
        (the ask's own `criteria`, as it was when the cursor was made). A bad parameter: BadRequest."""
        raise NotImplementedError

    def render_page(self, page: Page, ask: QueryAsk, request: Request) -> Response:
        """The 200 answer with one page of stored events, in the dialect."""
        raise NotImplementedError

    # --- the OpenAPI document (ingest.openapi) ----------------------------------------------------

    def openapi_request(self, endpoint) -> Any:
        """The request body's model or type (the same models the handler validates with); None: no body."""
        return None

    def openapi_request_media_type(self, endpoint) -> str:
        """The media type of the request body the OpenAPI document shows. Default: JSON."""
        return "application/json"

    def openapi_parameters(self, endpoint) -> list[dict]:
        """OpenAPI Parameter Objects the route reads (query parameters, or path parameters with a
        tighter schema than a non-empty string). Default: none beyond the path's own."""
        return []

    def openapi_responses(self, endpoint) -> dict[int, tuple[str, str, Any]]:
        """status -> (description, media type, model or None): every answer the route really gives.

        Every family must fill this in: tests/unit/test_catalog.py checks each catalog route has one.
        """
        return {}
