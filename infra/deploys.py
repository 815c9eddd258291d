"""Safe deploys: CodeDeploy shifts each function's ``live`` alias to its new version.

API Gateway invokes the alias, never ``$LATEST`` (``infra.lambda_platform``). On a deploy that
changes a function, CloudFormation hands the alias update to CodeDeploy, which shifts traffic as
cdk.json's ``deployment.config`` says (``ALL_AT_ONCE`` in dev, a canary in prod) and rolls back
if one of the function's rollback alarms (``infra.monitoring``: its errors, its duration near the
timeout, the endpoint's ServerErrors) goes off while it shifts, or the deployment fails.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge

# The AWS-managed policy CodeDeploy needs for Lambda (invoke hooks, update aliases; no SNS).
CODEDEPLOY_LAMBDA_POLICY = "service-role/AWSCodeDeployRoleForLambdaLimited"


class SafeDeploys(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self.deployment_config = getattr(codedeploy.LambdaDeploymentConfig, config.deployment.config)
        self.application = codedeploy.LambdaApplication(
            self, "Application", application_name=f"ingest-api-{config.name}"
        )
        # One service role for every deployment group instead of one each.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
            description=f"Ingest API {config.name}: CodeDeploy shifts the functions' live aliases",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(CODEDEPLOY_LAMBDA_POLICY)],
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{CODEDEPLOY_LAMBDA_POLICY}]",
            "CodeDeploy's AWS-documented managed policy for Lambda deployments; the role is "
            "assumable only by codedeploy.amazonaws.com and used by this stack's deployment groups.",
        )
        self.groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}

    def add(self, construct_id: str, alias: lambda_.Alias, alarms: Sequence[cloudwatch.IAlarm]) -> None:
        self.groups[construct_id] = codedeploy.LambdaDeploymentGroup(
            self,
            construct_id,
            application=self.application,
            alias=alias,
            deployment_config=self.deployment_config,
            role=self.role,
            alarms=list(alarms),
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
