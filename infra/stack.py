"""The Ingest API stack: composes storage, layers and the API, and pins the outputs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.api import IngestApi
from infra.config import EnvConfig
from infra.layers import Layers
from infra.storage import Storage


class IngestApiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Ingest API ({config.name}): serverless event ingestion",
            **kwargs,
        )
        self.config = config
        self.storage = Storage(self, "Storage", config=config)
        self.layers = Layers(self, "Layers", config=config)
        self.api = IngestApi(self, "Api", config=config, storage=self.storage, layers=self.layers)
        cdk.Tags.of(self).add("service", "ingest-api")
        cdk.Tags.of(self).add("environment", config.name)
        self._outputs()

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
        for output_id, value in outputs.items():
            cdk.CfnOutput(self, output_id, value=value)
