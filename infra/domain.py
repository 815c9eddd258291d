"""An optional custom domain (cdk.json ``domain``): clients keep one base URL across redeploys.

Each family has its own REST API (infra.edge: gateway responses are per API), so one domain fronts
several APIs. API Gateway routing rules (``AWS::ApiGatewayV2::RoutingRule`` on a REST domain name
in ``ROUTING_RULE_ONLY`` mode) send each request to the API of its family by the first segment of
its path, without stripping it, so every catalog path sits at the domain's root exactly as the
vendor's API has it (``https://<name>/datahub/v1/events``, ``https://<name>/api/v1/events``). The
segments come from the catalog; two families claiming the same first segment fail synth. The DNS
record stays with the domain's owner: point a CNAME (or a Route 53 alias) for the name at the
``CustomDomainTarget`` output.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_certificatemanager as acm
from constructs import Construct
from ingest import catalog

from infra.config import DomainConfig

# A routing rule's base-path condition takes at most 5 paths (API Gateway quota).
MAX_BASE_PATHS_PER_RULE = 5


def first_segments() -> dict[str, list[str]]:
    """Family → the first path segments of its routes, sorted; each segment belongs to one family."""
    owner: dict[str, str] = {}
    for endpoint in catalog.ENDPOINTS:
        segment = endpoint.path.strip("/").split("/")[0]
        if segment.startswith("{"):
            raise ValueError(f"route {endpoint.name!r}: a path starting with a parameter cannot be routed by domain")
        if owner.setdefault(segment, endpoint.family) != endpoint.family:
            raise ValueError(
                f"families {owner[segment]!r} and {endpoint.family!r} both start paths with /{segment}: "
                "the custom domain could not tell their APIs apart"
            )
    by_family: dict[str, list[str]] = {}
    for segment, family in owner.items():
        by_family.setdefault(family, []).append(segment)
    return {family: sorted(segments) for family, segments in by_family.items()}


class CustomDomain(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DomainConfig,
        apis: Mapping[str, apigateway.RestApi],
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.domain_name = apigateway.DomainName(
            self,
            "DomainName",
            domain_name=settings.name,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", settings.certificate_arn),
            endpoint_type=apigateway.EndpointType.REGIONAL,
            security_policy=apigateway.SecurityPolicy.TLS_1_2,
        )
        cfn_domain = self.domain_name.node.default_child
        cfn_domain.add_property_override("RoutingMode", "ROUTING_RULE_ONLY")
        self.rules: list[apigatewayv2.CfnRoutingRule] = []
        priority = 1
        for family, segments in first_segments().items():
            rest_api = apis[family]
            for start in range(0, len(segments), MAX_BASE_PATHS_PER_RULE):
                chunk = segments[start : start + MAX_BASE_PATHS_PER_RULE]
                rule = apigatewayv2.CfnRoutingRule(
                    self,
                    f"Route{family.capitalize()}{start // MAX_BASE_PATHS_PER_RULE}",
                    domain_name_arn=cfn_domain.attr_domain_name_arn,
                    priority=priority,
                    conditions=[
                        apigatewayv2.CfnRoutingRule.ConditionProperty(
                            match_base_paths=apigatewayv2.CfnRoutingRule.MatchBasePathsProperty(any_of=chunk)
                        )
                    ],
                    actions=[
                        apigatewayv2.CfnRoutingRule.ActionProperty(
                            invoke_api=apigatewayv2.CfnRoutingRule.ActionInvokeApiProperty(
                                api_id=rest_api.rest_api_id,
                                stage=rest_api.deployment_stage.stage_name,
                                strip_base_path=False,
                            )
                        )
                    ],
                )
                self.rules.append(rule)
                priority += 1

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def target(self) -> str:
        """The host name the domain's DNS record points at."""
        return self.domain_name.domain_name_alias_domain_name
