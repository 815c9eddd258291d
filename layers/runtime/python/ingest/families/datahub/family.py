"""Cost events, wire-compatible with DoiT DataHub `POST /datahub/v1/events` (`datahubEvents`).

All-or-nothing like the original: one invalid event and nothing is stored (the raw request goes to
S3). The event id is the dedup key within (tenant, provider): re-sending an id overwrites it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, TypeAdapter, field_validator

from ingest import layout
from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError
from ingest.family import Family, Outcome, Record, Response, json_response
from ingest.request import Request
from ingest.spec import Limits, RouteKind
from ingest.types import Rfc3339, epoch_ms

if TYPE_CHECKING:
    from ingest.store import Deadline, Store

# Namespace of the ids the server derives for events sent without one (DataHubFamily.record).
DERIVED_IDS = uuid.UUID("0b6c1c8e-5d2f-4f3a-9a47-6f1f2d8b7e31")

# The guide's "Allowed keys for fixed dimensions".
FIXED_DIMENSION_KEYS = frozenset(
    {
        "billing_account_id", "country", "region", "zone", "pricing_unit", "project_id", "project_name",
        "project_number", "service_description", "service_id", "sku_description", "sku_id", "operation",
        "resource_id", "global_resource_id",
    }
)

Provider = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_ -]+$",
        description="The data provider. Allowed characters: alphanumeric, underscore, space, dash. "
        "Also accepted as `cloud` (the DataHub guide's name).",
        examples=["Datadog"],
    ),
]


def _string_or_boolean(value: object) -> object:
    if not isinstance(value, str | bool):
        raise ValueError("must be a string or a boolean")
    return value


class Dimension(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # `type` is declared first so the `key` check below can see it.
    type: Literal["fixed", "label", "project_label", "system_label"]
    key: Annotated[StrictStr, Field(min_length=1, max_length=256, examples=["project_id"])]
    value: Annotated[str | bool, BeforeValidator(_string_or_boolean)] = Field(examples=["production-project"])

    @field_validator("key")
    @classmethod
    def _fixed_keys_are_listed(cls, key: str, info) -> str:
        if info.data.get("type") == "fixed" and key not in FIXED_DIMENSION_KEYS:
            raise ValueError(
                f"{key!r} is not an allowed key for a fixed dimension; allowed: {', '.join(sorted(FIXED_DIMENSION_KEYS))}"
            )
        return key


class Metric(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Annotated[StrictStr, Field(min_length=1, max_length=256, examples=["cost"])]
    value: Annotated[float, Field(strict=True, allow_inf_nan=False, examples=[10.5])]


class DataHubEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    provider: Provider = Field(validation_alias=AliasChoices("provider", "cloud"))
    id: Annotated[StrictStr, Field(min_length=1, max_length=256)] | None = Field(
        default=None, description="Unique within the provider; a UUIDv4 is generated when absent."
    )
    dimensions: list[Dimension] = Field(default_factory=list)
    time: Rfc3339 = Field(description="When the event occurred, RFC 3339.", examples=["2024-03-10T23:00:00Z"])
    metrics: list[Metric] = Field(default_factory=list)


def dataset_touches(streams: Iterable[str], principal: Principal, at: datetime | None = None) -> list[dict]:
    """A dataset is a provider's events: every ingest or delete moves its `lastUpdated` and names the
    key (its prefix) as `updatedBy`; the first event of a new provider creates the dataset."""
    at = at or datetime.now(UTC)
    return [layout.stream_record_touch(layout.stream_record_key(principal.tenant, "datahub", stream), at,
                                       principal.key_prefix)
            for stream in dict.fromkeys(streams)]


class DataHubRequest(BaseModel):
    """The request body, for the OpenAPI document (validation runs per event)."""

    events: list[DataHubEvent] = Field(min_length=1, max_length=255)


class SuccessBody(BaseModel):
    message: Literal["Ingestion success"]


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong; for invalid events, every event index and field path.")


class DataHubFamily(Family):
    name = "datahub"
    all_or_nothing = True
    path_prefix = "events"
    serves_kinds = frozenset({RouteKind.INGEST})
    adapter = TypeAdapter(DataHubEvent)
    list_adapter = TypeAdapter(list[DataHubEvent])

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        if not isinstance(document, dict):
            raise BadRequest('The request body must be a JSON object with an "events" array.')
        if "events" not in document:
            raise BadRequest('The request body has no "events" array.')
        events = document["events"]
        if not isinstance(events, list):
            raise BadRequest('"events" must be an array of events.')
        return self.check_count(events, limits, '"events"')

    @staticmethod
    def message(error: dict) -> str:
        if error["type"] == "missing" and error["loc"][-1] == "provider":
            return "Field required (provider, or its alias cloud)"
        return error["msg"].removeprefix("Value error, ")

    def record(self, model: DataHubEvent, request: Request, principal: Principal, origin: str) -> Record:
        if model.id is None:
            # Derived, not random: a byte-identical resend (a client's retry after a 5xx) gets the
            # same id for the same event, so it overwrites itself instead of being stored twice.
            model = model.model_copy(update={"id": str(uuid.uuid5(DERIVED_IDS, f"{principal.tenant}/{origin}"))})
        return Record(
            stream=model.provider,
            dedup_key=model.id,
            event_time_ms=epoch_ms(model.time),
            payload=self.adapter.dump_json(model),
        )

    def store_outcome(self, outcome: Outcome, store: Store, deadline: Deadline, write: Callable[[], None]) -> None:
        """The dedup write, and alongside it (no extra round trip) the datasets it changes. Either
        failing is a retryable 5xx whose retry does both; a dataset a failed first ingest created is
        there with 0 records, as a create would leave it."""
        streams = [event.record.stream for event in outcome.events if event.record is not None]
        if not streams:
            write()
            return
        store.update_items_alongside(dataset_touches(streams, outcome.principal), deadline, write)

    def streams_changed(self, streams: list[str], principal: Principal, store: Store, deadline: Deadline) -> None:
        store.update_items(dataset_touches(streams, principal), deadline)

    def render(self, outcome: Outcome) -> Response:
        invalid = [event for event in outcome.events if event.errors]
        if not invalid:
            return json_response(201, {"message": "Ingestion success"})
        details = "; ".join(str(violation) for event in invalid for violation in event.errors)
        return json_response(
            400,
            {
                "error": f"{len(invalid)} of {len(outcome.events)} events are invalid and nothing was ingested "
                f"(request {outcome.request.request_id}): {details}"
            },
        )

    def render_error(self, error: IngestError) -> Response:
        return json_response(error.status, {"error": error.message})

    def openapi_request(self, endpoint) -> type:
        return DataHubRequest

    def openapi_responses(self, endpoint) -> dict:
        return {
            201: ("Ingestion succeeded: every event is stored.", "application/json", SuccessBody),
            400: ("Malformed body, or invalid events (each named by index and field path); nothing stored.",
                  "application/json", ErrorBody),
        }


FAMILY = DataHubFamily()
