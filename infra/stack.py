"""The Ingest API stack: composes storage, layers and the API, and pins the outputs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.api import IngestApi
from infra.backup import TableBackups
from infra.config import EnvConfig
from infra.deploys import SafeDeploys
from infra.domain import CustomDomain
from infra.endpoint_function import construct_id_for
from infra.layers import Layers
from infra.monitoring import Monitoring
from infra.storage import Storage


class IngestApiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Ingest API ({config.name}): serverless event ingestion",
            termination_protection=config.deployment.termination_protection,
            **kwargs,
        )
        self.config = config
        self.storage = Storage(self, "Storage", config=config)
        self.layers = Layers(self, "Layers", config=config)
        self.api = IngestApi(self, "Api", config=config, storage=self.storage, layers=self.layers)
        self._operations(config)
        cdk.Tags.of(self).add("service", "ingest-api")
        cdk.Tags.of(self).add("environment", config.name)
        self._outputs()

    def _operations(self, config: EnvConfig) -> None:
        """Alarms and dashboard, gradual deploys rolled back by those alarms, backups, domain."""
        self.monitoring = Monitoring(self, "Monitoring", config=config, api=self.api, storage=self.storage)
        self.deploys = SafeDeploys(self, "Deploys", config=config)
        for name, function in self.api.functions.items():
            self.deploys.add(construct_id_for(function.endpoint), function.alias, self.monitoring.rollback_alarms[name])
        self.deploys.add("Authorizer", self.api.authorizers.alias, self.monitoring.rollback_alarms["authorizer"])
        self.backups = None
        if config.backup is not None:
            self.backups = TableBackups(
                self,
                "Backups",
                config=config,
                settings=config.backup,
                tables=[self.storage.events_table, self.storage.keys_table],
            )
        self.domain = None
        if config.domain is not None:
            self.domain = CustomDomain(self, "Domain", settings=config.domain, apis=self.api.apis)

    def _outputs(self) -> None:
        # Created on the stack itself so their logical IDs stay exactly these names (scripts and
        # the README read them from `cdk deploy --outputs-file`).
        outputs = {
            # Each family's base URL (one REST API per family, infra.edge): ApiUrlDatahub, ...
            **{f"ApiUrl{family.capitalize()}": api.url for family, api in self.api.apis.items()},
            "EventsTableName": self.storage.events_table.table_name,
            "KeysTableName": self.storage.keys_table.table_name,
            "RejectsBucketName": self.storage.rejects_bucket.bucket_name,
        }
        if self.domain is not None:
            # The base URL clients keep across redeploys, and where its DNS record must point.
            outputs["CustomDomainUrl"] = self.domain.url
            outputs["CustomDomainTarget"] = self.domain.target
        outputs["AlarmTopicArn"] = self.monitoring.topic.topic_arn
        outputs["DashboardName"] = self.monitoring.dashboard_name
        for output_id, value in outputs.items():
            cdk.CfnOutput(self, output_id, value=value)
