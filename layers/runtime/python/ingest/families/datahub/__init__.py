"""Cost events, wire-compatible with DoiT DataHub (`specs/doit_openapi_full.yml`, seeds 001 and 002).

The whole family, declared once: its routes, `Authorization: Bearer <key>`, overwrite-by-id, the
`{"error": ...}` dialect. Models and behaviour: `family.py` (ingest), `manage.py` (delete, read-back),
`datasets.py` (datasets: a provider's events).
"""

from __future__ import annotations

from ingest.families.datahub.csv_upload import FAMILY as CSV
from ingest.families.datahub.datasets import DataHubDatasetsFamily, Operation
from ingest.families.datahub.family import FAMILY as INGEST
from ingest.families.datahub.family import ErrorBody
from ingest.families.datahub.manage import FAMILY as MANAGE
from ingest.spec import AuthScheme, FamilySpec, Limits, Route, RouteKind, WritePolicy

BEARER = AuthScheme.in_header("bearer", "Authorization", "Bearer")

SPEC = FamilySpec(
    name="datahub",
    title="DataHub cost events",
    auth=BEARER,
    write_policy=WritePolicy.OVERWRITE,
    error_model=ErrorBody,
    error_descriptions={
        403: "The key may not use DataHub routes.",
        404: "Nothing stored for this key's tenant matches (another tenant's events are never seen).",
    },
    # An event sent without `id` gets one from the server (DataHubFamily.record).
    generated_id_field="id",
    routes=(
        Route(
            name="datahub_events",
            method="POST",
            path="/datahub/v1/events",
            kind=RouteKind.INGEST,
            impl=INGEST,
            limits=Limits(max_events=255, max_body_bytes=2 * 1024 * 1024),
            summary="Ingest a batch of DataHub cost events (all-or-nothing).",
            operation_id="datahubEvents",
            success_status=201,
        ),
        Route(
            name="datahub_events_csv",
            method="POST",
            path="/datahub/v1/csv/upload",
            kind=RouteKind.INGEST,
            impl=CSV,
            # What the deployed API can take: Lambda's 6 MB invocation payload counts the body
            # base64-encoded (every media type is binary), so 4.5 MB on the wire; the CSV may inflate
            # (gzip, zip) to the vendor's 30 MB. Rows: what one 512 MB function validates and writes
            # (one conditional put each) well within the 20 s budget; docs/datahub.md.
            limits=Limits(max_events=5_000, max_body_bytes=30 * 1024 * 1024, max_wire_bytes=4_500_000),
            summary="Ingest a CSV file (plain, gzip or a zip of one CSV) of DataHub events, one a row "
                    "(all-or-nothing).",
            operation_id="datahubEventsCSVFile",
            success_status=201,
        ),
        Route(
            name="delete_datahub_events",
            method="DELETE",
            path="/datahub/v1/events",
            kind=RouteKind.DELETE,
            impl=MANAGE,
            limits=Limits(max_events=1_000, max_body_bytes=256 * 1024),  # max_events: event ids per request
            summary="Delete events of a dataset by event ids or by time range; effective at once.",
            operation_id="deleteDatahubEvents",
        ),
        Route(
            name="delete_datahub_events_by_filter",
            method="POST",
            path="/datahub/v1/events/delete",
            kind=RouteKind.DELETE,
            impl=MANAGE,
            limits=Limits(max_events=1_000, max_body_bytes=256 * 1024),
            summary="Delete events of a dataset by event ids or by time range (the vendor's POST form).",
            operation_id="deleteDatahubEventsByFilter",
        ),
        Route(
            name="read_datahub_event",
            method="GET",
            path="/datahub/v1/events/{id}",
            kind=RouteKind.READ,
            impl=MANAGE,
            summary="Read back one stored DataHub event by id (query parameter `provider`).",
            operation_id="getDatahubEvent",
        ),
        *(
            Route(
                name=name,
                method=method,
                path=path,
                kind=RouteKind.STREAMS,
                impl=DataHubDatasetsFamily(operation),
                limits=Limits(max_events=100, max_body_bytes=64 * 1024),  # max_events: names per bulk delete
                summary=summary,
                operation_id=operation_id,
                success_status=201 if operation is Operation.CREATE else 200,
            )
            for name, method, path, operation, operation_id, summary in (
                ("list_datahub_datasets", "GET", "/datahub/v1/datasets", Operation.LIST, "listDatahubDatasets",
                 "List the datasets (providers) of this key's tenant, each with its live event count."),
                ("create_datahub_dataset", "POST", "/datahub/v1/datasets", Operation.CREATE, "createDatahubDataset",
                 "Create a dataset (name and description) before ingesting into it; a second create is a 409."),
                ("delete_datahub_datasets", "DELETE", "/datahub/v1/datasets", Operation.DELETE_MANY,
                 "deleteDatahubDatasets", "Delete datasets and every event of them."),
                ("get_datahub_dataset", "GET", "/datahub/v1/datasets/{name}", Operation.GET, "getDatahubDataset",
                 "Read one dataset with its live event count."),
                ("update_datahub_dataset", "PATCH", "/datahub/v1/datasets/{name}", Operation.UPDATE,
                 "updateDatahubDataset", "Update a dataset's description (its name is immutable)."),
                ("delete_datahub_dataset", "DELETE", "/datahub/v1/datasets/{name}", Operation.DELETE,
                 "deleteDatahubDataset", "Delete a dataset and every event of it."),
            )
        ),
    ),
)
