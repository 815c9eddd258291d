"""The environment contract of every function, as one typed settings model.

The CDK stack sets these variables on each Lambda from ``cdk.json``; the local server sets the same
ones. Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.spec import Endpoint, Limits

DAY_SECONDS = 86_400


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", frozen=True)

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
