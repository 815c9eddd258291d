"""Ops events read-back: `GET /api/v1/events/{eventId}` (the original's `getEventById`), ops dialect.

`eventId` is what `POST /api/v1/events` answered:

* a `storedIds` value, `<event id>_<start epoch ms>`, for an information-only event: its item is
  `info#<event id>` (ingest.families.ops.family.info_key), read from the table itself with a
  consistent GetItem per information-only event type, so it is found the moment it was answered;
  its start must be the stored one (an event stored under the earlier `info#<digest>` key is looked
  for on the event-time index after that);
* a `storedCorrelationIds` value for a problem-opening event: the latest event stored under that
  correlation id (one query per problem-opening type and shard).

The answer is the original's `EventRestEntry` shape, plus the event as stored.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from ingest.errors import BadRequest
from ingest.families.ops.family import OpsErrorEnvelope, OpsFamily, info_key
from ingest.families.ops.model import INFO_TYPES, PROBLEM_TYPES
from ingest.family import Response, json_response
from ingest.manage import ByEventTime, ByKey, ByPrefix, Lookup
from ingest.readback import StoredEvent
from ingest.request import Request
from ingest.spec import RouteKind

STORED_ID = re.compile(r"(-?\d{1,20})_(-?\d{1,16})")
CORRELATION_ID = re.compile(r"[0-9a-f]{16}")


class OpsEventEntry(BaseModel):
    """The original's EventRestEntry, as far as an ingested event has it, plus what was stored."""

    id: str = Field(description="`<event id>_<start>` (information-only) or the correlation id (problem).")
    eventType: str
    startTime: int = Field(description="UTC epoch ms.")
    endTime: int = Field(description="UTC epoch ms: the end, or until when the problem stays open.")
    eventStatus: Literal["OPEN", "CLOSED"]
    source: str | None = None
    title: str | None = None
    description: str | None = None
    customProperties: dict[str, str] | None = None
    correlationId: str | None = None
    event: dict[str, Any] = Field(description="The event as stored (canonical EventCreation, nulls dropped).")
    receivedAt: str
    requestId: str


class OpsReadFamily(OpsFamily):
    serves_kinds = frozenset({RouteKind.READ})

    def lookups(self, request: Request) -> list[Lookup]:
        wanted = request.path_parameters.get("eventId", "")
        if match := STORED_ID.fullmatch(wanted):
            # An information-only event: keyed by its event id (a consistent read of the table), at
            # exactly its start, in one of the types.
            start_ms = int(match.group(2))
            keyed = [ByKey(event_type.value, info_key(match.group(1)), event_time_ms=start_ms)
                     for event_type in sorted(INFO_TYPES)]
            # An event stored before its key was its id (`info#<digest>`) is still found, on the
            # index, until its retention ends; only a miss pays for these queries.
            indexed = [ByEventTime(event_type.value, start_ms, start_ms, (("event_id", match.group(1)),))
                       for event_type in sorted(INFO_TYPES)]
            return keyed + indexed
        if CORRELATION_ID.fullmatch(wanted):
            # A problem: the latest event stored under its correlation id.
            return [ByPrefix(event_type.value, f"problem#{wanted}#") for event_type in sorted(PROBLEM_TYPES)]
        raise BadRequest(
            f"eventId {wanted[:80]!r} is neither a storedIds value (<event id>_<start epoch ms>) nor a "
            "correlation id (16 hex digits)."
        )

    def not_found(self, request: Request) -> str:
        return f"No event with id {request.path_parameters.get('eventId', '')} is stored for this API token."

    def render_stored(self, stored: StoredEvent, request: Request) -> Response:
        return json_response(200, self._entry(request.path_parameters.get("eventId", ""), stored,
                                              int(time.time() * 1000)))

    @staticmethod
    def _entry(wanted: str, stored: StoredEvent, now_ms: int) -> dict:
        event = stored.document()  # the ops family's own canonical JSON: its fields for the entry
        problem = stored.attributes.get("kind") == "problem"
        end = int(stored.attributes.get("open_until", 0)) if problem else int(event.get("end", stored.event_time_ms))
        entry = {
            "id": wanted,
            "eventType": stored.stream,
            "startTime": stored.event_time_ms,
            "endTime": end,
            "eventStatus": "OPEN" if end > now_ms else "CLOSED",
            "event": stored.event,  # the stored bytes verbatim
            "receivedAt": stored.received_at,
            "requestId": stored.request_id,
        }
        for name in ("source", "title", "description", "customProperties"):
            if event.get(name) is not None:
                entry[name] = event[name]
        if problem:
            entry["correlationId"] = stored.attributes.get("correlation_id")
        return entry

    def openapi_request(self, endpoint) -> Any:
        return None

    def openapi_parameters(self, endpoint) -> list[dict]:
        return [{
            "name": "eventId", "in": "path", "required": True,
            "description": "A `storedIds` value (`<event id>_<start>`) or a `storedCorrelationIds` value.",
            "schema": {"type": "string", "pattern": "^(-?[0-9]{1,20}_-?[0-9]{1,16}|[0-9a-f]{16})$"},
        }]

    def openapi_responses(self, endpoint) -> dict:
        json_type = "application/json"
        return {
            200: ("The event (EventRestEntry) with what was stored.", json_type, OpsEventEntry),
            400: ("eventId is neither a storedIds value nor a correlation id.", json_type, OpsErrorEnvelope),
        }


FAMILY = OpsReadFamily()
