"""The edge, read from the synthesized template: every answer API Gateway makes itself is in the
calling family's dialect with X-Request-Id (one REST API per family), the access log says enough,
and the web ACL (on in prod) has the managed rules and rate rules it should, and no key in samples.

Expectations here are written out independently of infra/edge.py: the status of each response
type, which are retryable, and each dialect's body shape.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path

import pytest
from aws_cdk import aws_apigateway as apigateway
from ingest import catalog
from ingest.pipeline import Pipeline
from ingest.spec import FamilySpec

from infra.config import config_for, load_cdk_json_context
from infra.edge import ACCESS_LOG_FIELDS
from tests.conftest import EVENTS
from tests.infra.infra_synth import Synthesized
from tests.infra.test_infra_stack import resources_of

pytestmark = pytest.mark.infra

# Every response type API Gateway has, from CDK's own list (not from infra.edge).
ALL_TYPES = {
    getattr(apigateway.ResponseType, name).response_type
    for name in dir(apigateway.ResponseType)
    if name.isupper() and isinstance(getattr(apigateway.ResponseType, name), apigateway.ResponseType)
}
STATUS = {
    "UNAUTHORIZED": 401, "ACCESS_DENIED": 401,
    "MISSING_AUTHENTICATION_TOKEN": 404, "RESOURCE_NOT_FOUND": 404,
    "AUTHORIZER_FAILURE": 503, "AUTHORIZER_CONFIGURATION_ERROR": 503,
    "THROTTLED": 429, "WAF_FILTERED": 429, "REQUEST_TOO_LARGE": 413, "DEFAULT_4XX": 400,
    "INTEGRATION_TIMEOUT": 504, "INTEGRATION_FAILURE": 502, "API_CONFIGURATION_ERROR": 500, "DEFAULT_5XX": 500,
}
# Types this stack cannot produce (no API Gateway keys, IAM auth, usage plans or validators; every
# media type binary): DEFAULT_4XX answers them, should one occur.
CANNOT_OCCUR = {"INVALID_API_KEY", "EXPIRED_TOKEN", "INVALID_SIGNATURE", "QUOTA_EXCEEDED", "UNSUPPORTED_MEDIA_TYPE",
                "BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS"}
# Only where there is an authorizer (not on the public documents' API).
KEYED_ONLY = {"UNAUTHORIZED", "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"}
# Answers a client should retry: they carry Retry-After (whole seconds).
RETRYABLE = {"THROTTLED", "WAF_FILTERED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR",
             "INTEGRATION_TIMEOUT", "INTEGRATION_FAILURE", "API_CONFIGURATION_ERROR", "DEFAULT_5XX"}


def test_every_response_type_is_either_answered_or_cannot_occur() -> None:
    from infra.edge import FALLBACK_TYPES

    assert set(STATUS) | CANNOT_OCCUR == ALL_TYPES and not set(STATUS) & CANNOT_OCCUR
    assert set(FALLBACK_TYPES) == CANNOT_OCCUR
REQUEST_ID = {"gatewayresponse.header.X-Request-Id": "context.requestId"}


def dialect_ok(family: str, status: int, body: dict) -> bool:
    """Each family's error body as its vendor's API shapes it (ingest/families/*/render_error)."""
    if family == "datahub":
        return set(body) == {"error"} and isinstance(body["error"], str)
    if family in ("usage", "service"):
        return set(body) == {"message"} and isinstance(body["message"], str)
    if family == "logs":
        # The reference's own wording where it differs from the HTTP reason phrase.
        phrase = {401: "Unauthorised", 413: "Payload Too Large", 500: "Internal Error"}.get(
            status, HTTPStatus(status).phrase)
        return body["message"] == phrase and set(body) <= {"message", "reason"}
    if family == "ops":
        return set(body) == {"error"} and body["error"]["code"] == status and isinstance(body["error"]["message"], str)
    raise AssertionError(f"no dialect check for family {family!r}: add one")


def family_apis(template_json: dict) -> dict[str, str]:
    """family → logical id of its REST API (named ingest-api-<env>-<family>)."""
    return {
        resource["Properties"]["Name"].rsplit("-", 1)[1]: logical_id
        for logical_id, resource in resources_of(template_json, "AWS::ApiGateway::RestApi").items()
    }


def gateway_responses(template_json: dict, api_id: str) -> dict[str, dict]:
    return {
        resource["Properties"]["ResponseType"]: resource["Properties"]
        for resource in resources_of(template_json, "AWS::ApiGateway::GatewayResponse").values()
        if resource["Properties"]["RestApiId"] == {"Ref": api_id}
    }


def test_one_rest_api_per_family(synthesized: Synthesized) -> None:
    assert set(family_apis(synthesized.template_json)) == {spec.name for spec in catalog.specs()}


@pytest.mark.parametrize("spec", catalog.specs(), ids=lambda spec: spec.name)
def test_every_gateway_answer_is_in_the_familys_dialect_with_a_request_id(
    synthesized: Synthesized, spec: FamilySpec
) -> None:
    responses = gateway_responses(synthesized.template_json, family_apis(synthesized.template_json)[spec.name])
    assert set(responses) == set(STATUS) - (KEYED_ONLY if spec.auth is None else set())
    for response_type, response in responses.items():
        status = STATUS[response_type]
        assert response["StatusCode"] == str(status), response_type
        headers = response.get("ResponseParameters", {})
        assert headers.items() >= REQUEST_ID.items(), response_type
        retry_after = headers.get("gatewayresponse.header.Retry-After")
        if response_type in RETRYABLE:
            assert retry_after and retry_after.strip("'").isdigit() and int(retry_after.strip("'")) >= 1, response_type
        else:
            assert retry_after is None, response_type
        [(media_type, template)] = response["ResponseTemplates"].items()
        assert media_type == spec.error_media_type
        if template.startswith("$context.authorizer."):  # the authorizer's own rendering of a Deny
            assert response_type == "ACCESS_DENIED" and spec.auth is not None
            continue
        assert "$" not in template  # nothing the non-VTL template would substitute
        assert dialect_ok(spec.name, status, json.loads(template)), (response_type, template)


def missing_credential_samples() -> list[tuple[str, Path]]:
    found = []
    for endpoint in catalog.ENDPOINTS:
        if endpoint.public:
            continue
        for sample in sorted((EVENTS / endpoint.name).glob("*missing_*.json")):
            event = json.loads(sample.read_text())
            headers = {name.lower() for name in (event.get("headers") or {})}
            if endpoint.auth.header_key not in headers and sample.stem.endswith(("missing_key", "missing_token")):
                found.append((endpoint.name, sample))
    return found


@pytest.mark.parametrize("route,sample", missing_credential_samples(), ids=lambda value: getattr(value, "stem", value))
def test_the_gateways_401_for_no_credential_is_the_handlers_401(dev: Synthesized, route: str, sample: Path) -> None:
    """Deployed, a request without the credential header never reaches the handler (the identity
    source is missing): the gateway's answer must be the very one the handler gives locally."""
    endpoint = catalog.get(route)
    answer = Pipeline(endpoint).handle(json.loads(sample.read_text()))  # fails before any AWS call
    assert answer["statusCode"] == 401
    unauthorized = gateway_responses(dev.template_json, family_apis(dev.template_json)[endpoint.family])["UNAUTHORIZED"]
    assert json.loads(unauthorized["ResponseTemplates"][endpoint.spec.error_media_type]) == json.loads(answer["body"])


# --- access logs --------------------------------------------------------------------------------


def test_every_stage_writes_the_rich_access_log_to_one_group(synthesized: Synthesized) -> None:
    stages = resources_of(synthesized.template_json, "AWS::ApiGateway::Stage").values()
    assert len(stages) == len(catalog.specs())
    destinations = {json.dumps(stage["Properties"]["AccessLogSetting"]["DestinationArn"]) for stage in stages}
    assert len(destinations) == 1
    for stage in stages:
        fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
        assert fields == ACCESS_LOG_FIELDS
        wanted = {
            "requestId": "$context.requestId", "responseLatency": "$context.responseLatency",
            "integrationLatency": "$context.integrationLatency", "errorType": "$context.error.responseType",
            "tenant": "$context.authorizer.tenant", "userAgent": "$context.identity.userAgent",
            "xrayTraceId": "$context.xrayTraceId", "status": "$context.status", "ip": "$context.identity.sourceIp",
        }
        assert fields.items() >= wanted.items()
        # The key itself is never logged: no header, no API key, no authorizer field that holds it.
        assert not [value for value in fields.values() if "apiKey" in value or "header" in value.lower()]


# --- WAF ----------------------------------------------------------------------------------------


def test_waf_is_on_in_prod_off_in_dev_and_configured_so() -> None:
    environments = load_cdk_json_context()["environments"]
    assert config_for("prod", environments).edge.waf is True
    assert config_for("dev", environments).edge.waf is False


def test_prod_web_acl_has_managed_rules_body_rules_counting_and_rate_rules(prod: Synthesized) -> None:
    config = prod.stack.config
    [acl] = resources_of(prod.template_json, "AWS::WAFv2::WebACL").values()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]: rule
        for rule in rules.values() if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert set(managed) == {"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet",
                            "AWSManagedRulesKnownBadInputsRuleSet"}
    counted = {
        override["Name"]
        for rule in managed.values()
        for override in rule["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", [])
        if override["ActionToUse"] == {"Count": {}}
    }
    # Ingestion bodies are large and hold arbitrary customer text: no body rule may block.
    assert {"SizeRestrictions_BODY", "CrossSiteScripting_BODY", "GenericLFI_BODY", "Log4JRCE_BODY"} <= counted
    rate = {name: rule["Statement"]["RateBasedStatement"] for name, rule in rules.items()
            if "RateBasedStatement" in rule["Statement"]}
    assert all(rules[name]["Action"] == {"Block": {}} for name in rate)
    by_ip = [statement for statement in rate.values() if statement["AggregateKeyType"] == "IP"]
    assert [statement["Limit"] for statement in by_ip] == [config.edge.ip_requests_per_window]
    per_key_headers = {
        key["Header"]["Name"]
        for statement in rate.values() if statement["AggregateKeyType"] == "CUSTOM_KEYS"
        for key in statement["CustomKeys"]
    }
    credential_headers = {endpoint.auth.header_key for endpoint in catalog.ENDPOINTS if endpoint.auth}
    assert per_key_headers == credential_headers
    for statement in rate.values():
        assert statement["EvaluationWindowSec"] == config.edge.window_seconds
        if statement["AggregateKeyType"] == "CUSTOM_KEYS":
            assert statement["Limit"] == config.edge.key_requests_per_window
            # A key's limit is below its family stage's rate: one tenant cannot take the stage.
            assert statement["Limit"] / config.edge.window_seconds < config.throttling.rate_limit
    # Sampled requests would keep request headers, and with them the API keys.
    visibility = [props["VisibilityConfig"], *(rule["VisibilityConfig"] for rule in rules.values())]
    assert all(config["SampledRequestsEnabled"] is False for config in visibility)


def test_prod_web_acl_guards_every_family_stage(prod: Synthesized) -> None:
    stages = set(resources_of(prod.template_json, "AWS::ApiGateway::Stage"))
    associations = resources_of(prod.template_json, "AWS::WAFv2::WebACLAssociation").values()
    guarded = {
        part["Ref"]
        for association in associations
        for part in association["Properties"]["ResourceArn"]["Fn::Join"][1]
        if isinstance(part, dict) and part.get("Ref") in stages
    }
    assert guarded == stages


def test_dev_has_no_web_acl_and_acknowledges_it_only_there(synthesized: Synthesized) -> None:
    waf = synthesized.stack.config.edge.waf
    assert bool(resources_of(synthesized.template_json, "AWS::WAFv2::WebACL")) is waf
    for stage in resources_of(synthesized.template_json, "AWS::ApiGateway::Stage").values():
        acknowledged = {rule["id"] for rule in stage["Metadata"].get("cdk_nag", {}).get("rules_to_suppress", [])}
        assert ("AwsSolutions-APIG3" in acknowledged) is (not waf)


@pytest.mark.parametrize("edge,message", [
    ({"waf": True, "window_seconds": 300, "key_requests_per_window": 10_000_000}, "edge.key_requests_per_window"),
    ({"waf": True, "window_seconds": 30}, "window_seconds"),
    ({"wafs": True}, "wafs"),
])
def test_a_bad_edge_block_fails_with_the_key_named(edge: dict, message: str) -> None:
    environments = json.loads(json.dumps(load_cdk_json_context()["environments"]))
    environments["prod"]["edge"] = edge
    with pytest.raises(ValueError, match=message):
        config_for("prod", environments)


# --- the local server answers as the deployed gateway -------------------------------------------


@pytest.mark.parametrize("spec", catalog.specs(), ids=lambda spec: spec.name)
def test_the_local_server_answers_no_route_and_too_large_as_the_gateway_does(
    dev: Synthesized, spec: FamilySpec
) -> None:
    from ingest.errors import NotFound, PayloadTooLarge
    from local import handlers, server

    responses = gateway_responses(dev.template_json, family_apis(dev.template_json)[spec.name])
    pipeline = handlers.pipeline(spec.routes[0].name)
    for response_type, error in (("MISSING_AUTHENTICATION_TOKEN", NotFound(server.NO_ROUTE_MESSAGE)),
                                 ("REQUEST_TOO_LARGE", PayloadTooLarge(server.TOO_LARGE_MESSAGE))):
        local = pipeline.error_answer(error, "request-id")
        deployed = responses[response_type]
        assert str(local["statusCode"]) == deployed["StatusCode"], response_type
        assert json.loads(local["body"]) == json.loads(deployed["ResponseTemplates"][spec.error_media_type])
