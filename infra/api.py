"""The REST APIs, one per family: one resource path, method and function per catalog endpoint, in a loop.

Adding a route to its family's spec, or a family to ``ingest.registry`` (plus the ``functions/<name>/``
folders ``make handlers`` writes), is all it takes to deploy it; nothing here names an endpoint. The
catalog (``ingest.catalog.ENDPOINTS``) is read when the API is built.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from ingest import catalog
from ingest.spec import Endpoint, FamilySpec

from infra import edge
from infra.authorizer import KeyAuthorizers
from infra.config import EnvConfig
from infra.endpoint_function import EndpointFunction, construct_id_for
from infra.layers import Layers
from infra.nag import acknowledge
from infra.storage import Storage
from infra.waf import EdgeFirewall

# Must match ingest.observability (service name and metrics namespace used by Powertools).
POWERTOOLS_SERVICE_NAME = "ingest-api"
POWERTOOLS_METRICS_NAMESPACE = "IngestApi"
# Below the 25 s function timeout, which is below API Gateway's 29 s: the pipeline stops retrying
# AWS calls in time to answer a retryable 5xx instead of being cut off without a response.
AWS_BUDGET_SECONDS = 20


class IngestApi(Construct):
    """One REST API per family (``infra.edge`` says why), each with its own stage, throttle,
    execution logs and gateway responses in the family's dialect; one access log group for all."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        storage: Storage,
        layers: Layers,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays[config.log_retention],
            removal_policy=config.cdk_removal_policy,
        )
        # Family name → its REST API (registry order, then the service's own documents).
        self.apis: dict[str, apigateway.RestApi] = {}
        self.execution_logs: dict[str, logs.LogGroup] = {}
        for spec in catalog.specs():
            self.apis[spec.name] = self._rest_api(config, spec)
            self.execution_logs[spec.name] = self._execution_log_group(config, spec.name)
            edge.add_gateway_responses(self.apis[spec.name], spec)
        self._share_cloud_watch_role()
        environment = function_environment(config, storage)
        # A Lambda REQUEST authorizer in front of every route: only real, active keys get through.
        self.authorizers = KeyAuthorizers(
            self, "KeyAuthorizers", config=config, storage=storage, layers=layers.all, environment=environment
        )
        self.functions: dict[str, EndpointFunction] = {}
        for endpoint in catalog.ENDPOINTS:
            function = EndpointFunction(
                self,
                construct_id_for(endpoint),
                endpoint=endpoint,
                config=config,
                storage=storage,
                layers=layers.all,
                environment=environment,
            )
            api = self.apis[endpoint.family]
            # Routes invoke the function's `live` alias, which CodeDeploy shifts (infra.deploys).
            method = add_route(api, endpoint, function.alias, self.authorizers.for_endpoint(endpoint))
            _acknowledge_method_auth(method, public=endpoint.public, keyless=endpoint.keyless)
            for refused in add_refused_routes(api, endpoint, function.alias):
                _acknowledge_refused_method(refused)
            self.functions[endpoint.name] = function
        self.firewall = EdgeFirewall(self, "Firewall", config=config) if config.edge.waf else None
        if self.firewall:
            self.firewall.protect(self.apis.values())
        self._acknowledge_findings(waf=self.firewall is not None)

    def _rest_api(self, config: EnvConfig, spec: FamilySpec) -> apigateway.RestApi:
        first = not self.apis
        return apigateway.RestApi(
            self,
            f"{spec.name.capitalize()}RestApi",
            rest_api_name=f"ingest-api-{config.name}-{spec.name}",
            description=f"Ingest API: {spec.title}, wire-compatible event ingestion endpoints.",
            # Clients are servers, not browsers spread over the globe; no CloudFront hop needed.
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Treat every body as binary so gzip (Content-Encoding) bodies reach the handler
            # byte-exact (base64 in the proxy event); the handler decodes. No response compression
            # (minimum_compression_size) for the same reason: bodies are left untouched.
            binary_media_types=["*/*"],
            # The account-level role API Gateway needs to write execution and access logs: one per
            # account, so made by the first API only (_share_cloud_watch_role).
            cloud_watch_role=first,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage_name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel[config.api_logging_level],
                # Request bodies carry customer events; never copy them into execution logs.
                data_trace_enabled=False,
                # Per family: one family's flood cannot use up another's (the WAF bounds each key).
                throttling_rate_limit=config.throttling.rate_limit,
                throttling_burst_limit=config.throttling.burst_limit,
                # Routes that declare a tighter throttle of their own (a keyless route: anyone may call it).
                method_options=method_throttles(config, spec),
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=edge.access_log_format(),
            ),
        )

    def _share_cloud_watch_role(self) -> None:
        """Every stage logs through the account setting the first API made: deploy it first."""
        first, *others = self.apis.values()
        account = first.node.find_child("Account")
        for api in others:
            api.deployment_stage.node.add_dependency(account)

    def _execution_log_group(self, config: EnvConfig, family: str) -> logs.LogGroup:
        """Own each stage's execution log group, which API Gateway would create without retention."""
        rest_api = self.apis[family]
        log_group = logs.LogGroup(
            self,
            f"{family.capitalize()}ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{rest_api.rest_api_id}/{config.stage_name}",
            retention=logs.RetentionDays[config.log_retention],
            removal_policy=config.cdk_removal_policy,
        )
        # Exist before the stage can log, or API Gateway creates the group first and this fails.
        rest_api.deployment_stage.node.add_dependency(log_group)
        return log_group

    def _acknowledge_findings(self, *, waf: bool) -> None:
        # Each acknowledgment sits on the narrowest construct that has the finding.
        for rest_api in self.apis.values():
            acknowledge(
                rest_api.node.default_child,
                "AwsSolutions-APIG2",
                "Bodies may be gzip and are validated per event by the handler's pydantic models, "
                "which must report each rejected event (and keep it in S3) rather than fail the "
                "whole request at the gateway.",
            )
            if not waf:  # edge.waf in cdk.json (on in prod): infra.waf
                acknowledge(
                    rest_api.deployment_stage,
                    "AwsSolutions-APIG3",
                    "edge.waf is off in this environment (cdk.json): abuse is bounded by the per-family "
                    "stage throttling and by per-key rate, body and event limits in the handler. "
                    "Production turns the web ACL on (infra/waf.py).",
                )
        acknowledge(
            next(iter(self.apis.values())).node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role uses the AWS-documented managed policy; "
            "it is assumable only by apigateway.amazonaws.com.",
        )


def add_route(
    api: apigateway.RestApi,
    endpoint: Endpoint,
    handler: lambda_.IFunction,
    authorizer: apigateway.IAuthorizer | None = None,
) -> apigateway.Method:
    """Expose ``handler`` at the endpoint's method and path (``{param}`` segments included)."""
    # resource_for_path creates /a/{param}/b segment by segment and reuses shared prefixes.
    resource = api.root.resource_for_path(endpoint.path)
    return resource.add_method(
        endpoint.method,
        apigateway.LambdaIntegration(
            handler,
            proxy=True,
            # Only the deployed stage may invoke the function, not the console's test-invoke.
            allow_test_invoke=False,
        ),
        operation_name=endpoint.operation_id,
        authorizer=authorizer,
    )


def add_refused_routes(
    api: apigateway.RestApi, endpoint: Endpoint, handler: lambda_.IFunction
) -> list[apigateway.Method]:
    """The methods the original API answers 405 on the endpoint's path (Endpoint.refused_methods).

    They reach the endpoint's own function without an authorizer: the handler answers 405 in the
    family's dialect before looking at any key, as the original does, and stores nothing.
    """
    resource = api.root.resource_for_path(endpoint.path)
    integration = apigateway.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
    return [resource.add_method(method, integration) for method in endpoint.refused_methods]


def _acknowledge_refused_method(method: apigateway.Method) -> None:
    reason = (
        "This method only answers 405 Method Not Allowed in the family's dialect (as the original "
        "API does), before any key is read; it stores and returns no data, so it needs no auth."
    )
    acknowledge(method, "AwsSolutions-APIG4", reason)
    acknowledge(method, "AwsSolutions-COG4", reason)


def method_throttles(config: EnvConfig, spec: FamilySpec) -> dict[str, apigateway.MethodDeploymentOptions]:
    """Stage method settings (`/<resource path>/<METHOD>`) of the family's routes with an
    `edge_throttle` (each family has its own API and stage). A method setting replaces the stage's
    for that method, so logging and metrics are repeated."""
    return {
        f"{endpoint.path}/{endpoint.method}": apigateway.MethodDeploymentOptions(
            throttling_rate_limit=endpoint.edge_throttle[0],
            throttling_burst_limit=endpoint.edge_throttle[1],
            logging_level=apigateway.MethodLoggingLevel[config.api_logging_level],
            metrics_enabled=True,
            data_trace_enabled=False,
        )
        for endpoint in spec.routes
        if endpoint.edge_throttle is not None
    }


def _acknowledge_method_auth(method: apigateway.Method, *, public: bool = False, keyless: bool = False) -> None:
    if keyless:  # a keyed family's route its client calls without a key, by design
        reason = (
            "The family's own client calls this route without any key by design (it reports a key it "
            "refused to use), so no authorizer can stand in front of it. It reads nothing back, keeps what "
            "it stores under no tenant for a short retention with any key reduced to its SHA-256, caps the "
            "body small, and is throttled at the stage (method setting) and counted in the handler."
        )
        acknowledge(method, "AwsSolutions-APIG4", reason)
        acknowledge(method, "AwsSolutions-COG4", reason)
        return
    if public:  # no key: GET /openapi.json and GET /docs
        reason = (
            "Public documentation of the API (its OpenAPI document and the page that renders it): "
            "static content generated from the catalog, no tenant data, nothing stored; every "
            "vendor's original API publishes the same without a key."
        )
        acknowledge(method, "AwsSolutions-APIG4", reason)
        acknowledge(method, "AwsSolutions-COG4", reason)
        return
    reason = (
        "Each route keeps its original API's auth (X-API-Key, Bearer or Api-Token header), "
        "checked by a Lambda REQUEST authorizer at the edge and again in the handler against a "
        "table of SHA-256-hashed keys. Cognito does not apply: clients are machines presenting "
        "vendor-style API keys, not user-pool identities."
    )
    acknowledge(method, "AwsSolutions-COG4", reason)


def function_environment(config: EnvConfig, storage: Storage) -> dict[str, str]:
    """The env contract of ``ingest.settings.Settings`` (INGEST_*) plus Powertools' variables."""
    return {
        "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
        "LOG_LEVEL": config.log_level,
        "INGEST_EVENTS_TABLE": storage.events_table.table_name,
        "INGEST_KEYS_TABLE": storage.keys_table.table_name,
        "INGEST_REJECTS_BUCKET": storage.rejects_bucket.bucket_name,
        "INGEST_CURSOR_SECRET_ID": storage.cursor_secret.secret_arn,
        "INGEST_AWS_BUDGET_SECONDS": str(AWS_BUDGET_SECONDS),
        **config.runtime_settings_environment(),
    }
