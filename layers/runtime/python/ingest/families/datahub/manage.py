"""DataHub delete and read-back, in the DataHub dialect (`{"message": ...}` / `{"error": ...}`).

* `DELETE /datahub/v1/events` and `POST /datahub/v1/events/delete` (the vendor's
  `deleteDatahubEventsByFilter`): `{"dataset": <provider>, "eventIds": [...]}` or
  `{"dataset": <provider>, "startTime": ..., "endTime": ...}` (RFC 3339, both bounds inclusive).
  200 `{"message": "Delete success", "deleted": n}` and the items are gone at once (the original
  makes you wait 90 minutes). Ids and a time range together, neither, or an end before the start
  are a 400; ids of which none is stored for the key's tenant are a 404 (another tenant's ids are
  never touched: the tenant is part of every key that is read or deleted).
* `GET /datahub/v1/events/{id}?provider=<provider>`: the event as stored, 404 when it is not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, ValidationError, model_validator

from ingest.errors import BadRequest
from ingest.families.datahub.family import DataHubFamily, ErrorBody, Provider
from ingest.family import Response, format_path, json_response
from ingest.manage import ByKey, DeleteAsk, Lookup
from ingest.readback import StoredEvent, to_epoch_ms
from ingest.request import Request, decode_body, parse_json
from ingest.spec import RouteKind
from ingest.types import Rfc3339
from ingest.validation import parse_model

EventId = Annotated[StrictStr, Field(min_length=1, max_length=256, examples=["beb21d99-a8c9-4dc0-8a69-5d684cc41e6c"])]
# The bounds of a time range delete are exclusive of nothing: an event exactly at startTime or at
# endTime is deleted.
_EXCLUSIVE_FILTERS = {
    "oneOf": [
        {"required": ["eventIds"], "not": {"anyOf": [{"required": ["startTime"]}, {"required": ["endTime"]}]}},
        {"required": ["startTime", "endTime"], "not": {"required": ["eventIds"]}},
    ]
}


class DeleteEventsRequest(BaseModel):
    """Exactly one filter: `eventIds`, or the time range `startTime`..`endTime` (both inclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_EXCLUSIVE_FILTERS)

    dataset: Provider = Field(description="The dataset (provider) of the events to delete.")
    eventIds: list[EventId] | None = Field(
        default=None, min_length=1, max_length=1_000, description="Ids of the events to delete (at most 1,000)."
    )
    startTime: Rfc3339 | None = Field(
        default=None, description="Start of the time range (event `time`), RFC 3339, inclusive.",
        examples=["2024-03-10T23:00:00Z"],
    )
    endTime: Rfc3339 | None = Field(
        default=None, description="End of the time range (event `time`), RFC 3339, inclusive.",
        examples=["2024-03-12T23:00:00Z"],
    )

    @model_validator(mode="after")
    def _one_filter(self) -> DeleteEventsRequest:
        has_range = self.startTime is not None or self.endTime is not None
        if self.eventIds is not None and has_range:
            raise ValueError("eventIds and a time range (startTime/endTime) are mutually exclusive; send one of them")
        if self.eventIds is None and not has_range:
            raise ValueError("send either eventIds or a time range (startTime and endTime)")
        if has_range and (self.startTime is None or self.endTime is None):
            missing = "endTime" if self.endTime is None else "startTime"
            raise ValueError(f"a time range needs both startTime and endTime; {missing} is missing")
        if has_range and self.endTime < self.startTime:
            raise ValueError(
                f"endTime {self.endTime.isoformat()} is before startTime {self.startTime.isoformat()}"
            )
        return self


class DeleteSuccessBody(BaseModel):
    message: Literal["Delete success"]
    deleted: int = Field(description="How many events were deleted.")
    notFound: list[str] | None = Field(
        default=None, description="Requested ids not stored for this key's tenant (nothing happened to them)."
    )


class StoredDimension(BaseModel):
    type: str
    key: str
    value: str | bool


class StoredMetric(BaseModel):
    type: str
    value: float


class StoredDataHubEvent(BaseModel):
    provider: str
    id: str
    dimensions: list[StoredDimension]
    time: str = Field(description="RFC 3339, UTC.")
    metrics: list[StoredMetric]


class DataHubEventBody(BaseModel):
    event: StoredDataHubEvent = Field(description="The event as stored (a generated id is filled in).")
    dataset: str = Field(description="The dataset (provider) it is stored under.")
    receivedAt: str = Field(description="When the request that stored it was received.")
    requestId: str = Field(description="`X-Request-Id` of the request that stored it.")


_DELETE = TypeAdapter(DeleteEventsRequest)
_PROVIDER = TypeAdapter(Provider)


class DataHubManageFamily(DataHubFamily):
    """The DataHub dialect for routes that change or read what is stored (RouteKind.DELETE/READ);
    the steps themselves are generic (ingest.manage)."""

    serves_kinds = frozenset({RouteKind.DELETE, RouteKind.READ})

    # --- delete -----------------------------------------------------------------------------------

    def delete_request(self, request: Request) -> DeleteAsk:
        document = parse_json(decode_body(request, self.limits))
        if not isinstance(document, dict):
            raise BadRequest('The request body must be a JSON object: {"dataset": ..., "eventIds": [...]} or '
                             '{"dataset": ..., "startTime": ..., "endTime": ...}.')
        try:
            ask = parse_model(document, _DELETE)
        except ValidationError as exc:
            details = "; ".join(
                f"{format_path('', error['loc'])}: {self.message(error)}" if error["loc"] else self.message(error)
                for error in exc.errors(include_url=False, include_context=False, include_input=False)
            )
            raise BadRequest(f"Invalid delete request, nothing was deleted: {details}") from exc
        if ask.eventIds is None:
            return DeleteAsk(ask.dataset, start_ms=to_epoch_ms(ask.startTime), end_ms=to_epoch_ms(ask.endTime))
        ids = list(dict.fromkeys(ask.eventIds))
        return DeleteAsk(
            ask.dataset,
            ids=tuple(ids),
            not_found=f"No event with {'this id' if len(ids) == 1 else 'any of these ids'} is stored in dataset "
            f"{ask.dataset!r} for this API key's tenant; nothing was deleted: {', '.join(ids[:20])}"
            + (" ..." if len(ids) > 20 else ""),
        )

    def render_deleted(self, deleted: int, not_found: list[str]) -> Response:
        body: dict[str, Any] = {"message": "Delete success", "deleted": deleted}
        if not_found:
            body["notFound"] = not_found
        return json_response(200, body)

    # --- read-back --------------------------------------------------------------------------------

    def lookups(self, request: Request) -> list[Lookup]:
        provider = request.query.get("provider", request.query.get("dataset"))
        if provider is None:
            raise BadRequest("Query parameter provider is required: GET /datahub/v1/events/{id}?provider=<provider>.")
        try:
            # A query parameter, not a document: the Powertools parser would read a str as JSON text.
            provider = _PROVIDER.validate_python(provider)
        except ValidationError as exc:
            raise BadRequest(f"Invalid provider {provider!r}: {self.message(exc.errors()[0])}") from exc
        event_id = request.path_parameters.get("id", "")
        if not 1 <= len(event_id) <= 256:
            raise BadRequest("The event id must be 1 to 256 characters.")
        return [ByKey(provider, event_id)]

    def not_found(self, request: Request) -> str:
        provider = request.query.get("provider", request.query.get("dataset"))
        event_id = request.path_parameters.get("id", "")
        return f"No event with id {event_id!r} is stored in dataset {provider!r} for this API key's tenant."

    def render_stored(self, stored: StoredEvent, request: Request) -> Response:
        return json_response(
            200,
            {"event": stored.event, "dataset": stored.stream, "receivedAt": stored.received_at,
             "requestId": stored.request_id},
        )

    # --- OpenAPI ----------------------------------------------------------------------------------

    def openapi_request(self, endpoint) -> Any:
        return DeleteEventsRequest if endpoint.kind is RouteKind.DELETE else None

    def openapi_parameters(self, endpoint) -> list[dict]:
        if endpoint.kind is not RouteKind.READ:
            return []
        return [
            {"name": "id", "in": "path", "required": True, "description": "The event's id.",
             "schema": {"type": "string", "minLength": 1, "maxLength": 256, "not": {"enum": [".", "..", "delete"]}}},
            {"name": "provider", "in": "query", "required": True, "description": "The event's provider (dataset).",
             "schema": _PROVIDER.json_schema()},
        ]

    def openapi_responses(self, endpoint) -> dict:
        if endpoint.kind is RouteKind.DELETE:
            return {
                200: ("Deleted, effective at once.", "application/json", DeleteSuccessBody),
                400: (("Malformed body; both or neither of eventIds and a time range; endTime before startTime. "
                       "Nothing deleted."), "application/json", ErrorBody),
            }
        return {
            200: ("The event as stored.", "application/json", DataHubEventBody),
            400: ("provider missing or invalid.", "application/json", ErrorBody),
        }


FAMILY = DataHubManageFamily()
