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
    for name, definition in schema.pop("$defs", {}).items():
        # Two families' models with one name would silently document the wrong shape.
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different models are named {name!r}; rename one")
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
    _document_rate_limits(operation["responses"])
    return operation


# What the pipeline adds to every answer of an authenticated request (ingest.ratelimit).
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests per minute this API key may send.",
    "RateLimit-Remaining": "Requests left in the current one-minute window.",
    "RateLimit-Reset": "Seconds until the current window ends.",
    "RateLimit-Policy": "The limit and window, e.g. `1000;w=60`.",
}


def _document_rate_limits(responses: dict) -> None:
    """Every family answers 429 (over the key's rate limit) through its own error rendering, the
    same as its 403; and every answer after authentication carries the RateLimit-* headers."""
    headers = {name: {"description": text, "schema": {"type": "integer" if name != "RateLimit-Policy" else "string"}}
               for name, text in RATE_LIMIT_HEADERS.items()}
    if "429" not in responses:
        too_many = {"description": "Over this API key's rate limit; retry after `Retry-After` seconds."}
        if "content" in responses.get("403", {}):
            too_many["content"] = responses["403"]["content"]  # the same error shape as the dialect's 403
        responses["429"] = too_many
    responses["429"].setdefault("headers", {})["Retry-After"] = {
        "description": "Seconds until the key's window ends.", "schema": {"type": "integer"}
    }
    for status, response in responses.items():
        if status not in ("401", "405", "413"):  # answered before a key is counted
            response.setdefault("headers", {}).update(headers)


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
