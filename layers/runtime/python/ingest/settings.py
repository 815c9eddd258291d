"""The environment contract of every function, as one typed settings model.

The CDK stack sets these variables on each Lambda from ``cdk.json``; the local server sets the same
ones. Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field

from ingest.spec import Endpoint, Limits

DAY_SECONDS = 86_400
ENV_PREFIX = "INGEST_"


class Settings(BaseModel):
    """Each field from ``INGEST_<FIELD>`` (any case; dict fields as JSON), values passed to the
    constructor over those. A plain pydantic model, not pydantic-settings: importing that costs every
    cold start 60-100 ms (issue 14) for what these few lines do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_from_environ(type(self)), **values})

    events_table: str = "ingest-events"
    keys_table: str = "ingest-keys"
    rejects_bucket: str = "ingest-rejects"

    # Retention per family in days (the item's TTL, and so how long dedup holds).
    default_retention_days: int = Field(default=30, ge=1)
    retention_days: dict[str, int] = Field(default_factory=dict)
    # Per-endpoint overrides of the catalog limits, e.g. {"datahub_events": {"max_events": 100}}.
    limits: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Partition-key shards per family; >1 spreads a hot stream over several partitions. A stream
    # keeps the count of its first write (its shard record): a change applies to new streams only.
    stream_shards: dict[str, int] = Field(default_factory=dict)

    # The Secrets Manager secret (name or ARN) whose value signs query cursors (HMAC-SHA256). The
    # stack generates it at deploy; the local emulator creates one under this default name.
    cursor_secret_id: str = "ingest-cursor-secret"

    # Whole-request budget for AWS calls; API Gateway gives up at 29 s.
    aws_budget_seconds: float = Field(default=20.0, gt=0)
    aws_max_attempts: int = Field(default=3, ge=1)
    aws_connect_timeout: float = 2.0
    aws_read_timeout: float = 5.0

    def retention_seconds(self, family: str) -> int:
        return self.retention_days.get(family, self.default_retention_days) * DAY_SECONDS

    def shards(self, family: str) -> int:
        return max(1, self.stream_shards.get(family, 1))

    def limits_for(self, endpoint: Endpoint) -> Limits:
        override = self.limits.get(endpoint.name, {})
        return Limits(
            max_events=override.get("max_events", endpoint.limits.max_events),
            max_body_bytes=override.get("max_body_bytes", endpoint.limits.max_body_bytes),
            max_wire_bytes=override.get("max_wire_bytes", endpoint.limits.max_wire_bytes),
        )


def _from_environ(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields set in the environment: strings as they are (pydantic coerces and checks
    them), JSON for the dict fields; a variable that is not JSON names itself in the error."""
    environ = {name.upper(): value for name, value in os.environ.items() if name.upper().startswith(ENV_PREFIX)}
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        variable = ENV_PREFIX + name.upper()
        if variable not in environ:
            continue
        value = environ[variable]
        if get_origin(field.annotation) is dict:
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"{variable} is not JSON: {exc}") from None
            if value is None:  # null: as if unset (the default)
                continue
        values[name] = value
    return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
