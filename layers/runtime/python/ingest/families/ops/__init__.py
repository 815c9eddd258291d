"""Ops events, wire-compatible with Events API v1 (`specs/dt_envv1.json`, seed 004).

The whole family, declared once: `POST /api/v1/events` (`postEvent`), the query
`GET /api/v1/events` (`queryEvents`), the read-back `GET /api/v1/events/{eventId}` (`getEventById`), `Authorization: Api-Token <key>`, keep-first events
with problem windows, and the `ErrorEnvelope` dialect. Behaviour: `family.py`; the model, per-type
matrix and time windows: `model.py`; queries: `query.py`; read-back: `read.py`; the
`EventRestEntry` both answer: `entry.py`.
"""

from __future__ import annotations

from ingest.families.ops.family import FAMILY as INGEST
from ingest.families.ops.family import OpsErrorEnvelope
from ingest.families.ops.query import FAMILY as QUERY
from ingest.families.ops.read import FAMILY as READ
from ingest.spec import AuthScheme, FamilySpec, Limits, Route, RouteKind, WritePolicy

API_TOKEN = AuthScheme.in_header("api-token", "Authorization", "Api-Token")

SPEC = FamilySpec(
    name="ops",
    title="Ops events",
    auth=API_TOKEN,
    write_policy=WritePolicy.PROBLEM_WINDOW,
    error_model=OpsErrorEnvelope,
    error_descriptions={401: "Missing or invalid API token.", 403: "The token may not use the ops-events API."},
    routes=(
        Route(
            name="ops_events",
            method="POST",
            path="/api/v1/events",
            kind=RouteKind.INGEST,
            impl=INGEST,
            # One event per request, stored as one item: the cap keeps it well inside DynamoDB's 400 KB.
            limits=Limits(max_events=1, max_body_bytes=256 * 1024),
            summary="Push one ops event: information-only (event ids) or problem-opening (correlation id).",
            operation_id="postEvent",
        ),
        Route(
            name="query_ops_events",
            method="GET",
            path="/api/v1/events",
            kind=RouteKind.QUERY,
            impl=QUERY,
            summary="Query the stored ops events of a timeframe, 150 a page, with a signed cursor.",
            operation_id="queryEvents",
        ),
        Route(
            name="read_ops_event",
            method="GET",
            path="/api/v1/events/{eventId}",
            kind=RouteKind.READ,
            impl=READ,
            summary="Read back one stored ops event (EventRestEntry) by its id, or a problem by its correlation id.",
            operation_id="getEventById",
        ),
    ),
)
