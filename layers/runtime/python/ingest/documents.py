"""The service's own public routes: `GET /openapi.json` and `GET /docs` (a spec with `auth=None`: no key).

The document is built once per process, on first use, from the catalog and the families' models
(ingest.openapi). The docs page is one self-contained HTML file (ingest/static/docs.html: its own
CSS and a small script, no CDN, nothing else to fetch) that renders `openapi.json` from beside it.
Its `servers` entry is relative (`.`), so the document points at wherever it is served from: the
stage URL deployed, the local server under `make serve`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from ingest.auth import Principal
from ingest.errors import IngestError
from ingest.family import Family, Response, json_response
from ingest.request import Request
from ingest.spec import FamilySpec, Route, RouteKind, WritePolicy

DOCS_PAGE = Path(__file__).resolve().parent / "static" / "docs.html"
# Documents change only with a deployment: let clients and proxies keep them a few minutes.
CACHE_CONTROL = {"Cache-Control": "public, max-age=300"}


class ServiceMessageBody(BaseModel):
    message: str


@cache
def openapi_bytes() -> bytes:
    from ingest.openapi import build_document  # imports every family: only when first asked for

    return orjson.dumps(build_document(server_url="."))


@cache
def docs_bytes() -> bytes:
    return DOCS_PAGE.read_bytes()


class ServiceFamily(Family):
    name = "service"

    serves_kinds = frozenset({RouteKind.OPENAPI, RouteKind.DOCS})

    def answer(self, request: Request, principal: Principal | None) -> Response:
        if self.kind is RouteKind.OPENAPI:
            return Response(200, openapi_bytes(), headers=dict(CACHE_CONTROL))
        return Response(200, docs_bytes(), content_type="text/html; charset=utf-8", headers=dict(CACHE_CONTROL))

    def render_error(self, error: IngestError) -> Response:
        return json_response(error.status, {"message": error.message})

    def openapi_responses(self, endpoint) -> dict:
        if endpoint.kind is RouteKind.OPENAPI:
            ok: tuple[str, str, Any] = ("This document (OpenAPI 3.1).", "application/json", dict[str, Any])
        else:
            ok = ("The documentation page: self-contained HTML that renders /openapi.json.", "text/html", str)
        return {200: ok}


FAMILY = ServiceFamily()

# The service's own routes (no key: AuthScheme None). Core, not a family package: they document the
# families and own no data.
SPEC = FamilySpec(
    name="service",
    title="Service",
    auth=None,
    write_policy=WritePolicy.KEEP_FIRST,  # stores nothing
    error_model=ServiceMessageBody,
    error_descriptions={500: "Internal error; retry."},
    routes=(
        Route(
            name="openapi_document", method="GET", path="/openapi.json", kind=RouteKind.OPENAPI, impl=FAMILY,
            summary="This API's OpenAPI 3.1 document, generated from the catalog and the handlers' models.",
            operation_id="getOpenApiDocument",
        ),
        Route(
            name="docs_page", method="GET", path="/docs", kind=RouteKind.DOCS, impl=FAMILY,
            summary="Human-readable API documentation (one self-contained page that renders /openapi.json).",
            operation_id="getDocsPage",
        ),
    ),
)
