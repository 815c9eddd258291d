"""Log events, wire-compatible with the Baselime Events API (seed 003): `POST /v1/{dataset}` and
`POST /v1/{dataset}/{namespace}`.

The whole family, declared once: its routes, `x-api-key`, keep-first dedup within the dataset,
partial acceptance and the `{"message": ...}` dialect. Behaviour: `family.py`; the exact JSON
parser: `jsonparse.py`; read-back: `read.py`. docs/logs.md has the rules and the limits' numbers.
"""

from __future__ import annotations

from ingest.families.logs.family import FAMILY as INGEST
from ingest.families.logs.family import MessageBody
from ingest.families.logs.read import FAMILY as READ
from ingest.spec import DEFAULT_KEPT_HEADERS, AuthScheme, FamilySpec, Limits, Route, RouteKind, WritePolicy

X_API_KEY = AuthScheme.in_header("x-api-key", "X-API-Key")

# Lambda's 6 MB payload holds the body base64-encoded plus the rest of the event: 4 MiB is the largest
# round size that fits with every header at its maximum (docs/logs.md). gzip bodies may inflate to the
# reference's 6 MB (6 MiB). 5,000 events: ~6 MB of typical lines.
INGEST_LIMITS = Limits(max_events=5_000, max_body_bytes=6 * 1024 * 1024, max_wire_bytes=4 * 1024 * 1024)
REFUSED_METHODS = ("GET", "PUT", "PATCH", "DELETE")

SPEC = FamilySpec(
    name="logs",
    title="Log events",
    auth=X_API_KEY,
    write_policy=WritePolicy.KEEP_FIRST,
    error_model=MessageBody,
    error_descriptions={
        401: 'Missing or invalid API key: exactly {"message": "Unauthorised"}.',
        403: "The key may not use log events, or not this dataset.",
        413: "The body is over the limit (4 MiB as sent, 6 MiB after gzip).",
        500: "Nothing was acknowledged; retry the request (stored events are never stored twice).",
    },
    # A key may be limited to datasets: `logs:<dataset>` or `logs:<prefix>*`.
    scope_resource="dataset",
    # The service and namespace a client logged under, kept beside a rejected event.
    kept_headers=(*DEFAULT_KEPT_HEADERS, "x-service", "x-namespace"),
    routes=(
        Route(
            name="logs_events",
            method="POST",
            path="/v1/{dataset}",
            kind=RouteKind.INGEST,
            impl=INGEST,
            limits=INGEST_LIMITS,
            summary="Send a JSON array of log events to a dataset: 202 when all are stored, 400 listing the invalid "
            "ones (the valid ones are stored).",
            success_status=202,
            refused_methods=REFUSED_METHODS,
        ),
        # The docs' other form: the namespace in the path, as `x-namespace` would send it (the path wins
        # when both name one). One function of its own, the same family object, limits and dialect.
        Route(
            name="logs_namespace_events",
            method="POST",
            path="/v1/{dataset}/{namespace}",
            kind=RouteKind.INGEST,
            impl=INGEST,
            limits=INGEST_LIMITS,
            summary="Send a JSON array of log events to a dataset under a namespace (as `x-namespace` would; the path "
            "wins over the header): 202 when all are stored, 400 listing the invalid ones (the valid ones are stored).",
            success_status=202,
            refused_methods=REFUSED_METHODS,
        ),
        Route(
            name="read_logs_event",
            method="GET",
            path="/v1/{dataset}/events/{id}",
            kind=RouteKind.READ,
            impl=READ,
            summary="Read back one stored log event of a dataset by its `id` (or by its dedup key).",
        ),
    ),
)
