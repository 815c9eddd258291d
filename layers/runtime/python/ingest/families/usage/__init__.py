"""Usage events, wire-compatible with Dashdive's ingest API (`specs/dashdive_openapi.json`, seed 000).

The whole family, declared once: one set of routes per cloud service (`service_routes`), `GET /ping`,
`X-API-Key`, keep-first dedup on the SHA-256 of the canonical event, the `{"message": ...}` dialect.
Behaviour: `family.py`; a service's models: `s3.py`, `ec2.py` (imported only by the routes that validate
them); read-back: `read.py`. A third service is one model module, one `UsageService` and one
`*service_routes(...)` line below (docs/usage.md).
"""

from __future__ import annotations

from ingest.families.usage.family import PING, Role, UsageFamily, UsageMessageBody, UsageService
from ingest.families.usage.read import UsageReadFamily
from ingest.families.usage.telemetry import UsageTelemetryFamily
from ingest.spec import AuthScheme, FamilySpec, Limits, Route, RouteKind, WritePolicy

X_API_KEY = AuthScheme.in_header("x-api-key", "X-API-Key")

# The services; each one's models are imported by the first route that validates them.
S3 = UsageService(name="s3", title="S3", models="ingest.families.usage.s3:S3Event")
EC2 = UsageService(name="ec2", title="EC2", models="ingest.families.usage.ec2:Ec2EventUnion")


def service_routes(service: UsageService, *, single_summary: str, operation_id: str | None = None) -> tuple[Route, ...]:
    """The routes of one usage-events service: `POST /<svc>` (one event), `POST /<svc>/batch`,
    `GET /<svc>/recommendedBatchSize` and the read-back `GET /<svc>/events/{id}`; each still has its
    own function folder `functions/<name>/`."""
    batch = Route(
        name=f"usage_{service.name}_batch", method="POST", path=service.batch_path, kind=RouteKind.INGEST,
        impl=UsageFamily(service, Role.BATCH),
        # Base64 in the Lambda event adds a third: 3 MiB stays inside Lambda's 6 MB invocation payload.
        limits=Limits(max_events=1_000, max_body_bytes=3 * 1024 * 1024),
        summary=f"Send a JSON array of {service.title} usage events; 200 with one outcome per event "
        "(stored, duplicate, rejected).",
    )
    return (
        Route(
            name=f"usage_{service.name}", method="POST", path=service.path, kind=RouteKind.INGEST,
            impl=UsageFamily(service, Role.SINGLE), limits=Limits(max_events=1, max_body_bytes=512 * 1024),
            summary=single_summary, operation_id=operation_id,
        ),
        batch,
        Route(
            name=f"usage_{service.name}_batch_size", method="GET", path=f"{service.path}/recommendedBatchSize",
            kind=RouteKind.BATCH_SIZE, impl=UsageFamily(service, batch_route=batch),
            summary=f"How many events the SDK should send per request to POST {service.batch_path} (plain-text integer).",
        ),
        Route(
            name=f"read_usage_{service.name}_event", method="GET", path=f"{service.path}/events/{{id}}",
            kind=RouteKind.READ, impl=UsageReadFamily(service),
            summary=f"Read back one stored {service.title} usage event by id (the SHA-256 of the stored event).",
        ),
    )


# The SDK's reports are a few hundred bytes; the caps keep a misbehaving client (or anyone, on the
# keyless route) from filling the table with them. 413 in the family's dialect above them.
TELEMETRY_MAX_BODY_BYTES = 64 * 1024
INVALID_KEY_REPORT_MAX_BODY_BYTES = 8 * 1024
# Reports about the SDK's health are kept a week (the family's events: its retention); reports of
# refused keys, kept under no tenant, a day.
TELEMETRY_RETENTION_DAYS = 7
INVALID_KEY_REPORT_RETENTION_DAYS = 1


def telemetry_route(name: str, report: str, summary: str) -> Route:
    return Route(
        name=f"usage_telemetry_{name}", method="POST", path=f"/telemetry/{report}", kind=RouteKind.INGEST,
        impl=UsageTelemetryFamily(), limits=Limits(max_events=1, max_body_bytes=TELEMETRY_MAX_BODY_BYTES),
        summary=summary, retention_days=TELEMETRY_RETENTION_DAYS, telemetry_stream=f"telemetry.{report}",
    )


TELEMETRY_ROUTES = (
    telemetry_route("lifecycle", "lifecycle", "The SDK's lifecycle report (started, stopped, ...): 200, kept for the "
                    "key's tenant for 7 days (`python -m cli telemetry list`). Any JSON object, no Content-Type needed."),
    telemetry_route("extraction_issues", "extractionIssues", "The SDK's report of events it could not extract: 200, "
                    "kept for the key's tenant for 7 days. Any JSON object, no Content-Type needed."),
    telemetry_route("metrics_incremental", "metricsIncremental", "The SDK's counters since its last report: 200, "
                    "kept for the key's tenant for 7 days. Any JSON object, no Content-Type needed."),
    Route(
        name="usage_telemetry_invalid_api_key", method="POST", path="/telemetry/invalidApiKey", kind=RouteKind.INGEST,
        impl=UsageTelemetryFamily(redact=True),
        limits=Limits(max_events=1, max_body_bytes=INVALID_KEY_REPORT_MAX_BODY_BYTES),
        summary="The SDK's report of an API key it refused to use, sent without any key: 200. Kept under no tenant "
        "for 1 day with every key replaced by its SHA-256 and prefix; never logged, never kept in clear.",
        keyless=True, keyless_rate_limit=600, edge_throttle=(5.0, 10),
        retention_days=INVALID_KEY_REPORT_RETENTION_DAYS, telemetry_stream="telemetry.invalidApiKey",
    ),
)

SPEC = FamilySpec(
    name="usage",
    title="Usage events",
    auth=X_API_KEY,
    write_policy=WritePolicy.KEEP_FIRST,
    error_model=UsageMessageBody,
    error_descriptions={401: "Missing or invalid API key (`X-API-Key`).", 403: "The key may not use the usage-events API."},
    routes=(
        *service_routes(S3, operation_id="receiveS3Event",
                        single_summary="Send one S3 usage event: 200 when stored (or already stored), 400 naming the "
                        "invalid field."),
        *service_routes(EC2,
                        single_summary="Send one EC2 usage event (instance started, stopped, or a usage interval)."),
        Route(
            name="usage_ping", method="GET", path="/ping", kind=RouteKind.PING, impl=PING,
            summary="Check a usage-events API key: 200 when valid, 401 otherwise.",
        ),
        *TELEMETRY_ROUTES,
    ),
)
