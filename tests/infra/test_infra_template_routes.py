"""template_routes() and add_route() on route shapes the catalog will grow into.

The catalog has one endpoint today; these cover path parameters, shared prefixes and the root, so
the route comparison keeps working as families are added.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from ingest.catalog import Endpoint, FamilySpec, Route, RouteKind, WritePolicy

from infra.api import add_route
from tests.infra.template_routes import template_routes

pytestmark = pytest.mark.infra

FUTURE_ROUTES = {
    ("POST", "/s3"),
    ("POST", "/s3/batch"),
    ("POST", "/v1/{dataset}"),
    ("POST", "/datahub/v1/events"),
    ("POST", "/api/v1/events"),
    ("GET", "/"),
}


def endpoint(method: str, path: str) -> Endpoint:
    name = path.strip("/").replace("/", "_").replace("{", "").replace("}", "") or "root"
    spec = FamilySpec("test", "Test", None, WritePolicy.KEEP_FIRST,
                      (Route(name, method, path, RouteKind.INGEST, impl=None),))
    return spec.routes[0]


def test_add_route_and_template_routes_round_trip_nested_and_parameter_paths() -> None:
    # Given a bare API and one dummy function per route
    stack = cdk.Stack(cdk.App(), "Routes")
    api = apigateway.RestApi(stack, "Api")
    handler = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )
    # When every route is added the way the stack adds catalog endpoints
    for method, path in sorted(FUTURE_ROUTES):
        add_route(api, endpoint(method, path), handler)
    template_json = Template.from_stack(stack).to_json()

    # Then the routes read back from the template are exactly those, with shared prefixes reused
    assert template_routes(template_json) == FUTURE_ROUTES
    path_parts = sorted(
        resource["Properties"]["PathPart"]
        for resource in template_json["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::Resource"
    )
    assert path_parts == sorted(["s3", "batch", "v1", "{dataset}", "datahub", "v1", "events", "api", "v1", "events"])


def test_template_routes_on_a_hand_written_template() -> None:
    root = {"Fn::GetAtt": ["Api", "RootResourceId"]}
    template_json = {
        "Resources": {
            "V1": {"Type": "AWS::ApiGateway::Resource", "Properties": {"PathPart": "v1", "ParentId": root}},
            "Dataset": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"PathPart": "{dataset}", "ParentId": {"Ref": "V1"}},
            },
            "Post": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {"HttpMethod": "POST", "ResourceId": {"Ref": "Dataset"}},
            },
            "RootGet": {"Type": "AWS::ApiGateway::Method", "Properties": {"HttpMethod": "GET", "ResourceId": root}},
            "Other": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }
    }
    assert template_routes(template_json) == {("POST", "/v1/{dataset}"), ("GET", "/")}
