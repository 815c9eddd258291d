"""Usage events read-back: `GET /<service>/events/{id}`, in the usage dialect (`{"message": ...}`).

The id of a usage event is its dedup key: the SHA-256 (hex) of the event as stored, i.e. the
canonical JSON the family keeps (camelCase field names, nulls and unknown fields dropped, the
timestamp in UTC). `python -m cli events list --family usage` shows it beside each event.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from ingest.errors import BadRequest
from ingest.families.usage.family import UsageFamily, UsageMessageBody, UsageService
from ingest.family import Family, Response, json_response
from ingest.manage import ByKey, Lookup
from ingest.readback import StoredEvent
from ingest.request import Request
from ingest.spec import Endpoint, RouteKind

EVENT_ID = re.compile(r"[0-9a-f]{64}")


class UsageStoredEventBody(BaseModel):
    id: str = Field(description="SHA-256 (hex) of the stored event: its dedup key.")
    service: str
    event: dict[str, Any] = Field(description="The event as stored (canonical: camelCase, nulls dropped, UTC).")
    receivedAt: str = Field(description="When the request that stored it was received.")
    requestId: str = Field(description="`X-Request-Id` of the request that stored it.")


class UsageReadFamily(UsageFamily):
    """`GET /<service>/events/{id}` of one service (the object is declared per service's read route)."""

    serves_kinds = frozenset({RouteKind.READ})

    def __init__(self, service: UsageService) -> None:
        super().__init__(service)

    def bind(self, endpoint: Endpoint, settings) -> UsageReadFamily:
        return Family.bind(self, endpoint, settings)  # not UsageFamily's: a read route has no ingest role

    def lookups(self, request: Request) -> list[Lookup]:
        event_id = request.path_parameters.get("id", "")
        if not EVENT_ID.fullmatch(event_id):
            raise BadRequest(
                f"Invalid event id {event_id[:80]!r}: a usage event's id is the SHA-256 (64 lowercase hex digits) "
                "of the event as stored; `events list` shows it."
            )
        return [ByKey(self.service.name, event_id)]

    def not_found(self, request: Request) -> str:
        event_id = request.path_parameters.get("id", "")
        return f"No {self.service.title} usage event with id {event_id} is stored for this API key."

    def render_stored(self, stored: StoredEvent, request: Request) -> Response:
        return json_response(
            200,
            {"id": stored.id, "service": stored.stream, "event": stored.event, "receivedAt": stored.received_at,
             "requestId": stored.request_id},
        )

    def openapi_request(self, endpoint: Endpoint) -> Any:
        return None

    def openapi_parameters(self, endpoint: Endpoint) -> list[dict]:
        return [{"name": "id", "in": "path", "required": True, "description": "SHA-256 (hex) of the stored event.",
                 "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}]

    def openapi_responses(self, endpoint: Endpoint) -> dict:
        json_type = "application/json"
        return {
            200: (f"The {self.service.title} usage event as stored.", json_type, UsageStoredEventBody),
            400: ("The id is not a SHA-256 hex digest.", json_type, UsageMessageBody),
        }
