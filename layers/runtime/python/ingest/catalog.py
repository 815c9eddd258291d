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


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="datahub_events",
        method="POST",
        path="/datahub/v1/events",
        family="datahub",
        auth=AuthScheme.BEARER,
        family_module="ingest.families.datahub",
        dedup=DedupPolicy.OVERWRITE,
        limits=Limits(max_events=255, max_body_bytes=2 * 1024 * 1024),
        summary="Ingest a batch of DataHub cost events (all-or-nothing).",
        operation_id="datahubEvents",
        success_status=201,
    ),
    # Usage events (Dashdive): per service POST /<svc>, POST /<svc>/batch, GET /<svc>/recommendedBatchSize,
    # all served by the service's model module; GET /ping by the family itself.
    Endpoint(
        name="usage_s3",
        method="POST",
        path="/s3",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_s3",
        dedup=DedupPolicy.KEEP_FIRST,
        limits=Limits(max_events=1, max_body_bytes=512 * 1024),
        summary="Send one S3 usage event: 200 when stored (or already stored), 400 naming the invalid field.",
        operation_id="receiveS3Event",
    ),
    Endpoint(
        name="usage_s3_batch",
        method="POST",
        path="/s3/batch",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_s3",
        dedup=DedupPolicy.KEEP_FIRST,
        # Base64 in the Lambda event adds a third: 3 MiB stays inside Lambda's 6 MB invocation payload.
        limits=Limits(max_events=1_000, max_body_bytes=3 * 1024 * 1024),
        summary="Send a JSON array of S3 usage events; 200 with one outcome per event (stored, duplicate, rejected).",
    ),
    Endpoint(
        name="usage_s3_batch_size",
        method="GET",
        path="/s3/recommendedBatchSize",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_s3",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="How many events the SDK should send per request to POST /s3/batch (plain-text integer).",
        kind="batch_size",
    ),
    Endpoint(
        name="usage_ec2",
        method="POST",
        path="/ec2",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_ec2",
        dedup=DedupPolicy.KEEP_FIRST,
        limits=Limits(max_events=1, max_body_bytes=512 * 1024),
        summary="Send one EC2 usage event (instance started, stopped, or a usage interval).",
    ),
    Endpoint(
        name="usage_ec2_batch",
        method="POST",
        path="/ec2/batch",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_ec2",
        dedup=DedupPolicy.KEEP_FIRST,
        limits=Limits(max_events=1_000, max_body_bytes=3 * 1024 * 1024),
        summary="Send a JSON array of EC2 usage events; 200 with one outcome per event.",
    ),
    Endpoint(
        name="usage_ec2_batch_size",
        method="GET",
        path="/ec2/recommendedBatchSize",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_ec2",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="How many events the SDK should send per request to POST /ec2/batch (plain-text integer).",
        kind="batch_size",
    ),
    Endpoint(
        name="usage_ping",
        method="GET",
        path="/ping",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage",
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
        family_module="ingest.families.ops",
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
        family_module="ingest.families.logs",
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
        family_module="ingest.families.datahub_manage",
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
        family_module="ingest.families.datahub_manage",
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
        family_module="ingest.families.datahub_manage",
        dedup=DedupPolicy.OVERWRITE,
        summary="Read back one stored DataHub event by id (query parameter `provider`).",
        operation_id="getDatahubEvent",
        kind="read",
    ),
    Endpoint(
        name="read_usage_s3_event",
        method="GET",
        path="/s3/events/{id}",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_read",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="Read back one stored S3 usage event by id (the SHA-256 of the stored event).",
        kind="read",
    ),
    Endpoint(
        name="read_usage_ec2_event",
        method="GET",
        path="/ec2/events/{id}",
        family="usage",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.usage_read",
        dedup=DedupPolicy.KEEP_FIRST,
        summary="Read back one stored EC2 usage event by id (the SHA-256 of the stored event).",
        kind="read",
    ),
    Endpoint(
        name="read_logs_event",
        method="GET",
        path="/v1/{dataset}/events/{id}",
        family="logs",
        auth=AuthScheme.X_API_KEY,
        family_module="ingest.families.logs_read",
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
        family_module="ingest.families.ops_read",
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
        family_module="ingest.families.service",
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
        family_module="ingest.families.service",
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
