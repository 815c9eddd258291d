"""One Lambda function for one catalog endpoint, with its own role and log group (infra.lambda_platform).

Each function gets a dedicated role holding only inline, resource-scoped statements (its own log
group, the storage grants, X-Ray) instead of ``AWSLambdaBasicExecutionRole``, which may create
log groups and write to every log group in the account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from ingest.catalog import Endpoint

from infra import paths
from infra.config import EnvConfig
from infra.lambda_platform import platform_function
from infra.nag import acknowledge
from infra.storage import Storage

HANDLER = "handler.lambda_handler"
# API Gateway gives up at 29 s; the function must answer (even if only 5xx) before that.
TIMEOUT = cdk.Duration.seconds(25)
MEMORY_MB = 512


def construct_id_for(endpoint: Endpoint) -> str:
    """``datahub_events`` → ``DatahubEvents``: stable, readable logical IDs per endpoint."""
    return "".join(part.capitalize() for part in endpoint.name.split("_"))


class EndpointFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: Endpoint,
        config: EnvConfig,
        storage: Storage,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint = endpoint
        handler_dir = paths.FUNCTIONS_DIR / endpoint.name
        if not (handler_dir / "handler.py").is_file():
            # Catalog and functions/ must move together; fail synth with the fix, not a bare asset error.
            raise FileNotFoundError(
                f"catalog endpoint {endpoint.name!r} has no {handler_dir}/handler.py (run `make handlers`)"
            )
        built = platform_function(
            self,
            config=config,
            code_dir=handler_dir,
            handler=HANDLER,
            description=endpoint.summary or f"{endpoint.method} {endpoint.path}",
            role_description=f"Ingest API {config.name}: {endpoint.method} {endpoint.path}",
            timeout=TIMEOUT,
            memory_mb=MEMORY_MB,
            layers=layers,
            environment=environment,
        )
        self.log_group, self.role, self.function = built.log_group, built.role, built.function
        storage.grant_endpoint_access(self.role)
        if endpoint.kind.signs_cursors:
            storage.grant_cursor_secret(self.role)
        self._acknowledge_findings(storage)

    def _acknowledge_findings(self, storage: Storage) -> None:
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Only xray:PutTraceSegments/PutTelemetryRecords (active tracing) use '*': X-Ray does "
            "not support resource-level permissions for them.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(storage.events_table)}.Arn>/index/*]",
            "Time-range read-back and delete query the events table's by_event_time index; the "
            "wildcard is limited to that table's own indexes.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(storage.rejects_bucket)}.Arn>/*]",
            "Rejects are written under per-tenant/request object keys only known at run time; the "
            "grant is put-only and confined to the rejects bucket.",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Action::s3:Abort*]",
            "Part of Bucket.grant_put: lets the SDK abort its own failed multipart upload of a "
            "large reject; it cannot read, list or delete objects.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to Python 3.13 on purpose: the dependency layer's compiled wheels "
            "(pydantic-core, orjson) are built for cp313 and the runtime is tested on 3.13.",
        )


def _logical_id(construct: Construct) -> str:
    """Logical ID of an L2's CloudFormation resource, as cdk-nag names it in findings."""
    resource = construct.node.default_child
    return cdk.Stack.of(construct).get_logical_id(resource)
