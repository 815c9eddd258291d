"""The deployed edge: the Lambda REQUEST authorizer (functions/authorizer) against moto's keys table."""

from __future__ import annotations

import importlib.util
import json
import uuid

import pytest

from cli.keys import KeyAdmin
from ingest import catalog
from ingest.authorizer import DENIED_BODY, EdgeAuthorizer
from ingest.catalog import Endpoint
from local.context import LocalContext
from tests.conftest import ROOT
from tests.integration.keys_support import credential, endpoints_with_samples, keyed_sample, with_headers
from tests.integration.test_keys_handler import bad_credentials

ARN_BASE = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev"


def authorizer_event(endpoint: Endpoint, headers: dict[str, str | list[str]]) -> dict:
    """What API Gateway sends a REQUEST authorizer for a call to `endpoint` (REST API, v1)."""
    params = {part[1:-1].rstrip("+"): "x1" for part in endpoint.path.split("/") if part.startswith("{")}
    path = "/".join("x1" if part.startswith("{") else part for part in endpoint.path.split("/"))
    multi = {name: value if isinstance(value, list) else [value] for name, value in headers.items()}
    return {
        "type": "REQUEST",
        "methodArn": f"{ARN_BASE}/{endpoint.method}{path}",
        "resource": endpoint.path,
        "path": path,
        "httpMethod": endpoint.method,
        "headers": {name: values[-1] for name, values in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": params,
        "stageVariables": {},
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "resourcePath": endpoint.path,
            "httpMethod": endpoint.method,
            "stage": "dev",
            "apiId": "abc123",
            "accountId": "123456789012",
        },
    }


@pytest.fixture(scope="module")
def edge(settings):
    return EdgeAuthorizer(settings)


@pytest.fixture
def admin(store):
    return KeyAdmin(store)


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def effect(answer: dict) -> str:
    [statement] = answer["policyDocument"]["Statement"]
    return statement["Effect"]


KEYED = [endpoint for endpoint in catalog.ENDPOINTS if not endpoint.public]


@pytest.mark.parametrize("endpoint", KEYED, ids=lambda e: e.name)
def test_a_valid_key_is_allowed_on_every_route_of_the_stage(edge, admin, endpoint):
    owner = tenant()
    key, record = admin.create(owner, ["*"])
    answer = edge.authorize(authorizer_event(endpoint, credential(endpoint, key)))
    assert answer["principalId"] == owner
    assert answer["policyDocument"]["Statement"] == [
        # The whole stage: the cached answer is reused on the family's other routes.
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{ARN_BASE}/*/*"]}
    ]
    assert answer["context"] == {"tenant": owner, "keyPrefix": record["prefix"]}
    assert key not in json.dumps(answer)


BAD = [
    (endpoint, case)
    for endpoint in endpoints_with_samples()
    # With no credential header at all API Gateway answers 401 itself and never calls the authorizer.
    for case in bad_credentials(endpoint, "ABCDEFGH." + "A" * 48)
    if case != "no header"
]


@pytest.mark.parametrize(("endpoint", "case"), BAD, ids=lambda v: v.name if isinstance(v, Endpoint) else v)
def test_a_bad_credential_is_denied_with_the_body_the_handler_would_answer(edge, admin, invoke, endpoint, case):
    key, _ = admin.create(tenant(), ["*"])
    headers = bad_credentials(endpoint, key)[case]
    answer = edge.authorize(authorizer_event(endpoint, headers))
    assert effect(answer) == "Deny"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == [f"{ARN_BASE}/*/*"]
    status, _, handler_body = invoke(endpoint.name, with_headers(keyed_sample(endpoint, key), headers))
    assert status == 401
    # The gateway response renders this context value as the 401 body: the family's own dialect.
    assert json.loads(answer["context"][DENIED_BODY]) == handler_body
    assert key not in json.dumps(answer) and key.split(".")[1] not in json.dumps(answer)


def test_a_revoked_key_is_denied_on_its_next_call(edge, admin):
    endpoint = catalog.get("datahub_events")
    key, record = admin.create(tenant(), ["datahub"])
    event = authorizer_event(endpoint, credential(endpoint, key))
    assert effect(edge.authorize(event)) == "Allow"
    admin.revoke(record["prefix"])
    assert effect(edge.authorize(event)) == "Deny"


def test_scopes_are_left_to_the_handler(edge, admin, invoke):
    """The edge answer is cached per key and reused across the family's routes (and datasets), so it
    can only say "this key is real"; the handler answers 403 for a route outside the key's scope."""
    endpoint = catalog.get("datahub_events")
    key, _ = admin.create(tenant(), ["ops"])
    assert effect(edge.authorize(authorizer_event(endpoint, credential(endpoint, key)))) == "Allow"
    assert invoke(endpoint.name, keyed_sample(endpoint, key))[0] == 403


def test_an_unknown_route_is_denied(edge, admin):
    endpoint = catalog.get("datahub_events")
    key, _ = admin.create(tenant(), ["*"])
    event = authorizer_event(endpoint, credential(endpoint, key))
    event["resource"] = "/not/a/route"
    assert effect(edge.authorize(event)) == "Deny"


def test_unknown_prefix_and_wrong_secret_make_the_same_aws_calls(settings, store):
    import boto3

    from ingest.store import Store

    endpoint = catalog.get("datahub_events")
    key, _ = KeyAdmin(store).create(tenant(), ["*"])
    client = boto3.client("dynamodb", endpoint_url=store.dynamodb.meta.endpoint_url)
    calls: list[str] = []
    client.meta.events.register("provide-client-params.dynamodb.*", lambda model, **_: calls.append(model.name))
    edge = EdgeAuthorizer(settings, Store(settings, dynamodb=client))
    traces = []
    for candidate in (key[:9] + ("A" if key[9] != "A" else "B") + key[10:], "ZZZZ0000" + key[8:]):
        calls.clear()
        answer = edge.authorize(authorizer_event(endpoint, credential(endpoint, candidate)))
        traces.append((answer, list(calls)))
    assert traces[0] == traces[1] and traces[0][1] == ["GetItem"]


def test_the_deployed_handler_module_answers(admin):
    """functions/authorizer/handler.py as Lambda loads it (entry point `authorize`)."""
    path = ROOT / "functions" / "authorizer" / "handler.py"
    spec = importlib.util.spec_from_file_location("functions.authorizer.handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    endpoint = catalog.get("datahub_events")
    key, _ = admin.create(tenant(), ["*"])
    answer = module.authorize(authorizer_event(endpoint, credential(endpoint, key)), LocalContext("authorizer", "a-1"))
    assert effect(answer) == "Allow"


def test_a_keyless_route_is_never_authorized_here_and_never_an_error(edge, admin):
    """API Gateway attaches no authorizer to a keyless route; should this code be asked anyway, it
    denies (the route has no scheme to check a key against) instead of failing."""
    [endpoint] = [endpoint for endpoint in catalog.ENDPOINTS if endpoint.keyless]
    key, _ = admin.create(tenant(), ["*"])
    answer = edge.authorize(authorizer_event(endpoint, {"X-API-Key": key}))
    assert effect(answer) == "Deny" and key not in json.dumps(answer)
