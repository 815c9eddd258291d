"""The synthesized stack puts a key authorizer in front of every route (template assertions).

Methods the catalog only refuses (405, Endpoint.refused_methods) carry no authorizer: the handler
answers them before reading any key.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import ROOT

# jsii runs `node`: the pinned Node 22 first on PATH (as tests/infra does), before aws_cdk loads.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"

from infra.authorizer import AUTHORIZER_HANDLER  # noqa: E402
from infra.config import config_for, load_cdk_json_context  # noqa: E402
from ingest.authorizer import DENIED_BODY  # noqa: E402
from ingest.catalog import ENDPOINTS, refused_routes  # noqa: E402
from tests.infra.infra_synth import synthesize  # noqa: E402
from tests.infra.template_routes import template_routes  # noqa: E402

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    return synthesize("dev", tmp_path_factory.mktemp("cdk-authorizer")).template_json


def of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def test_one_request_authorizer_per_family_on_the_family_header_with_the_configured_ttl(template):
    ttl = config_for("dev", load_cdk_json_context()["environments"]).authorizer_cache_seconds
    authorizers = of_type(template, "AWS::ApiGateway::Authorizer")
    families = {endpoint.family: endpoint for endpoint in ENDPOINTS if not endpoint.public}
    assert len(authorizers) == len(families)
    for authorizer in authorizers.values():
        props = authorizer["Properties"]
        family = props["Name"].rsplit("-", 1)[1]
        assert props["Type"] == "REQUEST"
        assert props["IdentitySource"] == families[family].auth.identity_source
        assert props["AuthorizerResultTtlInSeconds"] == ttl


def test_every_route_is_behind_its_familys_authorizer(template):
    authorizers = of_type(template, "AWS::ApiGateway::Authorizer")
    name_of = {logical_id: resource["Properties"]["Name"] for logical_id, resource in authorizers.items()}
    methods = of_type(template, "AWS::ApiGateway::Method")
    assert methods
    routes = {(e.method, e.path): e for e in ENDPOINTS}
    paths = {  # logical id of each method -> its route, via the same path rebuilding as tests/infra
        logical_id: route
        for logical_id in methods
        for route in template_routes(
            {"Resources": {**of_type(template, "AWS::ApiGateway::Resource"), logical_id: methods[logical_id]}}
        )
    }
    refused = refused_routes()
    for logical_id, method in methods.items():
        props = method["Properties"]
        if paths[logical_id] in refused or routes[paths[logical_id]].public:
            assert props["AuthorizationType"] == "NONE", logical_id  # 405 only, or a public document
            continue
        endpoint = routes[paths[logical_id]]
        assert props["AuthorizationType"] == "CUSTOM", logical_id
        assert name_of[props["AuthorizerId"]["Ref"]].endswith(f"-{endpoint.family}")


def test_a_denied_key_answers_401_with_the_body_the_authorizer_rendered(template):
    keyed_apis = {  # the REST API of each family that has keys (one API per family)
        resource["Properties"]["RestApiId"]["Ref"]
        for resource in of_type(template, "AWS::ApiGateway::Authorizer").values()
    }
    denials = {
        r["Properties"]["RestApiId"]["Ref"]: r["Properties"]
        for r in of_type(template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "ACCESS_DENIED"
    }
    assert keyed_apis and keyed_apis <= set(denials)
    for api in keyed_apis:
        assert denials[api]["StatusCode"] == "401"
        assert denials[api]["ResponseTemplates"] == {"application/json": f"$context.authorizer.{DENIED_BODY}"}
        assert denials[api]["ResponseParameters"] == {"gatewayresponse.header.X-Request-Id": "context.requestId"}


def test_the_authorizer_function_reads_key_records_and_nothing_else(template, tmp_path_factory):
    functions = {
        k: v
        for k, v in of_type(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == AUTHORIZER_HANDLER
    }
    [(function_id, function)] = functions.items()
    assert function["Properties"]["Runtime"] == "python3.13"
    assert function["Properties"]["Environment"]["Variables"]["INGEST_KEYS_TABLE"] == {"Ref": keys_table_id(template)}
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = [
        p for p in of_type(template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    data_access = [s for s in statements if not str(s["Action"]).startswith(("['xray:", "['logs:"))]
    assert data_access == [
        {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [keys_table_id(template), "Arn"]}}
    ]
    # API Gateway may invoke its `live` alias (never $LATEST), once per family authorizer.
    [alias_id] = [
        k
        for k, v in of_type(template, "AWS::Lambda::Alias").items()
        if v["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    permissions = [
        p["Properties"]
        for p in of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": alias_id}
    ]
    assert not [
        p for p in of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert len(permissions) == len({endpoint.family for endpoint in ENDPOINTS if not endpoint.public})
    assert {p["Principal"] for p in permissions} == {"apigateway.amazonaws.com"}


def keys_table_id(template: dict) -> str:
    [table_id] = [
        k
        for k, v in of_type(template, "AWS::DynamoDB::Table").items()
        if v["Metadata"]["aws:cdk:path"].endswith("/Storage/KeysTable/Resource")
    ]
    return table_id


@pytest.mark.parametrize("seconds", [-1, 3601])
def test_cache_ttl_is_validated(seconds):
    environments = load_cdk_json_context()["environments"]
    with pytest.raises(ValueError):
        config_for("dev", {"dev": {**environments["dev"], "authorizer_cache_seconds": seconds}})


def test_a_keyless_route_has_no_authorizer_and_its_own_stage_throttle(template):
    """The usage SDK's invalid-key report is sent without a key: nothing can authorize it, so the stage
    throttles that one method below the stage's own limits (and the handler counts it too)."""
    keyless = [endpoint for endpoint in ENDPOINTS if endpoint.keyless]
    assert keyless
    stages = of_type(template, "AWS::ApiGateway::Stage").values()
    methods = of_type(template, "AWS::ApiGateway::Method")
    resources = of_type(template, "AWS::ApiGateway::Resource")
    routes = {logical_id: next(iter(template_routes({"Resources": {**resources, logical_id: method}})))
              for logical_id, method in methods.items()}
    for endpoint in keyless:
        rate, burst = endpoint.edge_throttle
        escaped = "/" + endpoint.path.replace("/", "~1")  # CloudFormation's form: /~1telemetry~1invalidApiKey
        # One REST API per family (infra.edge): the setting is on the family's stage, and only there.
        [stage] = [s for s in stages if any(m.get("ResourcePath") == escaped for m in s["Properties"]["MethodSettings"])]
        settings = stage["Properties"]["MethodSettings"]
        [setting] = [s for s in settings if s["ResourcePath"] == escaped and s["HttpMethod"] == endpoint.method]
        assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (rate, burst)
        # The method's own setting replaces the stage's for it: logging and metrics stay on, bodies out of logs.
        assert setting["MetricsEnabled"] is True and setting["DataTraceEnabled"] is False
        assert setting["LoggingLevel"] == stage["Properties"]["MethodSettings"][0]["LoggingLevel"]
        [method] = [m for logical_id, m in methods.items() if routes.get(logical_id) == (endpoint.method, endpoint.path)]
        assert method["Properties"]["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method["Properties"]
