"""The Lambda REQUEST authorizers in front of every route: one function, one authorizer per family.

The function (``functions/authorizer/handler.py`` → ``ingest.authorizer``) runs the handlers' own
``Authenticator``. Each family gets its own API Gateway authorizer because answers are cached per
authorizer and identity source: the identity source is the family's credential header
(``Authorization`` or ``X-API-Key``), and a cached Deny carries that family's 401 body, which must
not be replayed on another family's route. The cache TTL (``authorizer_cache_seconds`` in
cdk.json, default 60 s, 0 turns caching off) is how long the edge keeps forwarding a revoked key's
requests; the handler still refuses them at once, because it authenticates every request itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import access
from infra.config import EnvConfig
from infra.lambda_platform import platform_function
from infra.nag import acknowledge
from infra.paths import FUNCTIONS_DIR
from infra.storage import Storage
from ingest.catalog import Endpoint

# A different entry point name from the endpoint handlers' on purpose: this is not a catalog route.
AUTHORIZER_HANDLER = "handler.authorize"
# Written by hand, not by `make handlers`: always the repository's own folder.
AUTHORIZER_CODE_DIR = FUNCTIONS_DIR / "authorizer"
# One GetItem and a hash: small and quick. API Gateway waits at most 30 s for an authorizer.
TIMEOUT = cdk.Duration.seconds(10)
MEMORY_MB = 256


class KeyAuthorizers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        storage: Storage,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.cache_ttl = cdk.Duration.seconds(config.authorizer_cache_seconds)
        built = platform_function(
            self,
            config=config,
            code_dir=AUTHORIZER_CODE_DIR,
            handler=AUTHORIZER_HANDLER,
            description="API key authorizer: is the presented key real, unexpired and not revoked?",
            role_description=f"Ingest API {config.name}: API key authorizer",
            timeout=TIMEOUT,
            memory_mb=MEMORY_MB,
            layers=layers,
            environment=environment,
            reserved_concurrency=config.reserved_concurrency.authorizer if config.reserved_concurrency else None,
        )
        self.log_group, self.role, self.function = built.log_group, built.role, built.function
        self.alias = built.alias  # what API Gateway invokes (CodeDeploy shifts it between versions)
        # A key lookup by prefix is all it does: no counters, no events, no rejects.
        storage.grant_route_access(self.role, access.merge(access.AUTHORIZER_NEEDS))
        self._by_family: dict[str, apigateway.RequestAuthorizer] = {}
        self._acknowledge_findings()

    def for_endpoint(self, endpoint: Endpoint) -> apigateway.RequestAuthorizer | None:
        """The family's authorizer (created on first use, shared by the family's routes); None for a
        public route (the service's own documents, which need no key). The identity source is the
        header the family's AuthScheme names, the very header the handler reads."""
        if endpoint.public:
            return None
        authorizer = self._by_family.get(endpoint.family)
        if authorizer is None:
            header = endpoint.auth.header
            authorizer = apigateway.RequestAuthorizer(
                self,
                f"{endpoint.family.capitalize()}Authorizer",
                authorizer_name=f"ingest-{self.config.name}-{endpoint.family}",
                handler=self.alias,
                identity_sources=[apigateway.IdentitySource.header(header)],
                results_cache_ttl=self.cache_ttl,
            )
            self._by_family[endpoint.family] = authorizer
        return authorizer

    def _acknowledge_findings(self) -> None:
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Only xray:PutTraceSegments/PutTelemetryRecords (active tracing) use '*': X-Ray does "
            "not support resource-level permissions for them.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to Python 3.13 on purpose: the dependency layer's compiled wheels "
            "(pydantic-core, orjson) are built for cp313 and the runtime is tested on 3.13.",
        )
