"""Contract: schemathesis against the running service, using the service's own /openapi.json.

Every documented operation gets generated requests, each with the family's own credential: valid
ones, and ones that break the document's rules for its inputs. Every answer must be no 5xx and must
match the document: a documented status code, its content type, its required headers and its body
schema. Bounded: MAX_EXAMPLES per operation and mode, derandomized (the same cases every run).
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ingest.openapi import build_document

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="session")
def api_schema(contract_server):
    """The document as the running service serves it (not the one built in this process)."""
    base, _ = contract_server
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


# One test per operation, named by its route; the operations themselves come from the served document.
DOCUMENT = build_document()
ROUTES = sorted((path, method) for path, item in DOCUMENT["paths"].items() for method in item)


def credentials(operation: dict, key: str) -> dict[str, str]:
    """The family's own header (the document names its scheme per operation); none for public routes."""
    headers = {}
    for requirement in operation.get("security", []):
        for scheme in requirement:
            headers.update({"bearer": {"Authorization": f"Bearer {key}"},
                            "api-token": {"Authorization": f"Api-Token {key}"},
                            "x-api-key": {"X-API-Key": key}}[scheme])
    return headers


def test_the_served_document_is_valid_openapi_3_1_and_covers_every_route(contract_server, api_schema):
    base, _ = contract_server
    response = requests.get(f"{base}/openapi.json", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    validate(response.json())
    served = sorted((path, method) for path, item in response.json()["paths"].items() for method in item)
    assert served == ROUTES
    page = requests.get(f"{base}/docs", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'const DOC_URL = "openapi.json"' in page.text and "<script src" not in page.text  # nothing from a CDN


def reachable(case) -> bool:
    """A path segment `.` or `..` is resolved away by the client, and a literal sibling resource wins
    over a variable (GET /datahub/v1/events/delete is not GET /datahub/v1/events/{id}, POST
    /v1/<dataset>/events is not a namespace): such
    requests never reach the operation, so they say nothing about it."""
    values = (case.path_parameters or {}).values()
    return not any(value in (".", "..") for value in values) and not (
        case.path == "/datahub/v1/events/{id}" and case.path_parameters.get("id") == "delete"
    ) and not (  # /v1/<dataset>/events is the read route's parent resource, not a namespace
        case.path == "/v1/{dataset}/{namespace}" and case.path_parameters.get("namespace") == "events"
    )


def takes_inputs(operation: dict) -> bool:
    """Negative cases break the document's rules for an operation's inputs: only operations that
    read a body or parameters have any (a 405-only operation answers before it reads anything)."""
    if set(operation["responses"]) == {"405"}:
        return False
    return bool(operation.get("parameters") or operation.get("requestBody"))


CASES = [
    (path, method, mode)
    for path, method in ROUTES
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or takes_inputs(DOCUMENT["paths"][path][method])
]


@pytest.mark.parametrize(("path", "method", "mode"), CASES, ids=[f"{m.upper()} {p} {g.value}" for p, m, g in CASES])
def test_every_answer_matches_the_document(api_schema, contract_server, contract_key, path, method, mode):
    """Valid requests, then requests that break the document's rules: never a 5xx, and every answer
    (success or the family's own error) has a documented status, content type, headers and body."""
    base, _ = contract_server
    operation = api_schema[path][method]
    headers = credentials(operation.definition.raw, contract_key)

    @given(case=operation.as_strategy(generation_mode=mode).filter(reachable))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def conforms(case):
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)

    conforms()
