"""The synthesized API, the local server and the catalog expose exactly the same routes."""

from __future__ import annotations

import pytest

from ingest.catalog import refused_routes, routes
from local import apigw
from tests.infra.template_routes import template_routes

pytestmark = pytest.mark.infra
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def concrete(path: str) -> str:
    return "/".join("sample-1" if part.startswith("{") else part for part in path.split("/"))


def local_routes(paths: set[str]) -> set[tuple[str, str]]:
    """What the local server's router actually answers (a handler, not API Gateway's 403) per path."""
    served = set()
    for path in paths:
        for method in METHODS:
            matched = apigw.match(method, concrete(path))
            if matched is not None:
                assert matched[0].path == path, (method, path, matched[0].path)
                served.add((method, path))
    return served


def test_template_local_server_and_catalog_agree(dev):
    catalog_routes = routes() | refused_routes()
    deployed = template_routes(dev.template_json)
    paths = {path for _, path in catalog_routes | deployed}
    assert deployed == catalog_routes
    assert local_routes(paths) == catalog_routes
