"""The one catalog of endpoints.

Every route of the service is declared here exactly once. The CDK stack (``infra/``), the local
server (``local/``) and the OpenAPI document (``ingest.openapi``) are all derived from
``ENDPOINTS``; a test checks that the synthesized template and the local server agree with it.

The catalog is plain data and imports no family code, so the CDK app and every Lambda can load it
without paying for the models of families they don't serve. ``family_module`` names the module
that holds the endpoint's models, dedup rule and response dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AuthScheme(StrEnum):
    """How a family presents its API key (header names are matched case-insensitively)."""

    X_API_KEY = "x-api-key"  # usage and log events: `X-API-Key: <key>`
    BEARER = "bearer"  # DataHub: `Authorization: Bearer <key>`
    API_TOKEN = "api-token"  # ops events: `Authorization: Api-Token <key>`
    # No key at all: the service's own public documents (GET /openapi.json, GET /docs). No
    # authorizer, no rate limit, no scope; the route must answer nothing a tenant owns.
    NONE = "none"


class DedupPolicy(StrEnum):
    """What a second event with the same dedup key does."""

    OVERWRITE = "overwrite"  # newer wins, still one item (DataHub ids)
    KEEP_FIRST = "keep_first"  # the stored event stays; the new one is reported as a duplicate


@dataclass(frozen=True, slots=True)
class Limits:
    max_events: int = 1
    # Cap on the decoded body (after gzip). API Gateway allows 10 MB and Lambda 6 MB for the
    # whole invocation payload, so every endpoint stays well below both.
    max_body_bytes: int = 1024 * 1024
    # Cap on the body as received, when it must be lower than the decoded cap: Lambda's 6 MB payload
    # limit counts the body base64-encoded (binary media types), so a gzip route may inflate to more
    # than it can receive. None: the same as max_body_bytes.
    max_wire_bytes: int | None = None

    @property
    def wire_cap(self) -> int:
        return self.max_wire_bytes or self.max_body_bytes


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # folder under functions/, Lambda logical name, metric dimension
    method: str
    path: str  # API Gateway resource path, e.g. /v1/{dataset}
    family: str  # storage family: datahub, usage, logs, ops
    auth: AuthScheme
    family_module: str  # module with models, dedup and dialect
    dedup: DedupPolicy
    limits: Limits = field(default_factory=Limits)
    summary: str = ""
    operation_id: str | None = None  # kept from the original API where it has one
    success_status: int = 200
    # "ingest": the pipeline stores the body's events. Any other value (e.g. "ping") names a route
    # that carries no events: after authentication the family answers it (Family.answer).
    kind: str = "ingest"
    # Other methods on the same path that the endpoint's function answers with 405 in the family's
    # dialect (the original API does); the local server and the API route them to the same handler.
    refused_methods: tuple[str, ...] = ()

    @property
    def handler_dir(self) -> str:
        return f"functions/{self.name}"


def usage_service(service: str, title: str, *, single_summary: str, operation_id: str | None = None) -> tuple[Endpoint, ...]:
    """The routes of one usage-events service (Dashdive): `POST /<svc>` (one event), `POST /<svc>/batch`,
    `GET /<svc>/recommendedBatchSize` and the read-back `GET /<svc>/events/{id}`. Every one is served
    by the service's model module `ingest.families.usage_<svc>` (read-back by `usage_read`), and each
    still has its own function folder `functions/<name>/`."""
    common = dict(family="usage", auth=AuthScheme.X_API_KEY, dedup=DedupPolicy.KEEP_FIRST)
    module = f"ingest.families.usage.{service}"
    return (
        Endpoint(
            name=f"usage_{service}", method="POST", path=f"/{service}", family_module=module,
            limits=Limits(max_events=1, max_body_bytes=512 * 1024),
            summary=single_summary, operation_id=operation_id, **common,
        ),
        Endpoint(
            name=f"usage_{service}_batch", method="POST", path=f"/{service}/batch", family_module=module,
            # Base64 in the Lambda event adds a third: 3 MiB stays inside Lambda's 6 MB invocation payload.
            limits=Limits(max_events=1_000, max_body_bytes=3 * 1024 * 1024),
            summary=f"Send a JSON array of {title} usage events; 200 with one outcome per event "
            "(stored, duplicate, rejected).",
            **common,
        ),
        Endpoint(
            name=f"usage_{service}_batch_size", method="GET", path=f"/{service}/recommendedBatchSize",
            family_module=module, kind="batch_size",
            summary=f"How many events the SDK should send per request to POST /{service}/batch (plain-text integer).",
            **common,
        ),
        Endpoint(
            name=f"read_usage_{service}_event", method="GET", path=f"/{service}/events/{{id}}",
            family_module="ingest.families.usage.read", kind="read",
            summary=f"Read back one stored {title} usage event by id (the SHA-256 of the stored event).",
            **common,
        ),
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="datahub_events",
        method="POST",
        path="/datahub/v1/events",
        family="datahub",
        auth=AuthScheme.BEARER,
        family_module="ingest.families.datahub.family",
        dedup=DedupPolicy.OVERWRITE,
        limits=Limits(max_events=255, max_body_bytes=2 * 1024 * 1024),
        summary="Ingest a batch of DataHub cost events (all-or-nothing).",
        operation_id="datahubEvents",
        success_status=201,
    ),
    # Usage events (Dashdive): one declaration per cloud service, its routes derived below.
    *usage_service("s3", "S3", operation_id="receiveS3Event",
                   single_summary="Send one S3 usage event: 200 when stored (or already stored), 400 naming the invalid field."),
    *usage_service("ec2", "EC2",
                   single_summary="Send one EC2 usage event (instance started, stopped, or a usage interval)."),
    Endpoint(
        name="usage_ping",
        method="GET",
        path="/ping",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage.family",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="Check a usage-events API key: 200 when valid, 401 otherwise.",
        kind="ping",
    ),
    Endpoint(
        name="ops_events",
        method="POST",
        path="/api/v1/events",
        family="ops",
        auth=AuthScheme.API_TOKEN,
        family_module="ingest.families.ops.family",
        dedup=DedupPolicy.KEEP_FIRST,
        # One event per request, stored as one item: the cap keeps it well inside DynamoDB's 400 KB.
        limits=Limits(max_events=1, max_body_bytes=256 * 1024),
        summary="Push one ops event: information-only (event ids) or problem-opening (correlation id).",
        operation_id="postEvent",
        success_status=200,
    ),
    Endpoint(
        name="logs_events",
        method="POST",
        path="/v1/{dataset}",
        family="logs",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.logs.family",
        dedup=DedupPolicy.KEEP_FIRST,
        # Lambda's 6 MB payload holds the body base64-encoded plus the rest of the event: 4 MiB is
        # the largest round size that fits with every header at its maximum (docs/logs.md). gzip
        # bodies may inflate to the reference's 6 MB (6 MiB). 5,000 events: ~6 MB of typical lines.
        limits=Limits(max_events=5_000, max_body_bytes=6 * 1024 * 1024, max_wire_bytes=4 * 1024 * 1024),
        summary="Send a JSON array of log events to a dataset: 202 when all are stored, 400 listing the invalid ones "
        "(the valid ones are stored).",
        success_status=202,
        refused_methods=("GET", "PUT", "PATCH", "DELETE"),
    ),
    # --- managing what was ingested: delete (DataHub, as its vendor's spec) and read-back by id ---
    # (kinds other than "ingest" are answered by Family.serve after auth, rate limit and scope.)
    Endpoint(
        name="delete_datahub_events",
        method="DELETE",
        path="/datahub/v1/events",
        family="datahub",
        auth=AuthScheme.BEARER,
        family_module="ingest.families.datahub.manage",
        dedup=DedupPolicy.OVERWRITE,
        limits=Limits(max_events=1_000, max_body_bytes=256 * 1024),  # max_events: event ids per request
        summary="Delete events of a dataset by event ids or by time range; effective at once.",
        operation_id="deleteDatahubEvents",
        kind="delete",
    ),
    Endpoint(
        name="delete_datahub_events_by_filter",
        method="POST",
        path="/datahub/v1/events/delete",
        family="datahub",
        auth=AuthScheme.BEARER,
        family_module="ingest.families.datahub.manage",
        dedup=DedupPolicy.OVERWRITE,
        limits=Limits(max_events=1_000, max_body_bytes=256 * 1024),
        summary="Delete events of a dataset by event ids or by time range (the vendor's POST form).",
        operation_id="deleteDatahubEventsByFilter",
        kind="delete",
    ),
    Endpoint(
        name="read_datahub_event",
        method="GET",
        path="/datahub/v1/events/{id}",
        family="datahub",
        auth=AuthScheme.BEARER,
        family_module="ingest.families.datahub.manage",
        dedup=DedupPolicy.OVERWRITE,
        summary="Read back one stored DataHub event by id (query parameter `provider`).",
        operation_id="getDatahubEvent",
        kind="read",
    ),
    Endpoint(
        name="read_logs_event",
        method="GET",
        path="/v1/{dataset}/events/{id}",
        family="logs",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.logs.read",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="Read back one stored log event of a dataset by its `id` (or by its dedup key).",
        kind="read",
    ),
    Endpoint(
        name="read_ops_event",
        method="GET",
        path="/api/v1/events/{eventId}",
        family="ops",
        auth=AuthScheme.API_TOKEN,
        family_module="ingest.families.ops.read",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="Read back one stored ops event by a `storedIds` value, or a problem by its correlation id.",
        operation_id="getEventById",
        kind="read",
    ),
    # --- the service's own documents: no key ---
    Endpoint(
        name="openapi_document",
        method="GET",
        path="/openapi.json",
        family="service",
        auth=AuthScheme.NONE,
        family_module="ingest.documents",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="This API's OpenAPI 3.1 document, generated from the catalog and the handlers' models.",
        operation_id="getOpenApiDocument",
        kind="openapi",
    ),
    Endpoint(
        name="docs_page",
        method="GET",
        path="/docs",
        family="service",
        auth=AuthScheme.NONE,
        family_module="ingest.documents",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="Human-readable API documentation (one self-contained page that renders /openapi.json).",
        operation_id="getDocsPage",
        kind="docs",
    ),
)

_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


def get(name: str) -> Endpoint:
    return _BY_NAME[name]


def routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every route: what the API and the local server must expose."""
    return {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}


def refused_routes() -> set[tuple[str, str]]:
    """(METHOD, path) answered 405 by the path's endpoint function (Endpoint.refused_methods)."""
    return {(method, endpoint.path) for endpoint in ENDPOINTS for method in endpoint.refused_methods}
