"""The original's `EventRestEntry`, built from a stored ops event: what `getEventById` answers and
what each of `queryEvents`' events is.

The spec's fields, mapped honestly from what is stored:

* `id`: `<event id>_<start>`. An information-only event's id is its `storedEventIds` value; a
  problem-opening event (answered with a correlation id, not an event id) gets a 64-bit id of its
  stored key, so every entry has an id in the spec's format that `GET /api/v1/events/{id}` reads.
* `startTime`: the event's start; `endTime`: an information-only event's end, and for a
  problem-opening event until when it kept its problem open (max(start, received) + timeoutMinutes);
  `eventStatus`: OPEN while `endTime` is in the future.
* `entityId`: the queried entity when the query names one, else the first of `attachRules.entityIds`
  (absent for an event attached by tag rules only).
* `severityLevel`: the problem-opening types map one to one onto the spec's severities;
  information-only events have none.
* `entityName`, `impactLevel`, `resourceId`, `resourceName`, `tags` (the *entity's* tags): there
  are no monitored entities here, so they are left out (the spec marks none of them required).

The spec's "set of metadata that varies depending on the event type" is the event's own fields
(`source`, `title`, `description`, `customProperties`, the per-type fields), plus `correlationId`
for problem-opening events, and `event` (the event as stored, verbatim), `receivedAt`, `requestId`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, Field

from ingest.families.ops.model import EventType
from ingest.readback import StoredEvent

SEVERITY = {
    EventType.AVAILABILITY_EVENT: "AVAILABILITY",
    EventType.CUSTOM_ALERT: "CUSTOM_ALERT",
    EventType.ERROR_EVENT: "ERROR",
    EventType.PERFORMANCE_EVENT: "PERFORMANCE",
    EventType.RESOURCE_CONTENTION: "RESOURCE_CONTENTION",
}
METADATA = ("source", "title", "description", "customProperties", "annotationType", "annotationDescription",
            "deploymentName", "deploymentVersion", "deploymentProject", "ciBackLink", "remediationAction",
            "original", "changed", "configuration")


def problem_event_id(stream: str, dedup_key: str) -> int:
    """The int64 id of a stored problem-opening event: from its type and stored key (which holds its
    correlation id and digest), so the same event always has the same id."""
    seed = hashlib.sha256(f"{stream}#{dedup_key}".encode()).digest()
    return int.from_bytes(seed[:8], "big", signed=True)


def is_problem(stored: StoredEvent) -> bool:
    return stored.attributes.get("kind") == "problem"


def entry_id(stored: StoredEvent) -> str:
    event_id = stored.attributes.get("event_id")
    if is_problem(stored) or event_id is None:
        event_id = problem_event_id(stored.stream, stored.id)
    return f"{event_id}_{stored.event_time_ms}"


def entity_ids(event: dict) -> list[str]:
    ids = (event.get("attachRules") or {}).get("entityIds") or []
    return [value for value in ids if isinstance(value, str)]


def rest_entry(stored: StoredEvent, now_ms: int, entity_id: str | None = None) -> dict:
    event = stored.document()  # the family's own canonical JSON: its fields for the entry
    problem = is_problem(stored)
    end = int(stored.attributes.get("open_until", 0)) if problem else int(event.get("end", stored.event_time_ms))
    entry: dict[str, Any] = {
        "id": entry_id(stored),
        "eventType": stored.stream,
        "startTime": stored.event_time_ms,
        "endTime": end,
        "eventStatus": "OPEN" if end > now_ms else "CLOSED",
    }
    entity = entity_id or next(iter(entity_ids(event)), None)
    if entity is not None:
        entry["entityId"] = entity
    if stored.stream in SEVERITY:
        entry["severityLevel"] = SEVERITY[EventType(stored.stream)]
    for name in METADATA:
        if event.get(name) is not None:
            entry[name] = event[name]
    if problem and stored.attributes.get("correlation_id"):
        entry["correlationId"] = stored.attributes["correlation_id"]
    entry.update(event=stored.event, receivedAt=stored.received_at, requestId=stored.request_id)
    return entry


class EventRestEntry(BaseModel):
    """The spec's EventRestEntry, as far as a pushed event has it, plus what was stored."""

    id: str = Field(description="`<event id>_<start>`: readable with GET /api/v1/events/{eventId}.")
    eventType: str
    startTime: int = Field(description="UTC epoch ms.")
    endTime: int = Field(description="UTC epoch ms: the end, or until when the event kept its problem open.")
    eventStatus: Literal["OPEN", "CLOSED"]
    entityId: str | None = None
    severityLevel: Literal["AVAILABILITY", "CUSTOM_ALERT", "ERROR", "PERFORMANCE", "RESOURCE_CONTENTION"] | None = None
    source: str | None = None
    title: str | None = None
    description: str | None = None
    customProperties: dict[str, str] | None = None
    annotationType: str | None = None
    annotationDescription: str | None = None
    deploymentName: str | None = None
    deploymentVersion: str | None = None
    deploymentProject: str | None = None
    ciBackLink: str | None = None
    remediationAction: str | None = None
    original: str | None = None
    changed: str | None = None
    configuration: str | None = None
    correlationId: str | None = Field(default=None, description="Problem-opening events: the problem's id.")
    event: dict[str, Any] = Field(description="The event as stored (canonical EventCreation, nulls dropped).")
    receivedAt: str
    requestId: str
