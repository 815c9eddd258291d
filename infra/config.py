"""Per-environment configuration, read from ``cdk.json`` → ``context.environments.<name>``.

Validated when the app is built, so a typo in ``cdk.json`` fails ``cdk synth`` instead of
deploying a function whose settings silently fall back to defaults.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_logs as logs
from ingest import catalog
from ingest.spec import Limits
from ingest.settings import Settings
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from infra.paths import CDK_JSON

DEFAULT_ENV = "dev"

_LIMIT_FIELDS = frozenset(Limits.__dataclass_fields__)

# Names of aws_logs.RetentionDays members ("TWO_WEEKS", …) and of CodeDeploy's predefined Lambda
# deployment configurations ("ALL_AT_ONCE", "CANARY_10_PERCENT_5_MINUTES", …): a Literal, so a
# misspelt value fails validation with the whole list of allowed values.
LogRetention = Literal[tuple(logs.RetentionDays.__members__)]  # type: ignore[valid-type]
DEPLOYMENT_CONFIGS = tuple(
    name for name in dir(codedeploy.LambdaDeploymentConfig) if name.isupper() and name != "PROPERTY_INJECTION_ID"
)
DeploymentConfigName = Literal[DEPLOYMENT_CONFIGS]  # type: ignore[valid-type]

_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
_VAULT_ARN = re.compile(r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[A-Za-z0-9_.-]+$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


class ConfigError(ValueError):
    """A cdk.json mistake, named by its key path (``environments.prod.monitoring.alarms.x``)."""


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


class Subscription(BaseModel):
    """Who hears an alarm: one SNS subscription of the alarm topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: Literal["email", "https", "sms"]
    endpoint: str = Field(min_length=3)

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> Subscription:
        expected = {"email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "https": r"^https://\S+$", "sms": r"^\+[1-9]\d{6,14}$"}
        if not re.match(expected[self.protocol], self.endpoint):
            shapes = {"email": "an e-mail address", "https": "an https:// URL", "sms": "an E.164 number (+4915…)"}
            raise ValueError(f"endpoint {self.endpoint!r} is not {shapes[self.protocol]} (protocol {self.protocol!r})")
        return self


class AlarmThresholds(BaseModel):
    """When each alarm fires: a period's value beyond its threshold in ``datapoints_to_alarm`` of the
    last ``evaluation_periods`` periods of ``period_minutes``.

    The defaults are the recommended production values; an environment overrides any of them. They
    fire within 2-3 minutes, inside a 5-minute canary, so a bad version is rolled back before it
    takes all traffic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_minutes: PositiveInt = 1
    evaluation_periods: PositiveInt = 3
    datapoints_to_alarm: PositiveInt = 2
    # The share of the stage's answers that are 5xx (API Gateway's 5XXError average), in percent.
    api_5xx_percent: float = Field(default=1.0, gt=0, le=100)
    # p99 of API Gateway's Latency per route; must stay under API Gateway's 29 s integration limit.
    route_p99_latency_ms: PositiveInt = Field(default=5000, lt=29000)
    route_p99_latency_ms_per_endpoint: dict[str, PositiveInt] = Field(default_factory=dict)
    # Counts per period above which the alarm fires (0: the first one fires it).
    lambda_errors: NonNegativeInt = 0
    lambda_throttles: NonNegativeInt = 0
    # p99 duration of a function as a percentage of its timeout (25 s endpoints, 10 s authorizer).
    duration_percent_of_timeout: int = Field(default=80, gt=0, le=100)
    authorizer_errors: NonNegativeInt = 0
    dynamodb_throttled_requests: NonNegativeInt = 0
    dynamodb_system_errors: NonNegativeInt = 0
    reject_write_failures: NonNegativeInt = 0
    # Service's own EMF metrics (namespace IngestApi): ServerErrors per endpoint, and the share of
    # an ingest endpoint's events that were rejected.
    server_errors: NonNegativeInt = 0
    rejected_percent: float = Field(default=50.0, gt=0, le=100)

    @model_validator(mode="after")
    def _endpoints_exist(self) -> AlarmThresholds:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must not exceed evaluation_periods")
        endpoint_names = frozenset(endpoint.name for endpoint in catalog.ENDPOINTS)
        _require_subset("route_p99_latency_ms_per_endpoint", self.route_p99_latency_ms_per_endpoint, endpoint_names)
        return self

    def route_p99_latency_ms_for(self, endpoint_name: str) -> int:
        return self.route_p99_latency_ms_per_endpoint.get(endpoint_name, self.route_p99_latency_ms)


class MonitoringConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriptions: list[Subscription] = Field(default_factory=list)
    alarms: AlarmThresholds = Field(default_factory=AlarmThresholds)


class DeploymentConfig(BaseModel):
    """How a new function version replaces the live one (CodeDeploy, alarms roll it back)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: DeploymentConfigName = "ALL_AT_ONCE"
    termination_protection: bool = False


class ReservedConcurrency(BaseModel):
    """Reserved concurrency per function (docs/operations.md: size = peak requests/s x seconds each
    may take). The sum must fit ``account_budget``: the account's concurrency limit less the 100 that
    AWS keeps unreserved and whatever other workloads in the account reserve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_budget: PositiveInt
    default: PositiveInt
    endpoints: dict[str, PositiveInt] = Field(default_factory=dict)
    authorizer: PositiveInt

    @model_validator(mode="after")
    def _fits_the_budget(self) -> ReservedConcurrency:
        endpoint_names = frozenset(endpoint.name for endpoint in catalog.ENDPOINTS)
        _require_subset("endpoints", self.endpoints, endpoint_names)
        total = self.total()
        if total > self.account_budget:
            raise ValueError(
                f"the functions reserve {total} in all ({len(endpoint_names)} endpoints and the authorizer), "
                f"more than account_budget {self.account_budget}"
            )
        return self

    def for_endpoint(self, endpoint_name: str) -> int:
        return self.endpoints.get(endpoint_name, self.default)

    def total(self) -> int:
        return sum(self.for_endpoint(endpoint.name) for endpoint in catalog.ENDPOINTS) + self.authorizer


class BackupConfig(BaseModel):
    """AWS Backup of both tables (in addition to their point-in-time recovery)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: Literal["daily", "weekly", "monthly"] = "daily"
    delete_after_days: PositiveInt = 35
    move_to_cold_storage_after_days: PositiveInt | None = None
    # Optional second copy of every recovery point in another vault (another account or region).
    copy_to_vault_arn: str | None = None

    @model_validator(mode="after")
    def _check(self) -> BackupConfig:
        if self.copy_to_vault_arn is not None and not _VAULT_ARN.match(self.copy_to_vault_arn):
            raise ValueError(
                f"copy_to_vault_arn {self.copy_to_vault_arn!r} is not a backup vault ARN "
                "(arn:aws:backup:<region>:<account>:backup-vault:<name>)"
            )
        cold = self.move_to_cold_storage_after_days
        if cold is not None and self.delete_after_days < cold + 90:
            raise ValueError("delete_after_days must be at least 90 days after move_to_cold_storage_after_days")
        return self


class ExistingTables(BaseModel):
    """Point the stack at tables it does not own, e.g. ones restored from a backup (the runbook in
    docs/operations.md). Unset: the stack's own tables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events_table_name: str | None = None
    keys_table_name: str | None = None

    @model_validator(mode="after")
    def _names(self) -> ExistingTables:
        for field in ("events_table_name", "keys_table_name"):
            value = getattr(self, field)
            if value is not None and not _TABLE_NAME.match(value):
                raise ValueError(f"{field} {value!r} is not a DynamoDB table name ([A-Za-z0-9_.-], 3-255)")
        return self


class DomainConfig(BaseModel):
    """An optional custom domain for the API (a REGIONAL domain; the certificate in the same region)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    certificate_arn: str
    # No base path: one REST API per family (infra.edge), routed by each path's first segment
    # (infra.domain), so the catalog's paths sit at the domain's root (https://<name>/datahub/v1/events).

    @model_validator(mode="after")
    def _check(self) -> DomainConfig:
        if not _HOSTNAME.match(self.name):
            raise ValueError(f"name {self.name!r} is not a lower-case DNS host name (ingest.example.com)")
        if not _CERTIFICATE_ARN.match(self.certificate_arn):
            raise ValueError(
                f"certificate_arn {self.certificate_arn!r} is not an ACM certificate ARN "
                "(arn:aws:acm:<region>:<account>:certificate/<id>)"
            )
        return self

    @property
    def url(self) -> str:
        return f"https://{self.name}/"
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
    log_retention: LogRetention
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
    # Operations (docs/operations.md): alarms, deploys, concurrency, backups, restored tables, domain.
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)
    reserved_concurrency: ReservedConcurrency | None = None  # None: nothing reserved (small dev accounts)
    backup: BackupConfig | None = None  # None: point-in-time recovery only
    existing_tables: ExistingTables = Field(default_factory=ExistingTables)
    domain: DomainConfig | None = None
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
    def _alarms_can_stop_a_gradual_deploy(self) -> EnvConfig:
        # A canary or linear step that ends before the rollback alarms can fire protects nothing.
        step = _deployment_step_minutes(self.deployment.config)
        alarms = self.monitoring.alarms
        fires_after = alarms.period_minutes * alarms.datapoints_to_alarm
        if step is not None and fires_after >= step:
            raise ValueError(
                f"deployment.config {self.deployment.config} shifts traffic every {step} min, but the alarms "
                f"fire after {fires_after} min at the earliest (monitoring.alarms.period_minutes x "
                "datapoints_to_alarm): lower them or choose a longer canary"
            )
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


def _deployment_step_minutes(name: str) -> int | None:
    """Minutes between traffic shifts of a gradual CodeDeploy config (None: all at once)."""
    match = re.search(r"_(\d+)_MINUTES?$", name)
    return int(match.group(1)) if match else None


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
    """The validated config of one environment, or ConfigError naming each wrong key (its full path
    in cdk.json) and what it may be."""
    if not environments:
        raise ConfigError('cdk.json has no context "environments"')
    if env_name not in environments:
        raise ConfigError(f"unknown env {env_name!r}; cdk.json defines {sorted(environments)}")
    if not isinstance(environments[env_name], dict):
        raise ConfigError(f"environments.{env_name} must be an object of settings")
    try:
        return EnvConfig.model_validate({"name": env_name, **environments[env_name]})
    except ValidationError as exc:
        problems = [_describe(env_name, error) for error in exc.errors()]
        raise ConfigError(f"cdk.json has {len(problems)} mistake(s):\n  " + "\n  ".join(problems)) from None


def _describe(env_name: str, error: Any) -> str:
    location = ".".join(["environments", env_name, *(str(part) for part in error["loc"])])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(EnvConfig, error["loc"][:-1])
        message = f"unknown key; allowed keys here: {sorted(allowed - {'name'})}"
    elif error["type"] == "missing":
        message = "required key is missing"
    return f"{location}: {message}"


def _allowed_keys(model: type[BaseModel], location: Sequence[Any]) -> set[str]:
    """The keys the model nested at ``location`` (field names, list indexes, dict keys) accepts."""
    current: Any = model
    for part in location:
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        current = _model_in(current)
    return set(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else set()


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside ``X | None``, ``list[X]`` or ``dict[str, X]``, else the annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation
