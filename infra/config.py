"""Per-environment configuration, read from ``cdk.json`` → ``context.environments.<name>``.

Validated when the app is built, so a typo in ``cdk.json`` fails ``cdk synth`` instead of
deploying a function whose settings silently fall back to defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import aws_cdk as cdk
from ingest import catalog
from ingest.spec import Limits
from ingest.settings import Settings
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from infra.paths import CDK_JSON

DEFAULT_ENV = "dev"

_LIMIT_FIELDS = frozenset(Limits.__dataclass_fields__)


class Throttling(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_limit: float = Field(gt=0)  # steady-state requests per second for the whole stage
    burst_limit: PositiveInt


class RejectsLifecycle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Rejects are kept for correction and replay; after this they are rarely read, so Glacier.
    glacier_after_days: PositiveInt | None = None
    expire_after_days: PositiveInt

    @model_validator(mode="after")
    def _expire_after_transition(self) -> RejectsLifecycle:
        if self.glacier_after_days is not None and self.expire_after_days <= self.glacier_after_days:
            raise ValueError("expire_after_days must be later than glacier_after_days")
        return self


# --- edge protection (infra/waf.py, docs/edge.md) ------------------------------------------------


class Edge(BaseModel):
    """The optional WAF web ACL on every family's stage, and its per-client rate rules.

    WAF counts requests per `window_seconds`; a client (source IP) or an API key (the family's
    credential header) over its limit is blocked, answered 429 in the family's dialect, until its
    rate falls back under it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    waf: bool = False
    window_seconds: Literal[60, 120, 300, 600] = 300
    ip_requests_per_window: int = Field(default=30_000, ge=10, le=2_000_000_000)
    key_requests_per_window: int = Field(default=30_000, ge=10, le=2_000_000_000)


# --- end of edge protection ----------------------------------------------------------------------


class EnvConfig(BaseModel):
    """Everything that differs between dev and prod; the code never branches on the env name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    stage_name: str
    account: str | None = None  # unset: environment-agnostic stack, synth needs no credentials
    region: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    # Name of an aws_logs.RetentionDays member, e.g. "TWO_WEEKS".
    log_retention: str
    api_logging_level: Literal["ERROR", "INFO"]
    removal_policy: Literal["destroy", "retain"]
    throttling: Throttling
    rejects_lifecycle: RejectsLifecycle
    # The runtime settings contract (INGEST_*), passed through to every function.
    default_retention_days: PositiveInt
    retention_days: dict[str, PositiveInt] = Field(default_factory=dict)
    limits: dict[str, dict[str, PositiveInt]] = Field(default_factory=dict)
    stream_shards: dict[str, PositiveInt] = Field(default_factory=dict)
    # How long API Gateway caches a key authorizer's answer (0: no caching, the authorizer runs on
    # every request). A revoked key's requests still reach the handlers this long, which refuse
    # them; 3600 s is API Gateway's maximum.
    authorizer_cache_seconds: int = Field(default=60, ge=0, le=3600)
    # Edge protection (infra.waf): one block, see Edge.
    edge: Edge = Field(default_factory=Edge)

    @model_validator(mode="after")
    def _names_exist_in_catalog(self) -> EnvConfig:
        # A misspelt family or endpoint would otherwise be ignored by the runtime at request time.
        families = frozenset(endpoint.family for endpoint in catalog.ENDPOINTS)
        endpoint_names = frozenset(endpoint.name for endpoint in catalog.ENDPOINTS)
        _require_subset("retention_days", self.retention_days, families)
        _require_subset("stream_shards", self.stream_shards, families)
        _require_subset("limits", self.limits, endpoint_names)
        for endpoint_name, override in self.limits.items():
            _require_subset(f"limits.{endpoint_name}", override, _LIMIT_FIELDS)
        return self

    @model_validator(mode="after")
    def _one_key_cannot_take_a_whole_stage(self) -> EnvConfig:
        # The per-key rule exists so that one tenant's flood cannot use up the stage throttle that
        # every tenant of the family shares: a key's limit must be below the stage's rate.
        edge = self.edge
        if edge.waf and edge.key_requests_per_window / edge.window_seconds >= self.throttling.rate_limit:
            raise ValueError(
                f"edge.key_requests_per_window ({edge.key_requests_per_window} per {edge.window_seconds} s) must be "
                f"below throttling.rate_limit ({self.throttling.rate_limit}/s × {edge.window_seconds} s), or one key "
                "can use up the stage throttle of its family"
            )
        return self

    @property
    def destroy_on_removal(self) -> bool:
        return self.removal_policy == "destroy"

    @property
    def cdk_removal_policy(self) -> cdk.RemovalPolicy:
        return cdk.RemovalPolicy.DESTROY if self.destroy_on_removal else cdk.RemovalPolicy.RETAIN

    def runtime_settings_environment(self) -> dict[str, str]:
        """The config part of the INGEST_* contract (table and bucket names come from the stack)."""
        environment = {
            "INGEST_DEFAULT_RETENTION_DAYS": str(self.default_retention_days),
            "INGEST_RETENTION_DAYS": _compact_json(self.retention_days),
            "INGEST_LIMITS": _compact_json(self.limits),
            "INGEST_STREAM_SHARDS": _compact_json(self.stream_shards),
        }
        _check_against_settings_model(environment)
        return environment


def _require_subset(field: str, values: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{field}: unknown {unknown}; expected some of {sorted(known)}")


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _check_against_settings_model(environment: dict[str, str]) -> None:
    """Parse the values the way the Lambda will, so a contract mismatch fails at synth."""
    fields = {key.removeprefix("INGEST_").lower(): value for key, value in environment.items()}
    parsed = {name: json.loads(value) for name, value in fields.items()}
    Settings.model_validate(parsed)


def load_cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of cdk.json, for building the app in-process (tests) like the CLI does."""
    return json.loads(path.read_text())["context"]


def config_for(env_name: str, environments: dict[str, Any] | None) -> EnvConfig:
    if not environments:
        raise ValueError('cdk.json has no context "environments"')
    if env_name not in environments:
        raise ValueError(f"unknown env {env_name!r}; cdk.json defines {sorted(environments)}")
    return EnvConfig.model_validate({"name": env_name, **environments[env_name]})
