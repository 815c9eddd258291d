"""An optional custom domain (cdk.json ``domain``): clients keep one base URL across redeploys.

``ApiUrl`` (``https://<id>.execute-api.<region>.amazonaws.com/<stage>/``) changes whenever the API
is recreated (a new stack, a new account, a rebuilt environment). A custom domain does not: a
REGIONAL API Gateway domain name with the ACM certificate from config (issued in the stack's
region), mapped to the stage at ``base_path`` (none: the catalog's paths sit at the domain's root,
``https://<name>/datahub/v1/events``). The DNS record stays with the domain's owner: point a CNAME
(or a Route 53 alias) for the name at the ``CustomDomainTarget`` output.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from constructs import Construct

from infra.config import DomainConfig


class CustomDomain(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DomainConfig, rest_api: apigateway.RestApi
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
        self.mapping = apigateway.BasePathMapping(
            self,
            "Mapping",
            domain_name=self.domain_name,
            rest_api=rest_api,
            stage=rest_api.deployment_stage,
            base_path=settings.base_path,
        )

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def target(self) -> str:
        """The host name the domain's DNS record points at."""
        return self.domain_name.domain_name_alias_domain_name
