"""Ops events read-back: `GET /api/v1/events/{eventId}` (the original's `getEventById`), ops dialect.

`eventId` is what `POST /api/v1/events` answered:

* a `storedIds` value, `<event id>_<start epoch ms>`, for an information-only event: its item is
  `info#<event id>` (ingest.families.ops.family.info_key), read from the table itself with a
  consistent GetItem per information-only event type, so it is found the moment it was answered;
  its start must be the stored one (an event stored under the earlier `info#<digest>` key is looked
  for on the event-time index after that);
* the `id` a query answered for a problem-opening event (`<id>_<start>`, ingest.families.ops.entry):
  its type's keys at exactly that start, from the event-time index, then the item from the table;
* a `storedCorrelationIds` value for a problem-opening event: the latest event stored under that
  correlation id (one query per problem-opening type and shard).

The answer is the original's `EventRestEntry` (ingest.families.ops.entry), plus the event as stored.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.errors import BadRequest
from ingest.families.ops.entry import EventRestEntry, problem_event_id, rest_entry
from ingest.families.ops.family import OpsErrorEnvelope, OpsFamily, info_key
from ingest.families.ops.model import INFO_TYPES, PROBLEM_TYPES
from ingest.family import Response, json_response
from ingest.manage import AtEventTime, ByEventTime, ByKey, ByPrefix, Lookup
from ingest.readback import StoredEvent
from ingest.request import Request
from ingest.spec import RouteKind
from ingest.types import epoch_ms

STORED_ID = re.compile(r"(-?\d{1,20})_(-?\d{1,16})")
CORRELATION_ID = re.compile(r"[0-9a-f]{16}")


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
            # A problem-opening event by the id a query answered for it (ingest.families.ops.entry):
            # its keys at exactly its start, from the index, the item from the table.
            problems = [AtEventTime(event_type.value, start_ms, _problem_key(event_type.value, match.group(1)))
                        for event_type in sorted(PROBLEM_TYPES)]
            # An event stored before its key was its id (`info#<digest>`) is still found, on the
            # index, until its retention ends; only a miss pays for these queries.
            indexed = [ByEventTime(event_type.value, start_ms, start_ms, (("event_id", match.group(1)),))
                       for event_type in sorted(INFO_TYPES)]
            return keyed + problems + indexed
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
        return json_response(200, rest_entry(stored, epoch_ms(request.received_at)))

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
            200: ("The event (EventRestEntry) with what was stored.", json_type, EventRestEntry),
            400: ("eventId is neither a storedIds value nor a correlation id.", json_type, OpsErrorEnvelope),
        }


def _problem_key(stream: str, wanted_id: str):
    prefix = "problem#"
    return lambda dedup_key: dedup_key.startswith(prefix) and str(problem_event_id(stream, dedup_key)) == wanted_id


FAMILY = OpsReadFamily()
