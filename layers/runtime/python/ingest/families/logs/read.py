"""Log events read-back: `GET /v1/{dataset}/events/{id}`, in the log dialect (`{"message", "reason"}`).

`id` is the event's own `id` field (a string, or an integer written in decimal), which is what
deduplicates it within the dataset. An event without one is found by its dedup key instead, as
`events list` shows it (`sha256:<hex>` or `requestId:<id>#sha256:<hex>`, URL-encoded).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from ingest.families.logs.family import LogsFamily, MessageBody, checked_dataset, dedup_key
from ingest.family import Response, json_response
from ingest.manage import ByKey, Lookup
from ingest.readback import StoredEvent
from ingest.request import Request
from ingest.spec import RouteKind

# Dedup keys that are not built from an `id` field (ingest.families.logs.family.dedup_key).
_DEDUP_KEY_FORMS = ("sha256:", "requestId:", "requestId-sha256:", "id:", "id-sha256:")


class LogStoredEventBody(BaseModel):
    id: str = Field(description="The event's dedup key within the dataset.")
    dataset: str
    event: dict[str, Any] = Field(description="The event as stored (its JSON object, numbers exact).")
    eventTime: str = Field(description="The time indexed for it, RFC 3339 UTC.")
    eventTimeSource: str | None = Field(
        default=None, description="Which field it came from, or `received_at`."
    )
    service: str | None = Field(default=None, description="`x-service` it was sent with.")
    namespace: str | None = Field(default=None, description="`x-namespace` it was sent with.")
    receivedAt: str
    requestId: str


class LogsReadFamily(LogsFamily):
    serves_kinds = frozenset({RouteKind.READ})

    def lookups(self, request: Request) -> list[Lookup]:
        dataset = checked_dataset(request.path_parameters.get("dataset"))
        wanted = request.path_parameters.get("id", "")
        found = [ByKey(dataset, dedup_key({"id": wanted}))] if wanted else []
        if re.fullmatch(r"-?[0-9]{1,400}", wanted):  # a path cannot tell "5" from 5: the string first, then the integer
            found.append(ByKey(dataset, dedup_key({"id": int(wanted)})))
        if wanted.startswith(_DEDUP_KEY_FORMS):  # an event without an id, found by its dedup key
            found.append(ByKey(dataset, wanted))
        return found

    def not_found(self, request: Request) -> str:
        dataset = request.path_parameters.get("dataset")
        wanted = request.path_parameters.get("id", "")
        return f"No event with id {wanted[:200]!r} is stored in dataset {dataset!r} for this API key."

    def render_stored(self, stored: StoredEvent, request: Request) -> Response:
        attributes = stored.attributes
        return json_response(
            200,
            {
                "id": stored.id,
                "dataset": stored.stream,
                "event": stored.event,
                "eventTime": stored.event_time,
                "eventTimeSource": attributes.get("event_time_source"),
                "service": attributes.get("service"),
                "namespace": attributes.get("namespace"),
                "receivedAt": stored.received_at,
                "requestId": stored.request_id,
            },
        )

    def openapi_request(self, endpoint) -> Any:
        return None

    def openapi_parameters(self, endpoint) -> list[dict]:
        return [
            {"name": "dataset", "in": "path", "required": True, "description": "The dataset the event was sent to.",
             # ingest.families.logs.DATASET_PATTERN without its look-ahead: no ".." anywhere.
             "schema": {"type": "string", "maxLength": 128, "pattern": r"^[A-Za-z0-9](\.?[A-Za-z0-9_-])*\.?$"}},
            {"name": "id", "in": "path", "required": True,
             "description": "The event's `id` field, or its dedup key (`sha256:...`).",
             "schema": {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]}}},
        ]

    def openapi_responses(self, endpoint) -> dict:
        return {
            200: ("The event as stored.", "application/json", LogStoredEventBody),
            400: ("Invalid dataset name.", "application/json", MessageBody),
        }


FAMILY = LogsReadFamily()
