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
)

_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


def get(name: str) -> Endpoint:
    return _BY_NAME[name]


def routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every route: what the API and the local server must expose."""
    return {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}
