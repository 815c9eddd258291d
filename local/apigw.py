"""HTTP request <-> API Gateway REST proxy event, as the deployed API would build it.

The routes are the catalog's, read when asked for (`routes()`, also `ROUTES`): a family added to
`ingest.registry` is served without any edit here.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from ingest import catalog
from ingest.spec import Endpoint

STAGE = "local"


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: Endpoint
    pattern: re.Pattern

    @classmethod
    def of(cls, endpoint: Endpoint) -> Route:
        return cls(endpoint, path_pattern(endpoint.path))


def path_pattern(template: str) -> re.Pattern:
    """The regex of a resource path template, `{param}` segments as named groups."""
    regex = ""
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            regex += f"/(?P<{segment[1:-2]}>.+)"
        elif segment.startswith("{"):
            regex += f"/(?P<{segment[1:-1]}>[^/]+)"
        else:
            regex += "/" + re.escape(segment)
    return re.compile(regex or "/")


# The catalog's endpoints and their compiled routes, kept until the catalog is another one.
_compiled: tuple[tuple[Endpoint, ...], tuple[Route, ...]] | None = None


def routes() -> tuple[Route, ...]:
    """One route per catalog endpoint, compiled once per catalog (again after `catalog.reset()`)."""
    global _compiled
    endpoints = catalog.ENDPOINTS
    if _compiled is None or _compiled[0] is not endpoints:  # two threads racing compile the same routes
        _compiled = (endpoints, tuple(Route.of(endpoint) for endpoint in endpoints))
    return _compiled[1]


def __getattr__(name: str):
    # `ROUTES` is the catalog's routes as they are now, not as they were when this module loaded.
    if name == "ROUTES":
        return routes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _specificity(template: str) -> tuple[int, ...]:
    """Sorts templates as API Gateway prefers them: literal segments before variables, left first."""
    return tuple(1 if segment.startswith("{") else 0 for segment in template.strip("/").split("/"))


# The methods an API Gateway REST resource can have (ANY means these). The local server sends any
# other method on a route's path a 405 itself, in the route family's dialect.
GATEWAY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


# Every resource of the API: each route's path and each of its prefixes (API Gateway creates them
# segment by segment), compiled once per catalog.
_resources: tuple[tuple[Endpoint, ...], tuple[tuple[str, re.Pattern], ...]] | None = None


def resources() -> tuple[tuple[str, re.Pattern], ...]:
    global _resources
    endpoints = catalog.ENDPOINTS
    if _resources is None or _resources[0] is not endpoints:
        templates = dict.fromkeys(
            "/" + "/".join(segments[:length])
            for segments in (endpoint.path.strip("/").split("/") for endpoint in endpoints)
            for length in range(1, len(segments) + 1)
        )
        _resources = (endpoints, tuple((template, path_pattern(template)) for template in templates))
    return _resources[1]


def _resource_routes(path: str) -> list[Route]:
    # API Gateway resolves the resource first, a literal segment winning over a {variable} one
    # (/datahub/v1/events/delete over /datahub/v1/events/{id}), and only then the method. A resource
    # with no method of its own wins too (/v1/{dataset}/events, the parent of a read route, over
    # /v1/{dataset}/{namespace}): the deployed API answers 403 there, and so does the local server.
    matching = [template for template, pattern in resources() if pattern.fullmatch(path)]
    if not matching:
        return []
    resource = min(matching, key=_specificity)
    return [route for route in routes() if route.endpoint.path == resource and route.pattern.fullmatch(path)]


def resource_endpoints(raw_path: str) -> tuple[Endpoint, ...]:
    """The catalog endpoints of the API Gateway resource a path belongs to (in catalog order), or ()
    for a path of no route. They share the resource's path template (Endpoint.path)."""
    return tuple(route.endpoint for route in _resource_routes(urlsplit(raw_path).path))


def family_of(raw_path: str) -> str:
    """The family whose API a path of no route would have reached deployed (one REST API per family,
    infra.edge): the one whose routes share the path's first segment, else the service's own API."""
    first = urlsplit(raw_path).path.strip("/").split("/", 1)[0]
    families = {endpoint.family for endpoint in catalog.ENDPOINTS
                if endpoint.path.strip("/").split("/", 1)[0] == first and not first.startswith("{")}
    return families.pop() if len(families) == 1 else "service"


def match(method: str, raw_path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The catalog endpoint for a request, with its path parameters (decoded), or None.

    A method the path's endpoint refuses (Endpoint.refused_methods) goes to that endpoint, which
    answers 405, unless another endpoint really serves that method on the path."""
    path = urlsplit(raw_path).path
    refusing = None
    for route in _resource_routes(path):
        found = route.pattern.fullmatch(path)
        params = {name: unquote(value) for name, value in found.groupdict().items()}
        if route.endpoint.method == method:
            return route.endpoint, params
        if refusing is None and method in route.endpoint.refused_methods:
            refusing = route.endpoint, params
    return refusing


def to_event(endpoint: Endpoint, path_params: dict, method: str, raw_path: str, headers: list[tuple[str, str]],
             body: bytes, source_ip: str, base64_body: bool = True) -> dict:
    parts = urlsplit(raw_path)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    request_id = str(uuid.uuid4())
    path = unquote(parts.path)
    return {
        "resource": endpoint.path,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": endpoint.path,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": source_ip, "userAgent": multi_headers.get("User-Agent", [None])[-1]},
        },
        # The deployed API treats every media type as binary (so gzip passes through untouched),
        # which means Lambda receives the body base64-encoded; sample files keep text readable.
        "body": (base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8")) if body else None,
        "isBase64Encoded": bool(body) and base64_body,
    }


def response_body(response: dict) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
