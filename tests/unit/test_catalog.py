"""The catalog is the single source of routes: handlers, OpenAPI and the local server derive from it."""

import pytest

from ingest import catalog
from ingest.openapi import build_document
from local import apigw
from tests.conftest import ROOT, EVENTS


@pytest.mark.parametrize("endpoint", catalog.ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_has_a_handler_folder_a_family_and_sample_events(endpoint):
    handler = ROOT / endpoint.handler_dir / "handler.py"
    assert handler.is_file(), f"{endpoint.name}: missing {handler}"
    assert "lambda_handler" in handler.read_text()
    assert endpoint.impl is not None and endpoint.spec is catalog.spec(endpoint.family)
    assert any((EVENTS / endpoint.name).glob("*.json")), f"{endpoint.name}: no sample events in events/{endpoint.name}/"


def test_names_and_routes_are_unique():
    names = [endpoint.name for endpoint in catalog.ENDPOINTS]
    assert len(names) == len(set(names))
    assert len(catalog.routes()) == len(catalog.ENDPOINTS)


def test_local_server_routes_equal_the_catalog():
    served = {(route.endpoint.method, route.endpoint.path) for route in apigw.ROUTES}
    assert served == catalog.routes()
    for method, path in catalog.routes():
        concrete = "/".join("x1" if part.startswith("{") else part for part in path.split("/"))
        matched = apigw.match(method, concrete)
        assert matched and (matched[0].method, matched[0].path) == (method, path)


def test_openapi_document_covers_every_route_with_its_real_answers():
    document = build_document()
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    # Refused methods (answered 405) are operations too: every route, every status it really returns.
    assert documented == catalog.routes() | catalog.refused_routes()
    for endpoint in catalog.ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        statuses = set(operation["responses"])
        assert str(endpoint.success_status) in statuses, f"{endpoint.name}: family must implement openapi_responses"
        if endpoint.public:  # public documents: no key, so no 401
            assert operation["security"] == [] and "401" not in statuses
        else:
            assert "401" in statuses and operation["security"] == [{endpoint.auth.name: []}]
        if endpoint.operation_id:
            assert operation["operationId"] == endpoint.operation_id
