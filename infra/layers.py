"""The two layers every function carries: third-party dependencies and our runtime package.

Split so that a change to ``ingest`` publishes a small layer and leaves the ~20 MB dependency
layer (and its asset hash) untouched. Both are built under build/layers with their bytecode for
Python 3.13 (infra.bytecode: /opt is read-only, so without it every cold start compiles them).
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvConfig
from infra.lambda_platform import ARCHITECTURE, RUNTIME
from infra.layer_build import build_dependency_layer, build_runtime_layer


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self.dependencies = self._layer(
            "Dependencies",
            lambda_.Code.from_asset(str(build_dependency_layer())),
            "Third-party runtime dependencies (arm64, Python 3.13); boto3 comes from the runtime.",
            config,
        )
        self.runtime = self._layer(
            "Runtime",
            lambda_.Code.from_asset(str(build_runtime_layer())),
            "The ingest runtime package: catalog, pipeline, families, storage access.",
            config,
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.runtime]

    def _layer(
        self, construct_id: str, code: lambda_.Code, description: str, config: EnvConfig
    ) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=code,
            description=description,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            removal_policy=config.cdk_removal_policy,
        )
