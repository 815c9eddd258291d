"""Ops event queries: `GET /api/v1/events` (the original's `queryEvents`), ops dialect.

Parameters as the spec reads them: `from` and `to` in UTC epoch milliseconds (defaults: 30 days
before now, and now), or `relativeTime` (a window back from now: `min` ... `month`, which is 30
days); the window may not exceed 2 years and `from` may not be after `to`. `eventType` (any of the
spec's values; one never pushed finds nothing) and `entityId` (an entity id in the event's
`attachRules.entityIds`) narrow it. Every parameter is checked: a bad one is a 400 naming it, with
`parameterLocation` QUERY. An empty parameter counts as not sent (the spec: "this parameter should
be empty when querying for the first time").

An event is in the window when its start is (the spec also lets an end in the window include an
event that started before it; see docs/ops.md). Pages hold at most 150 events (the spec's limit),
oldest start first, and end sooner when their stored events pass 2 MiB (Lambda's 6 MB answer
limit). `nextCursor`, present when more follow, carries the resolved window and the filters, signed
(ingest.cursor): a cursor alone fetches the next page; a parameter sent beside it must equal the
one the cursor carries. `totalEventCount` is every event that matches, on every page.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ingest.cursor import MAX_CURSOR_CHARS
from ingest.errors import BadRequest, IngestError, Violation
from ingest.families.ops.entry import EventRestEntry, entity_ids, rest_entry
from ingest.families.ops.family import OpsErrorEnvelope, OpsFamily, violation_message
from ingest.families.ops.model import DAY_MS, MINUTE_MS, QUERY_EVENT_TYPES, EventType
from ingest.family import Response, json_response
from ingest.manage import Page, QueryAsk
from ingest.request import Request
from ingest.spec import RouteKind
from ingest.types import epoch_ms
from ingest.validation import parse_model

PAGE_SIZE = 150  # the spec: "the response is limited to 150 events"
MAX_PAGE_BYTES = 2 * 1024 * 1024
DEFAULT_WINDOW_MS = 30 * DAY_MS
MAX_WINDOW_MS = 731 * DAY_MS  # "must not exceed 2 years" (a leap day included)
QUERY = "QUERY"
INT64 = r"^-?[0-9]{1,19}$"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PARAMETERS = ("from", "to", "relativeTime", "eventType", "entityId")

RELATIVE_TIMES = {
    "min": MINUTE_MS, "5mins": 5 * MINUTE_MS, "10mins": 10 * MINUTE_MS, "15mins": 15 * MINUTE_MS,
    "30mins": 30 * MINUTE_MS, "hour": 60 * MINUTE_MS, "2hours": 120 * MINUTE_MS, "6hours": 360 * MINUTE_MS,
    "day": DAY_MS, "3days": 3 * DAY_MS, "week": 7 * DAY_MS, "month": 30 * DAY_MS,
}
RelativeTime = StrEnum("RelativeTime", {name: name for name in sorted(RELATIVE_TIMES)})
QueryEventType = StrEnum("QueryEventType", {name: name for name in QUERY_EVENT_TYPES})
EpochMs = Annotated[str, Field(pattern=INT64, description="UTC epoch milliseconds (int64).")]


class QueryParameters(BaseModel):
    """The query string of `queryEvents`, every value a string as received."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    from_: EpochMs | None = Field(default=None, alias="from")
    to: EpochMs | None = None
    relativeTime: RelativeTime | None = None
    eventType: QueryEventType | None = None
    entityId: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    cursor: Annotated[str, Field(max_length=MAX_CURSOR_CHARS)] | None = None


class EventQueryResult(BaseModel):
    """The spec's EventQueryResult."""

    model_config = ConfigDict(populate_by_name=True)

    events: list[EventRestEntry]
    nextCursor: str | None = Field(default=None, description="Absent on the last page.")
    totalEventCount: int = Field(description="Every event matching the query, on all pages.")
    from_: int = Field(alias="from", description="Start of the query timeframe (UTC epoch ms).")
    to: int = Field(description="End of the query timeframe (UTC epoch ms).")


_ADAPTER = TypeAdapter(QueryParameters)


def _bad(name: str, message: str) -> BadRequest:
    return BadRequest(f"{name}: {message}", (Violation(None, name, message),))


class OpsQueryFamily(OpsFamily):
    serves_kinds = frozenset({RouteKind.QUERY})

    def _parameters(self, request: Request) -> tuple[QueryParameters, dict[str, str]]:
        sent = {name: value for name, value in request.query.items() if value != ""}
        try:
            parameters = parse_model(sent, _ADAPTER)
        except ValidationError as exc:
            violations = []
            for error in exc.errors(include_url=False, include_context=False):
                name = str(error["loc"][0]) if error["loc"] else ""
                message = violation_message(error)
                if error["type"] == "string_pattern_mismatch":
                    message = f"{name} must be an integer (UTC epoch milliseconds), got {str(error.get('input'))[:40]!r}"
                elif error["type"] == "enum" and name == "relativeTime":
                    message = f"unknown relativeTime {str(error.get('input'))[:40]!r}; allowed: {', '.join(RELATIVE_TIMES)}"
                elif error["type"] == "enum" and name == "eventType":
                    message = f"unknown eventType {str(error.get('input'))[:80]!r}; see queryEvents' eventType values"
                violations.append(Violation(None, name, message))
            raise BadRequest("Invalid query: " + "; ".join(map(str, violations)), tuple(violations)) from exc
        for name in ("from", "to"):
            if name in sent and not INT64_MIN <= int(sent[name]) <= INT64_MAX:
                raise _bad(name, f"{name} must be an int64 (UTC epoch milliseconds), got {sent[name]}")
        return parameters, {name: sent[name] for name in PARAMETERS if name in sent}

    def query_cursor(self, request: Request) -> str | None:
        return self._parameters(request)[0].cursor

    def query_request(self, request: Request, criteria: dict | None) -> QueryAsk:
        parameters, given = self._parameters(request)
        if criteria is not None:
            carried = criteria.get("given", {})
            for name, value in given.items():
                if carried.get(name) != value:
                    raise _bad(name, f"the cursor carries the query; {name}={value!r} is not the cursor's "
                                     f"({carried.get(name)!r}): send the cursor alone")
            start, end = int(criteria["from"]), int(criteria["to"])
            given = carried
        else:
            start, end = self._window(parameters, epoch_ms(request.received_at))
        event_type, entity = given.get("eventType"), given.get("entityId")
        if event_type is None:
            streams = tuple(sorted(EventType))
        else:  # a type the spec names but nobody can push is stored nowhere
            streams = (event_type,) if event_type in EventType._value2member_map_ else ()
        return QueryAsk(
            streams=tuple(str(stream) for stream in streams),
            start_ms=start,
            end_ms=end,
            page_size=PAGE_SIZE,
            criteria={"given": given, "from": start, "to": end},
            matches=None if entity is None else (lambda stored: entity in entity_ids(stored.document())),
            max_page_bytes=MAX_PAGE_BYTES,
        )

    @staticmethod
    def _window(parameters: QueryParameters, now_ms: int) -> tuple[int, int]:
        """[from, to] as the spec defines it, resolved once (on the first page) against the time received."""
        if parameters.relativeTime is not None:
            if parameters.from_ is not None or parameters.to is not None:
                raise _bad("relativeTime", "relativeTime is a window back from now; send it without from and to")
            return now_ms - RELATIVE_TIMES[parameters.relativeTime.value], now_ms
        start = int(parameters.from_) if parameters.from_ is not None else now_ms - DEFAULT_WINDOW_MS
        end = int(parameters.to) if parameters.to is not None else now_ms
        if start > end:
            origin = "" if parameters.from_ is not None else " (not set: 30 days before now)"
            until = "" if parameters.to is not None else " (not set: now)"
            raise _bad("from", f"from {start}{origin} is after to {end}{until}")
        if end - start > MAX_WINDOW_MS:
            raise _bad("to", f"the timeframe from {start} to {end} exceeds 2 years")
        return start, end

    def render_page(self, page: Page, ask: QueryAsk, request: Request) -> Response:
        now_ms = epoch_ms(request.received_at)
        entity = ask.criteria["given"].get("entityId")
        result: dict[str, Any] = {"events": [rest_entry(stored, now_ms, entity) for stored in page.events]}
        if page.next_cursor is not None:
            result["nextCursor"] = page.next_cursor
        result.update(totalEventCount=page.total, **{"from": ask.start_ms, "to": ask.end_ms})
        return json_response(200, result)

    def render_error(self, error: IngestError) -> Response:
        # This route's own 400s name a query parameter (each carries its violation); a 400 without
        # one is the family's generic answer, as API Gateway gives it for every ops route (infra.edge).
        if error.status == 400 and error.violations:
            return self._error(400, error.message, error.violations, QUERY)
        return super().render_error(error)

    # --- OpenAPI -------------------------------------------------------------------------------------

    def openapi_request(self, endpoint) -> Any:
        return None

    def openapi_parameters(self, endpoint) -> list[dict]:
        def query(name: str, description: str, schema: dict) -> dict:
            return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

        epoch = {"type": "integer", "format": "int64"}  # as the spec: UTC epoch ms
        return [
            query("from", "Start of the timeframe, UTC epoch ms; default 30 days before now (unless relativeTime).", epoch),
            query("to", "End of the timeframe, UTC epoch ms; default now (unless relativeTime). At most 2 years "
                  "after from.", epoch),
            query("relativeTime", "A timeframe back from now; not with from or to.",
                  {"type": "string", "enum": list(RELATIVE_TIMES)}),
            query("eventType", "Only events of this type.", {"type": "string", "enum": list(QUERY_EVENT_TYPES)}),
            query("entityId", "Only events attached to this entity id.", {"type": "string", "minLength": 1,
                                                                         "maxLength": 2000}),
            query("cursor", "nextCursor of the previous page (it carries the other parameters); empty or absent "
                  "for the first page.", {"type": "string", "maxLength": MAX_CURSOR_CHARS}),
        ]

    def openapi_responses(self, endpoint) -> dict:
        json_type = "application/json"
        return {
            200: ("One page of the tenant's events (EventQueryResult).", json_type, EventQueryResult),
            400: ("A bad parameter (named, parameterLocation QUERY), from after to, a timeframe over 2 years, "
                  "or a cursor this service did not issue for this token.", json_type, OpsErrorEnvelope),
            # The gateway's: a request line over 10,240 bytes (a cursor far longer than any issued).
            414: ("The request line is too long.", json_type, OpsErrorEnvelope),
        }


FAMILY = OpsQueryFamily()
