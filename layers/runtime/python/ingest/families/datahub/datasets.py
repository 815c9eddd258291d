"""DataHub datasets, wire-compatible with the spec's `listDatahubDatasets`, `createDatahubDataset`,
`getDatahubDataset`, `updateDatahubDataset`, `deleteDatahubDataset` and `deleteDatahubDatasets`.

A dataset is the group of a tenant's DataHub events that share one provider (the stream, all its
shards). Its record (ingest.layout's stream record) holds the description and who changed it last;
the first event of a new provider creates it, and every ingest or delete moves `lastUpdated`
(DataHubFamily.store_outcome, streams_changed). `records` is counted, never kept: a Select=COUNT
Query of the provider's partitions on the event-time index, live events only (layout.is_live's
rule), so an overwrite by id does not change it, a delete lowers it and expired events do not count.
`updatedBy` is the key's prefix, never the secret.

Deleting a dataset deletes its events (a consistent read of the table's keys, then batch deletes)
and then its record, and answers how many events went. A dataset larger than one request's time
budget is partly deleted and answered 503 with Retry-After; the retry carries on from what is left.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, ValidationError

from ingest import layout
from ingest.auth import Principal
from ingest.errors import BadRequest, Conflict, NotFound
from ingest.families.datahub.family import DataHubFamily, ErrorBody, Provider
from ingest.family import Response, format_path, json_response
from ingest.layout import ItemKey
from ingest.request import Request, decode_body, parse_json
from ingest.spec import RouteKind
from ingest.store import Deadline, Store
from ingest.validation import parse_model

FAMILY_NAME = "datahub"
DELETE_BATCH = 100
# The spec's pattern for a new dataset's name; a provider that events created may be any Provider
# (spaces anywhere), so the routes that name an existing dataset accept those too.
DatasetName = Annotated[
    StrictStr,
    Field(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]+( [a-zA-Z0-9_-]+)*$",
          description="Alphanumeric, underscore, dash, and single spaces between words.",
          examples=["My Custom Dataset"]),
]
Description = Annotated[StrictStr, Field(max_length=4096, examples=["Dataset for tracking custom business metrics"])]


class CreateDatasetRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: DatasetName
    description: Description | None = None


class UpdateDatasetRequest(BaseModel):
    """Only the description changes; `name`, when present, must be the one in the path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Provider | None = None
    description: Description | None = None


class DeleteDatasetsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    datasets: list[Provider] = Field(min_length=1, max_length=100, description="Names of the datasets to delete.")


class DataHubDataset(BaseModel):
    name: str
    description: str
    records: int = Field(description="The number of live events stored under the dataset's provider.")
    updatedBy: str = Field(description="The prefix of the API key that last changed it (never the key).")
    lastUpdated: str = Field(description="When an ingest, a delete or an update last changed it, RFC 3339 UTC.")


class DataHubDatasetList(BaseModel):
    datasets: list[DataHubDataset]


class DataHubDatasetDeleted(BaseModel):
    message: str = Field(examples=["Dataset deleted successfully"])
    deletedEvents: int = Field(description="How many stored events were deleted with it.")


class DataHubDeletedDataset(BaseModel):
    name: str
    deletedEvents: int


class DataHubDatasetsDeleted(BaseModel):
    message: str = Field(examples=["Datasets deleted successfully"])
    deletedEvents: int = Field(description="How many stored events were deleted, all datasets together.")
    datasets: list[DataHubDeletedDataset]
    notFound: list[str] | None = Field(default=None, description="Names with no dataset for this key's tenant.")


class Operation(StrEnum):
    LIST = "list"
    CREATE = "create"
    GET = "get"
    UPDATE = "update"
    DELETE = "delete"
    DELETE_MANY = "delete_many"


_CREATE = TypeAdapter(CreateDatasetRequest)
_UPDATE = TypeAdapter(UpdateDatasetRequest)
_DELETE_MANY = TypeAdapter(DeleteDatasetsRequest)
_NAME = TypeAdapter(Provider)
_BODIES = {Operation.CREATE: CreateDatasetRequest, Operation.UPDATE: UpdateDatasetRequest,
           Operation.DELETE_MANY: DeleteDatasetsRequest}


class DataHubDatasetsFamily(DataHubFamily):
    """One dataset operation (RouteKind.STREAMS), in the DataHub dialect (`{"error": ...}`)."""

    serves_kinds = frozenset({RouteKind.STREAMS})

    def __init__(self, operation: Operation) -> None:
        self.operation = operation

    def serve(self, request: Request, principal: Principal, store: Store, deadline: Deadline) -> Response:
        datasets = Datasets(store, self.settings, principal, request.received_at, deadline)
        operation = self.operation
        if operation is Operation.LIST:
            return json_response(200, {"datasets": datasets.describe_all()})
        if operation is Operation.CREATE:
            ask = self._body(request, _CREATE)
            if not datasets.create(ask.name, ask.description or ""):
                raise Conflict(f"Dataset {ask.name!r} already exists for this API key's tenant.")
            return json_response(201, datasets.describe(ask.name))
        if operation is Operation.DELETE_MANY:
            ask = self._body(request, _DELETE_MANY)
            names = list(dict.fromkeys(ask.datasets))
            deleted = {name: datasets.delete(name) for name in names}
            found = [{"name": name, "deletedEvents": count} for name, count in deleted.items() if count is not None]
            missing = [name for name, count in deleted.items() if count is None]
            if not found:
                raise NotFound(f"No dataset named {', '.join(map(repr, missing))} exists for this API key's tenant; "
                               "nothing was deleted.")
            body: dict[str, Any] = {"message": "Datasets deleted successfully",
                                    "deletedEvents": sum(entry["deletedEvents"] for entry in found), "datasets": found}
            if missing:
                body["notFound"] = missing
            return json_response(200, body)
        name = self._name(request)
        if operation is Operation.GET:
            return json_response(200, datasets.describe(name))
        if operation is Operation.UPDATE:
            ask = self._body(request, _UPDATE)
            if ask.name is not None and ask.name != name:
                raise BadRequest(f"name {ask.name!r} in the body does not match the dataset {name!r} in the path; "
                                 "a dataset cannot be renamed.")
            strings = {} if ask.description is None else {"description": ask.description}
            if not datasets.update(name, strings):
                raise NotFound(_missing(name))
            return json_response(200, datasets.describe(name))
        deleted = datasets.delete(name)
        if deleted is None:
            raise NotFound(_missing(name))
        return json_response(200, {"message": "Dataset deleted successfully", "deletedEvents": deleted})

    def _name(self, request: Request) -> str:
        # API Gateway hands the segment as sent; a name never holds "%", so unquoting is safe.
        name = unquote(request.path_parameters.get("name", ""))
        try:
            return _NAME.validate_python(name)
        except ValidationError as exc:
            raise BadRequest(f"Invalid dataset name {name!r}: {self.message(exc.errors()[0])}") from exc

    def _body(self, request: Request, adapter: TypeAdapter):
        document = parse_json(decode_body(request, self.limits))
        if not isinstance(document, dict):
            raise BadRequest("The request body must be a JSON object.")
        try:
            return parse_model(document, adapter)
        except ValidationError as exc:
            details = "; ".join(
                f"{format_path('', error['loc'])}: {self.message(error)}" if error["loc"] else self.message(error)
                for error in exc.errors(include_url=False, include_context=False, include_input=False)
            )
            raise BadRequest(f"Invalid request, nothing was changed: {details}") from exc

    # --- OpenAPI ----------------------------------------------------------------------------------

    def openapi_request(self, endpoint) -> Any:
        return _BODIES.get(self.operation)

    def openapi_parameters(self, endpoint) -> list[dict]:
        if "{name}" not in endpoint.path:
            return []
        return [{"name": "name", "in": "path", "required": True, "description": "The dataset's name (its provider).",
                 "schema": _NAME.json_schema()}]

    def openapi_responses(self, endpoint) -> dict:
        bad = "Malformed body or an invalid dataset name; nothing changed."
        return {
            Operation.LIST: {200: ("The tenant's datasets.", "application/json", DataHubDatasetList)},
            Operation.CREATE: {201: ("Created.", "application/json", DataHubDataset),
                               400: (bad, "application/json", ErrorBody),
                               409: ("A dataset of this name exists already.", "application/json", ErrorBody)},
            Operation.GET: {200: ("The dataset.", "application/json", DataHubDataset),
                            400: (bad, "application/json", ErrorBody)},
            Operation.UPDATE: {200: ("Updated.", "application/json", DataHubDataset),
                               400: (bad + " A name in the body differs from the path's.", "application/json",
                                     ErrorBody)},
            Operation.DELETE: {200: ("Deleted, with every event of it.", "application/json", DataHubDatasetDeleted),
                               400: (bad, "application/json", ErrorBody)},
            Operation.DELETE_MANY: {200: ("Deleted, with every event of them.", "application/json",
                                          DataHubDatasetsDeleted),
                                    400: (bad, "application/json", ErrorBody)},
        }[self.operation]


def _missing(name: str) -> str:
    return f"No dataset named {name!r} exists for this API key's tenant."


class Datasets:
    """One tenant's datasets, as one request sees them (its received time judges liveness)."""

    def __init__(self, store: Store, settings, principal: Principal, at: datetime, deadline: Deadline) -> None:
        self.store, self.settings, self.principal, self.deadline = store, settings, principal, deadline
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)
        self.now_s = int(self.at.timestamp())

    def _key(self, name: str) -> ItemKey:
        return layout.stream_record_key(self.principal.tenant, FAMILY_NAME, name)

    def _partitions(self, name: str) -> list[str]:
        tenant, configured = self.principal.tenant, self.settings.shards(FAMILY_NAME)
        shards = self.store.stream_shards(tenant, FAMILY_NAME, name, configured, self.deadline, record=False)
        return layout.Partitions(tenant, FAMILY_NAME, shards).of(name)

    def records(self, names: list[str]) -> dict[str, int]:
        """Live events per dataset: the datasets' shard records in one batch read (those not cached
        yet), then every shard of every dataset counted at once."""
        tenant, configured = self.principal.tenant, self.settings.shards(FAMILY_NAME)
        shards = self.store.streams_shards(tenant, FAMILY_NAME, names, configured, self.deadline) if names else {}
        pks = {name: layout.Partitions(tenant, FAMILY_NAME, shards[name]).of(name) for name in names}
        queries = [(name, layout.live_count_query(pk, self.now_s)) for name, parts in pks.items() for pk in parts]
        counts = self.store.count([query for _, query in queries], self.deadline) if queries else []
        totals = dict.fromkeys(names, 0)
        for (name, _), count in zip(queries, counts):
            totals[name] += count
        return totals

    @staticmethod
    def _shape(record: dict[str, str], records: int) -> dict:
        return {"name": record["stream"], "description": record.get("description", ""), "records": records,
                "updatedBy": record.get("updated_by", ""), "lastUpdated": record.get("updated_at", "")}

    def describe_all(self) -> list[dict]:
        records = [layout.stream_record_of(item) for item in self.store.query_items(
            layout.stream_records_query(self.principal.tenant, FAMILY_NAME), self.deadline)]
        counts = self.records([record["stream"] for record in records])
        return [self._shape(record, counts[record["stream"]]) for record in records]

    def describe(self, name: str) -> dict:
        item = self.store.event(self._key(name), self.deadline)
        if item is None:
            raise NotFound(_missing(name))
        return self._shape(layout.stream_record_of(item), self.records([name])[name])

    def create(self, name: str, description: str) -> bool:
        strings = {"description": description} if description else {}
        return self.store.put_new(layout.stream_record_create(self._key(name), self.at, self.principal.key_prefix,
                                                              strings), self.deadline)

    def update(self, name: str, strings: dict[str, str]) -> bool:
        update = layout.stream_record_update(self._key(name), self.at, self.principal.key_prefix, strings)
        return self.store.update_existing(update, self.deadline) is not None

    def delete(self, name: str) -> int | None:
        """Delete every event of the dataset, then its record: the live events deleted, or None
        when there was neither record nor event. The record goes last, so a retry after a timeout
        still finds the dataset and finishes."""
        existed = self.store.event(self._key(name), self.deadline) is not None
        deleted = found = 0
        for pk in self._partitions(name):
            batch: list[ItemKey] = []
            for item in self.store.query_items(layout.partition_keys_query(pk), self.deadline):
                batch.append(ItemKey.of(item))
                found += 1
                deleted += layout.is_live(item, self.now_s)
                if len(batch) == DELETE_BATCH:
                    self.store.delete_events(batch, self.deadline)
                    batch = []
            if batch:
                self.store.delete_events(batch, self.deadline)
        if not existed and not found:
            return None
        self.store.delete_events([self._key(name)], self.deadline)  # the record, in the same kind of call
        return deleted
