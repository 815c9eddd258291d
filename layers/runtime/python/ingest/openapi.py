"""The OpenAPI 3.1 document, derived from the catalog and the very models the handlers validate with.

Every catalog route is an operation; its request body, parameters and answers come from its
family (`openapi_request`, `openapi_parameters`, `openapi_responses`), so the document cannot
drift from what the handlers accept and return. What the pipeline adds for every family is added
here once: the RateLimit-* headers on every answer after authentication, the 429 answer, and the
405 operations of the methods a route refuses (`Endpoint.refused_methods`).

`python -m ingest.openapi > openapi.json` prints it; `GET /openapi.json` serves it.
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

# What the pipeline adds to every answer of an authenticated request (ingest.ratelimit).
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests per minute this API key may send.",
    "RateLimit-Remaining": "Requests left in the current one-minute window.",
    "RateLimit-Reset": "Seconds until the current window ends.",
    "RateLimit-Policy": "The limit and window, e.g. `1000;w=60`.",
}
# Answered before a key is counted: no RateLimit-* headers on these.
_BEFORE_THE_KEY = ("401", "405", "413")
# A path segment can be neither: clients and proxies resolve them away before the request is sent.
_PATH_SEGMENT = {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]}}


def _schema(annotation: Any, components: dict) -> dict:
    """JSON schema of a model or type, its nested definitions hoisted into components."""
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    for name, definition in schema.pop("$defs", {}).items():
        # Two families' models with one name would silently document the wrong shape.
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different models are named {name!r}; rename one")
    return schema


def _family(endpoint: Endpoint):
    return importlib.import_module(endpoint.family_module).FAMILY


def _parameters(endpoint: Endpoint, family) -> list[dict]:
    declared = {(parameter["in"], parameter["name"]): parameter for parameter in family.openapi_parameters(endpoint)}
    parameters = []
    for segment in endpoint.path.split("/"):
        if segment.startswith("{"):
            name = segment[1:-1]
            parameters.append(
                declared.pop(("path", name), {"name": name, "in": "path", "required": True, "schema": _PATH_SEGMENT})
            )
    return parameters + list(declared.values())


def _security(endpoint: Endpoint) -> list[dict]:
    return [] if endpoint.auth is AuthScheme.NONE else [{endpoint.auth.value: []}]


def _responses(family, endpoint: Endpoint, components: dict) -> dict:
    responses: dict[str, Any] = {}
    for status, (description, media_type, model) in sorted(family.openapi_responses(endpoint).items()):
        response: dict[str, Any] = {"description": description}
        if model is not None:
            response["content"] = {media_type: {"schema": _schema(model, components)}}
        responses[str(status)] = response
    return responses


def _operation(endpoint: Endpoint, components: dict) -> dict:
    family = _family(endpoint)
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id or endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.family],
        "security": _security(endpoint),
        "responses": _responses(family, endpoint, components),
    }
    parameters = _parameters(endpoint, family)
    if parameters:
        operation["parameters"] = parameters
    request_model = family.openapi_request(endpoint)
    if request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(request_model, components)}},
        }
    if endpoint.auth is not AuthScheme.NONE:
        _document_rate_limits(operation["responses"])
    return operation


def _refused_operation(endpoint: Endpoint, method: str, components: dict) -> dict:
    """A method the route answers 405 (before any key is read), in the family's error shape."""
    family = _family(endpoint)
    answers = family.openapi_responses(endpoint)
    error_shape = answers.get(405) or answers.get(401) or answers.get(400)
    response: dict[str, Any] = {
        "description": f"{method} is not allowed here; use {endpoint.method} (see `Allow`).",
        "headers": {"Allow": {"description": "The methods the path accepts.", "schema": {"type": "string"}}},
    }
    if error_shape and error_shape[2] is not None:
        response["content"] = {error_shape[1]: {"schema": _schema(error_shape[2], components)}}
    return {
        "operationId": f"{endpoint.name}_{method.lower()}_not_allowed",
        "summary": f"Not allowed: {endpoint.path} only takes {endpoint.method}.",
        "tags": [endpoint.family],
        "security": [],
        "parameters": _parameters(endpoint, family),
        "responses": {"405": response},
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
        if status not in _BEFORE_THE_KEY:
            response.setdefault("headers", {}).update(headers)


def build_document(endpoints: tuple[Endpoint, ...] = ENDPOINTS, server_url: str | None = None) -> dict:
    components: dict[str, dict] = {}
    paths: dict[str, dict] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    for endpoint in endpoints:
        for method in endpoint.refused_methods:
            # Another endpoint that really serves the method on this path wins (as the router does).
            paths[endpoint.path].setdefault(method.lower(), _refused_operation(endpoint, method, components))
    used = {endpoint.auth for endpoint in endpoints}
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Ingest API",
            "version": "1.0.0",
            "description": "Self-hosted event ingestion, wire-compatible with four public ingestion APIs. "
            "Each family keeps its original API's routes, auth header, status codes and bodies; read-back "
            "and delete routes answer in the same dialect. Human docs: `/docs`.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {scheme.value: spec for scheme, spec in SECURITY_SCHEMES.items() if scheme in used},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


if __name__ == "__main__":
    print(json.dumps(build_document(), indent=2))
