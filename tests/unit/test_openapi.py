"""The OpenAPI document: valid 3.1, every route with every answer it really gives, from the handlers' models."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from ingest import catalog
from ingest.openapi import build_document

DOCUMENT = build_document(server_url=".")


def operation(endpoint) -> dict:
    return DOCUMENT["paths"][endpoint.path][endpoint.method.lower()]


def test_the_document_validates_as_openapi_3_1():
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)


def test_the_validator_would_notice_a_broken_document():
    broken = {**DOCUMENT, "paths": {"/x": {"get": {"responses": {"200": {"content": "nope"}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_the_original_apis_operation_ids_are_kept():
    ids = {op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()}
    assert {"datahubEvents", "postEvent", "receiveS3Event", "deleteDatahubEventsByFilter", "getEventById"} <= ids
    assert len(ids) == sum(len(item) for item in DOCUMENT["paths"].values())  # unique


@pytest.mark.parametrize("endpoint", catalog.ENDPOINTS, ids=lambda e: e.name)
def test_every_route_documents_what_the_pipeline_can_answer(endpoint):
    responses = operation(endpoint)["responses"]
    assert str(endpoint.success_status) in responses and "500" in responses
    if endpoint.public:
        assert operation(endpoint)["security"] == [] and "401" not in responses
        return
    assert {"401", "403", "429"} <= set(responses)
    # Every answer after the key is checked carries the rate-limit headers; 401/405/413 come before it.
    for status, response in responses.items():
        has_headers = "RateLimit-Remaining" in response.get("headers", {})
        assert has_headers == (status not in ("401", "405", "413")), (endpoint.name, status)
    if operation(endpoint).get("requestBody"):
        assert "413" in responses and "400" in responses


def test_refused_methods_are_405_operations_with_allow():
    for endpoint in catalog.ENDPOINTS:
        for method in endpoint.refused_methods:
            refused = DOCUMENT["paths"][endpoint.path][method.lower()]
            assert set(refused["responses"]) == {"405"} and "Allow" in refused["responses"]["405"]["headers"]


def test_path_parameters_are_documented_and_never_empty():
    for path, item in DOCUMENT["paths"].items():
        names = {segment[1:-1] for segment in path.split("/") if segment.startswith("{")}
        for op in item.values():
            documented = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
            assert set(documented) == names, path
            for parameter in documented.values():
                schema = parameter["schema"]
                assert schema.get("minLength", 0) >= 1 or "pattern" in schema, (path, parameter)


def test_bodies_are_the_handlers_own_models():
    from ingest.families.datahub.family import DataHubEvent
    from ingest.families.datahub.manage import DeleteEventsRequest

    schemas = DOCUMENT["components"]["schemas"]
    assert set(DataHubEvent.model_fields) <= set(schemas["DataHubEvent"]["properties"])
    delete = operation(catalog.get("delete_datahub_events"))["requestBody"]["content"]["application/json"]["schema"]
    assert delete["oneOf"] and set(DeleteEventsRequest.model_fields) == set(delete["properties"])
    assert delete["additionalProperties"] is False


def test_security_schemes_are_the_families_headers():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`."}
    assert schemes["x-api-key"]["name"] == "X-API-Key" and schemes["api-token"]["name"] == "Authorization"
    assert "none" not in schemes
    assert DOCUMENT["servers"] == [{"url": "."}]  # wherever the document is served from
