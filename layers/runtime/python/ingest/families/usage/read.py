"""Usage events read-back: `GET /<service>/events/{id}`, in the usage dialect (`{"message": ...}`).

The id of a usage event is its dedup key: the SHA-256 (hex) of the event as stored, i.e. the
canonical JSON the family keeps (camelCase field names, nulls and unknown fields dropped, the
timestamp in UTC). `python -m cli events list --family usage` shows it beside each event.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from ingest.auth import Principal
from ingest.catalog import Endpoint
from ingest.errors import BadRequest, NotFound
from ingest.families.usage import ec2 as usage_ec2, s3 as usage_s3
from ingest.family import Family, Response, json_response
from ingest.families.usage.family import UsageFamily, UsageMessageBody, UsageService
from ingest.readback import EventReader
from ingest.request import Request
from ingest.store import Deadline, Store

SERVICES: dict[str, UsageService] = {service.name: service for service in (usage_s3.SERVICE, usage_ec2.SERVICE)}
EVENT_ID = re.compile(r"[0-9a-f]{64}")


class UsageStoredEventBody(BaseModel):
    id: str = Field(description="SHA-256 (hex) of the stored event: its dedup key.")
    service: str
    event: dict[str, Any] = Field(description="The event as stored (canonical: camelCase, nulls dropped, UTC).")
    receivedAt: str = Field(description="When the request that stored it was received.")
    requestId: str = Field(description="`X-Request-Id` of the request that stored it.")


class UsageReadFamily(UsageFamily):
    serves_kinds = frozenset({"read"})

    def bind(self, endpoint: Endpoint, settings) -> UsageReadFamily:
        bound = Family.bind(self, endpoint, settings)  # not UsageFamily's: a read route has no ingest role
        bound.service = self.service_of(endpoint)
        return bound

    @staticmethod
    def service_of(endpoint: Endpoint) -> UsageService:
        name = endpoint.path.strip("/").split("/")[0]
        if endpoint.kind != "read" or name not in SERVICES or endpoint.path != f"/{name}/events/{{id}}":
            raise ValueError(f"{endpoint.name}: a usage read route is GET /<service>/events/{{id}}, one of "
                             f"{', '.join(SERVICES)}")
        return SERVICES[name]

    def serve(self, request: Request, principal: Principal, store: Store, deadline: Deadline) -> Response:
        event_id = request.path_parameters.get("id", "")
        if not EVENT_ID.fullmatch(event_id):
            raise BadRequest(
                f"Invalid event id {event_id[:80]!r}: a usage event's id is the SHA-256 (64 lowercase hex digits) "
                "of the event as stored; `events list` shows it."
            )
        stored = EventReader(store, self.settings, principal.tenant, self.name).get(self.service.name, event_id, deadline)
        if stored is None:
            raise NotFound(f"No {self.service.title} usage event with id {event_id} is stored for this API key.")
        return json_response(
            200,
            {"id": stored.id, "service": stored.stream, "event": stored.payload, "receivedAt": stored.received_at,
             "requestId": stored.request_id},
        )

    def openapi_request(self, endpoint: Endpoint) -> Any:
        return None

    def openapi_parameters(self, endpoint: Endpoint) -> list[dict]:
        return [{"name": "id", "in": "path", "required": True, "description": "SHA-256 (hex) of the stored event.",
                 "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}]

    def openapi_responses(self, endpoint: Endpoint) -> dict:
        service = self.service_of(endpoint)
        json_type = "application/json"
        return {
            200: (f"The {service.title} usage event as stored.", json_type, UsageStoredEventBody),
            400: ("The id is not a SHA-256 hex digest.", json_type, UsageMessageBody),
            401: ("Missing or invalid API key (`X-API-Key`).", json_type, UsageMessageBody),
            403: ("The key may not use the usage-events API.", json_type, UsageMessageBody),
            404: ("No such event stored for this key's tenant.", json_type, UsageMessageBody),
            429: ("Over the key's requests per minute; retry after `Retry-After`.", json_type, UsageMessageBody),
            500: ("Storage unavailable; retry.", json_type, UsageMessageBody),
        }


FAMILY = UsageReadFamily()
