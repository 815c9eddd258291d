"""The OpenAPI 3.1 document, derived from the catalog and the very models the handlers validate with.

Every catalog route is an operation; its request body, parameters and its own answers (success,
400) come from its family object (`openapi_request`, `openapi_parameters`, `openapi_responses`), so the
document cannot drift from what the handlers accept and return. The answers every route of a family
shares (401, 403, 404, 413, 429, 500) come once from the family's error model (`FamilySpec.error_model`),
by route kind. What the pipeline adds for every family is added here once: the RateLimit-* headers on
every answer after authentication, and the 405 operations of the methods a route refuses
(`Route.refused_methods`). Security schemes are the families' `AuthScheme` objects.

`python -m ingest.openapi > openapi.json` prints it; `GET /openapi.json` serves it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from ingest import catalog
from ingest.spec import Endpoint

# The answers every keyed route shares, in every family's own error shape (its spec's error_model);
# a family's error_descriptions may say more.
SHARED_ERRORS = {
    401: "Missing or invalid API key.",
    403: "The key may not use this route (its scopes).",
    404: "Nothing stored for this key's tenant matches (another tenant's events are never seen).",
    413: "Body over the size limit.",
    429: "Over this API key's rate limit; retry after `Retry-After` seconds.",
    500: "An internal error; nothing was acknowledged, retry.",
    503: "Storage unavailable or this request's time budget spent; nothing was acknowledged, retry after "
    "`Retry-After` seconds.",
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
    return [] if endpoint.public else [{endpoint.auth.name: []}]


def _shared_statuses(endpoint: Endpoint) -> list[int]:
    """The error answers a route gives by its kind, whatever its family."""
    if endpoint.keyless:  # no key to refuse, but a body cap and the route's own rate bound
        return [413, 429, 500, 503] if endpoint.kind.has_body else [429, 500, 503]
    if endpoint.public:
        return [500]
    statuses = [401, 403, 429, 500, 503]
    if endpoint.kind.finds_stored:
        statuses.append(404)
    if endpoint.kind.has_body:
        statuses.append(413)
    return statuses


def _answers(endpoint: Endpoint) -> dict[int, tuple[str, str, Any]]:
    """status -> (description, media type, model): the route's own answers, then the shared ones."""
    spec = endpoint.spec
    answers = dict(endpoint.impl.openapi_responses(endpoint))
    for status in _shared_statuses(endpoint):
        description = spec.error_descriptions.get(status, SHARED_ERRORS[status])
        answers.setdefault(status, (description, spec.error_media_type, spec.error_model))
    return answers


def _responses(endpoint: Endpoint, components: dict) -> dict:
    responses: dict[str, Any] = {}
    for status, (description, media_type, model) in sorted(_answers(endpoint).items()):
        response: dict[str, Any] = {"description": description}
        if model is not None:
            response["content"] = {media_type: {"schema": _schema(model, components)}}
        responses[str(status)] = response
    return responses


def _operation(endpoint: Endpoint, components: dict) -> dict:
    family = endpoint.impl
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id or endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.family],
        "security": _security(endpoint),
        "responses": _responses(endpoint, components),
    }
    parameters = _parameters(endpoint, family)
    if parameters:
        operation["parameters"] = parameters
    request_model = family.openapi_request(endpoint)
    if request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {family.openapi_request_media_type(endpoint): {"schema": _schema(request_model, components)}},
        }
    if not endpoint.public or endpoint.keyless:
        _document_rate_limits(operation["responses"])
    return operation


def _refused_operation(endpoint: Endpoint, method: str, components: dict) -> dict:
    """A method the route answers 405 (before any key is read), in the family's error shape."""
    spec = endpoint.spec
    response: dict[str, Any] = {
        "description": f"{method} is not allowed here; use {endpoint.method} (see `Allow`).",
        "headers": {"Allow": {"description": "The methods the path accepts.", "schema": {"type": "string"}}},
    }
    if spec.error_model is not None:
        response["content"] = {spec.error_media_type: {"schema": _schema(spec.error_model, components)}}
    return {
        "operationId": f"{endpoint.name}_{method.lower()}_not_allowed",
        "summary": f"Not allowed: {endpoint.path} only takes {endpoint.method}.",
        "tags": [endpoint.family],
        "security": [],
        "parameters": _parameters(endpoint, endpoint.impl),
        "responses": {"405": response},
    }


def _document_rate_limits(responses: dict) -> None:
    """Every answer after authentication carries the RateLimit-* headers; the 429, Retry-After."""
    headers = {name: {"description": text, "schema": {"type": "integer" if name != "RateLimit-Policy" else "string"}}
               for name, text in RATE_LIMIT_HEADERS.items()}
    responses["429"].setdefault("headers", {})["Retry-After"] = {
        "description": "Seconds until the key's window ends.", "schema": {"type": "integer"}
    }
    if "503" in responses:
        responses["503"].setdefault("headers", {})["Retry-After"] = {
            "description": "Seconds to wait before retrying.", "schema": {"type": "integer"}
        }
    for status, response in responses.items():
        if status not in _BEFORE_THE_KEY:
            response.setdefault("headers", {}).update(headers)


def build_document(endpoints: tuple[Endpoint, ...] | None = None, server_url: str | None = None) -> dict:
    endpoints = catalog.ENDPOINTS if endpoints is None else endpoints
    components: dict[str, dict] = {}
    paths: dict[str, dict] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    for endpoint in endpoints:
        for method in endpoint.refused_methods:
            # Another endpoint that really serves the method on this path wins (as the router does).
            paths[endpoint.path].setdefault(method.lower(), _refused_operation(endpoint, method, components))
    schemes: dict[str, dict] = {}
    for endpoint in endpoints:
        if not endpoint.public and schemes.setdefault(endpoint.auth.name, dict(endpoint.auth.security_scheme)) != dict(
            endpoint.auth.security_scheme
        ):
            raise ValueError(f"two families declare different security schemes named {endpoint.auth.name!r}")
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Ingest API",
            "version": "1.0.0",
            "description": "Self-hosted event ingestion, wire-compatible with public ingestion APIs (one tag per family). "
            "Each family keeps its original API's routes, auth header, status codes and bodies; read-back "
            "and delete routes answer in the same dialect. Human docs: `/docs`.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": dict(sorted(schemes.items())),
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


if __name__ == "__main__":
    print(json.dumps(build_document(), indent=2))
