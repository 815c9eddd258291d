"""The one catalog of routes, built from the family packages named in `ingest.registry`.

Every route of the service is declared exactly once, in its family's `SPEC` (`ingest.spec`). The
CDK stack (`infra/`), the local server (`local/`) and the OpenAPI document (`ingest.openapi`) are all
derived from `ENDPOINTS`; tests check that the synthesized template, the local server's routes, the
handler folders under `functions/` and the catalog agree.

Packages are imported lazily: `route(family, name)` (what a handler calls) imports that family
alone; `ENDPOINTS`, `get(name)` and `specs()` import every registered family (the CDK app, the local
server, the OpenAPI document and the CLI need them all). The service's own documents
(`ingest.documents`) are core routes, not a family package.
"""

from __future__ import annotations

import importlib
from functools import cache

from ingest import registry
from ingest.spec import AuthScheme, Endpoint, FamilySpec, Limits, Route, RouteKind, WritePolicy

__all__ = ["AuthScheme", "Endpoint", "FamilySpec", "Limits", "Route", "RouteKind", "WritePolicy", "ENDPOINTS", "get",
           "route", "spec", "specs", "family_names", "routes", "refused_routes", "reset"]

# Core routes that belong to no family package: the service's own public documents.
CORE_SPECS = {"service": "ingest.documents"}


def family_names() -> tuple[str, ...]:
    """The registered families (what a key's scope may name); imports none of them."""
    return tuple(registry.FAMILIES)


@cache
def spec(family: str) -> FamilySpec:
    """A family's declaration, importing its package (and only it) on first use."""
    module = registry.FAMILIES.get(family) or CORE_SPECS.get(family)
    if module is None:
        raise KeyError(f"no family {family!r} in ingest.registry")
    declared = importlib.import_module(module).SPEC
    if not isinstance(declared, FamilySpec) or declared.name != family:
        raise TypeError(f"{module}.SPEC must be the FamilySpec named {family!r}")
    return declared


def route(family: str, name: str) -> Route:
    """One route of one family: what each handler calls, so a Lambda imports only its own family."""
    return spec(family).route(name)


def specs() -> tuple[FamilySpec, ...]:
    """Every family's spec, registry order, then the core routes."""
    return tuple(spec(name) for name in (*registry.FAMILIES, *CORE_SPECS))


@cache
def _endpoints() -> tuple[Route, ...]:
    endpoints = tuple(declared for family in specs() for declared in family.routes)
    seen: dict[str, str] = {}
    methods: dict[tuple[str, str], str] = {}
    for endpoint in endpoints:
        if endpoint.name in seen:
            raise ValueError(f"route name {endpoint.name!r} is declared by {seen[endpoint.name]} and {endpoint.family}")
        seen[endpoint.name] = endpoint.family
        key = (endpoint.method, endpoint.path)
        if key in methods:
            raise ValueError(f"{endpoint.method} {endpoint.path} is declared twice ({methods[key]}, {endpoint.name})")
        methods[key] = endpoint.name
    return endpoints


def get(name: str) -> Route:
    for endpoint in _endpoints():
        if endpoint.name == name:
            return endpoint
    raise KeyError(name)


def routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every route: what the API and the local server must expose."""
    return {(endpoint.method, endpoint.path) for endpoint in _endpoints()}


def refused_routes() -> set[tuple[str, str]]:
    """(METHOD, path) answered 405 by the path's endpoint function (Route.refused_methods)."""
    return {(method, endpoint.path) for endpoint in _endpoints() for method in endpoint.refused_methods}


def reset() -> None:
    """Forget the specs and routes read so far: the next use reads `ingest.registry` again.

    For a process whose registry changes (a test that registers a throwaway family); a Lambda never
    needs it. Modules that derive from the catalog read it when used (`infra.api`, `local.apigw`),
    so they see the new routes; a family package already imported stays imported."""
    spec.cache_clear()
    _endpoints.cache_clear()


def __getattr__(name: str):
    # `ENDPOINTS` is computed on first use (it imports every family), not when the module loads.
    if name == "ENDPOINTS":
        return _endpoints()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
