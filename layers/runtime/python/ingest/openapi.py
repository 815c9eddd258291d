"""The OpenAPI 3.1 document, derived from the catalog and the very models the handlers validate with.

`python -m ingest.openapi > openapi.json` prints it.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from pydantic import TypeAdapter

from ingest.catalog import ENDPOINTS, AuthScheme, Endpoint

SECURITY_SCHEMES: dict[AuthScheme, dict] = {
    AuthScheme.X_API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "`<8-char prefix>.<48-char base64 payload>`; the header name is case-insensitive.",
    },
    AuthScheme.BEARER: {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`."},
    AuthScheme.API_TOKEN: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Api-Token <key>` (scheme matched case-insensitively).",
    },
}


def _schema(annotation: Any, components: dict) -> dict:
    """JSON schema of a model or type, its nested definitions hoisted into components."""
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    components.update(schema.pop("$defs", {}))
    return schema


def _operation(endpoint: Endpoint, components: dict) -> dict:
    family = importlib.import_module(endpoint.family_module).FAMILY
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id or endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.family],
        "security": [{endpoint.auth.value: []}],
        "responses": {},
    }
    parameters = [
        {"name": segment[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for segment in endpoint.path.split("/")
        if segment.startswith("{")
    ]
    if parameters:
        operation["parameters"] = parameters
    request_model = family.openapi_request(endpoint)
    if request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(request_model, components)}},
        }
    for status, (description, media_type, model) in sorted(family.openapi_responses(endpoint).items()):
        response: dict[str, Any] = {"description": description}
        if model is not None:
            response["content"] = {media_type: {"schema": _schema(model, components)}}
        operation["responses"][str(status)] = response
    return operation


def build_document(endpoints: tuple[Endpoint, ...] = ENDPOINTS, server_url: str | None = None) -> dict:
    components: dict[str, dict] = {}
    paths: dict[str, dict] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Ingest API",
            "version": "1.0.0",
            "description": "Self-hosted event ingestion, wire-compatible with four public ingestion APIs.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {scheme.value: spec for scheme, spec in SECURITY_SCHEMES.items()},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


if __name__ == "__main__":
    print(json.dumps(build_document(), indent=2))
