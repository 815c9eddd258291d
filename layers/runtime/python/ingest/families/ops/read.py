"""Ops events read-back: `GET /api/v1/events/{eventId}` (the original's `getEventById`), ops dialect.

`eventId` is what `POST /api/v1/events` answered:

* a `storedIds` value, `<event id>_<start epoch ms>`, for an information-only event: found on the
  event-time index at exactly that start (one query per information-only event type and shard);
* a `storedCorrelationIds` value for a problem-opening event: the latest event stored under that
  correlation id (one query per problem-opening type and shard).

The answer is the original's `EventRestEntry` shape, plus the event as stored.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from ingest.auth import Principal
from ingest.errors import BadRequest, NotFound
from ingest.family import Response, json_response
from ingest.families.ops.family import OpsErrorEnvelope, OpsFamily
from ingest.families.ops.model import INFO_TYPES, PROBLEM_TYPES
from ingest.readback import EventReader, StoredEvent
from ingest.request import Request
from ingest.store import Deadline, Store

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
    serves_kinds = frozenset({"read"})

    def serve(self, request: Request, principal: Principal, store: Store, deadline: Deadline) -> Response:
        wanted = request.path_parameters.get("eventId", "")
        reader = EventReader(store, self.settings, principal.tenant, self.name)
        if match := STORED_ID.fullmatch(wanted):
            found = self._info_event(reader, match.group(1), int(match.group(2)), deadline)
        elif CORRELATION_ID.fullmatch(wanted):
            found = self._problem_event(reader, wanted, deadline)
        else:
            raise BadRequest(
                f"eventId {wanted[:80]!r} is neither a storedIds value (<event id>_<start epoch ms>) nor a "
                "correlation id (16 hex digits)."
            )
        if found is None:
            raise NotFound(f"No event with id {wanted} is stored for this API token.")
        return json_response(200, self._entry(wanted, found, int(time.time() * 1000)))

    @staticmethod
    def _info_event(reader: EventReader, event_id: str, start_ms: int, deadline: Deadline) -> StoredEvent | None:
        for event_type in sorted(INFO_TYPES):
            for stored in reader.between(event_type.value, deadline, start_ms, start_ms):
                if stored.attributes.get("event_id") == event_id:
                    return stored
        return None

    @staticmethod
    def _problem_event(reader: EventReader, correlation_id: str, deadline: Deadline) -> StoredEvent | None:
        found = [
            stored
            for event_type in sorted(PROBLEM_TYPES)
            for stored in reader.with_prefix(event_type.value, f"problem#{correlation_id}#", deadline)
        ]
        return max(found, key=lambda stored: (stored.event_time_ms, stored.received_at), default=None)

    @staticmethod
    def _entry(wanted: str, stored: StoredEvent, now_ms: int) -> dict:
        event = stored.payload
        problem = stored.attributes.get("kind") == "problem"
        end = int(stored.attributes.get("open_until", 0)) if problem else int(event.get("end", stored.event_time_ms))
        entry = {
            "id": wanted,
            "eventType": stored.stream,
            "startTime": stored.event_time_ms,
            "endTime": end,
            "eventStatus": "OPEN" if end > now_ms else "CLOSED",
            "event": event,
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
            401: ("Missing or invalid API token.", json_type, OpsErrorEnvelope),
            403: ("The token may not use the ops-events API.", json_type, OpsErrorEnvelope),
            404: ("No such event stored for this token's tenant.", json_type, OpsErrorEnvelope),
            429: ("The token used up its requests for the current window.", json_type, OpsErrorEnvelope),
            500: ("Storage unavailable; retry.", json_type, OpsErrorEnvelope),
        }


FAMILY = OpsReadFamily()
