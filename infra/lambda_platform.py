"""The one Lambda platform every function and layer targets.

The dependency layer holds compiled wheels (pydantic-core, orjson) for exactly this runtime and
architecture, so they are declared once and checked against the layer build recipe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.layer_build import PLATFORM, PYTHON_VERSION

if TYPE_CHECKING:
    from infra.config import EnvConfig

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# A runtime or architecture bump without the matching layer recipe would import-fail at cold start.
if RUNTIME.name != f"python{PYTHON_VERSION}" or ARCHITECTURE.name != "arm64" or "aarch64" not in PLATFORM:
    raise RuntimeError(f"layer recipe {PLATFORM}/{PYTHON_VERSION} != {ARCHITECTURE.name}/{RUNTIME.name}")


_NOT_SHIPPED = ["**/__pycache__", "**/*.pyc"]


# The alias API Gateway invokes: CodeDeploy moves it from version to version (infra.deploys).
LIVE_ALIAS = "live"


@dataclass(frozen=True)
class PlatformFunction:
    log_group: logs.LogGroup
    role: iam.Role
    function: lambda_.Function
    # What callers (API Gateway integrations, authorizers) invoke: never $LATEST.
    alias: lambda_.Alias


def platform_function(
    scope: Construct,
    *,
    config: EnvConfig,
    code_dir: Path,
    handler: str,
    description: str,
    role_description: str,
    timeout: cdk.Duration,
    memory_mb: int,
    layers: Sequence[lambda_.ILayerVersion],
    environment: Mapping[str, str],
    reserved_concurrency: int | None = None,
) -> PlatformFunction:
    """A function on this platform, as the children ``Logs``, ``Role``, ``Function`` and ``Live`` of ``scope``.

    Each function gets a dedicated role holding only inline, resource-scoped statements (its own
    log group, X-Ray, and whatever the caller grants) instead of ``AWSLambdaBasicExecutionRole``,
    which may create log groups and write to every log group in the account.

    Every synth publishes a version when the code or configuration changed, and the ``live`` alias
    (child ``Live``) points at it; ``reserved_concurrency`` (None: unreserved) caps the function so
    that a slow dependency cannot take the account's whole concurrency.
    """
    log_group = logs.LogGroup(
        scope,
        "Logs",
        retention=logs.RetentionDays[config.log_retention],
        removal_policy=config.cdk_removal_policy,
    )
    role = iam.Role(scope, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=role_description)
    function = lambda_.Function(
        scope,
        "Function",
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=lambda_.Code.from_asset(str(code_dir), exclude=_NOT_SHIPPED),
        layers=list(layers),
        environment=dict(environment),
        description=description,
        timeout=timeout,
        memory_size=memory_mb,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        role=role,
        reserved_concurrent_executions=reserved_concurrency,
    )
    log_group.grant_write(role)
    alias = lambda_.Alias(scope, "Live", alias_name=LIVE_ALIAS, version=function.current_version)
    return PlatformFunction(log_group, role, function, alias)
