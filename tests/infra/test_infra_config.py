"""cdk.json environment config: validated at synth, so typos fail before a deploy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ingest.settings import Settings
from pydantic import ValidationError

from infra.config import ConfigError, EnvConfig, config_for, load_cdk_json_context

pytestmark = pytest.mark.infra


@pytest.fixture
def environments() -> dict[str, Any]:
    return copy.deepcopy(load_cdk_json_context()["environments"])


def test_cdk_json_defines_dev_and_prod(environments: dict[str, Any]) -> None:
    assert {"dev", "prod"} <= set(environments)
    for name in environments:
        assert config_for(name, environments).name == name


def test_prod_retains_data_and_dev_does_not(environments: dict[str, Any]) -> None:
    assert config_for("prod", environments).destroy_on_removal is False
    assert config_for("dev", environments).destroy_on_removal is True


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_runtime_environment_parses_with_the_settings_model(environments: dict[str, Any], name: str) -> None:
    config = config_for(name, environments)
    variables = config.runtime_settings_environment()
    settings = Settings.model_validate(
        {key.removeprefix("INGEST_").lower(): json.loads(value) for key, value in variables.items()}
    )
    assert settings.retention_days == config.retention_days
    assert settings.default_retention_days == config.default_retention_days


def test_unknown_env_is_rejected(environments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown env 'staging'"):
        config_for("staging", environments)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("retention_days", {"datahb": 7}, "retention_days: unknown"),
        ("stream_shards", {"nope": 2}, "stream_shards: unknown"),
        ("limits", {"datahub_event": {"max_events": 1}}, "limits: unknown"),
        ("limits", {"datahub_events": {"max_event": 1}}, "limits.datahub_events: unknown"),
        ("stream_shards", {"datahub": 0}, "greater than 0"),
        ("log_level", "LOUD", "log_level"),
        ("removal_policy", "snapshot", "removal_policy"),
        ("rejects_lifecycle", {"glacier_after_days": 90, "expire_after_days": 30}, "expire_after_days must be later"),
        ("surprise", 1, r"environments\.dev\.surprise: unknown key; allowed keys here: \[.*'stage_name'"),
    ],
)
def test_invalid_values_fail_with_a_clear_message(
    environments: dict[str, Any], field: str, value: Any, message: str
) -> None:
    environments["dev"][field] = value
    with pytest.raises(ConfigError, match=message):
        config_for("dev", environments)


def test_config_is_immutable(environments: dict[str, Any]) -> None:
    config: EnvConfig = config_for("dev", environments)
    with pytest.raises(ValidationError):
        config.stage_name = "other"  # type: ignore[misc]


# --- every misspelt value names its key and what it may be (never a bare KeyError) -------------

VAULT = "arn:aws:backup:eu-central-1:123456789012:backup-vault:copy"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0b0c0d0e-1111-2222-3333-444455556666"


@pytest.mark.parametrize(
    ("env", "path", "value", "expected"),
    [
        # log retention: a RetentionDays member, listed
        ("dev", ["log_retention"], "TWO_WEEK", ["environments.dev.log_retention", "'TWO_WEEKS'", "'THREE_MONTHS'"]),
        # a nested key misspelt: the key's full path and the keys allowed there
        ("dev", ["throttling", "burst_limt"], 5,
         ["environments.dev.throttling.burst_limt", "'burst_limit'", "'rate_limit'"]),
        ("prod", ["monitoring", "alarms", "lambda_error"], 1,
         ["environments.prod.monitoring.alarms.lambda_error: unknown key", "'lambda_errors'", "'server_errors'"]),
        ("prod", ["monitoring", "alarm"], {}, ["environments.prod.monitoring.alarm", "'alarms'", "'subscriptions'"]),
        # alarm thresholds out of range
        ("prod", ["monitoring", "alarms", "route_p99_latency_ms"], 30000,
         ["environments.prod.monitoring.alarms.route_p99_latency_ms", "less than 29000"]),
        ("prod", ["monitoring", "alarms", "duration_percent_of_timeout"], 120,
         ["environments.prod.monitoring.alarms.duration_percent_of_timeout", "less than or equal to 100"]),
        ("prod", ["monitoring", "alarms", "lambda_errors"], -1,
         ["monitoring.alarms.lambda_errors", "greater than or equal to 0"]),
        ("prod", ["monitoring", "alarms", "datapoints_to_alarm"], 9,
         ["datapoints_to_alarm must not exceed evaluation_periods"]),
        ("prod", ["monitoring", "alarms", "route_p99_latency_ms_per_endpoint"], {"datahub_event": 100},
         ["route_p99_latency_ms_per_endpoint: unknown ['datahub_event']", "'datahub_events'"]),
        # subscriptions: protocol listed; endpoint checked against the protocol
        ("prod", ["monitoring", "subscriptions"], [{"protocol": "mail", "endpoint": "a@b.io"}],
         ["environments.prod.monitoring.subscriptions.0.protocol", "'email', 'https' or 'sms'"]),
        ("prod", ["monitoring", "subscriptions"], [{"protocol": "email", "endpoint": "oncall.example.com"}],
         ["environments.prod.monitoring.subscriptions.0", "is not an e-mail address"]),
        ("prod", ["monitoring", "subscriptions"], [{"protocol": "https", "endpoint": "http://x.io", "raw": 1}],
         ["subscriptions.0.raw: unknown key", "'endpoint'", "'protocol'"]),
        ("prod", ["monitoring", "subscriptions"], [{"protocol": "https", "endpoint": "http://x.io"}],
         ["subscriptions.0", "is not an https:// URL"]),
        # deployment configuration names: CodeDeploy's, listed
        ("prod", ["deployment", "config"], "CANARY_10PERCENT_5MINUTES",
         ["environments.prod.deployment.config", "'ALL_AT_ONCE'", "'CANARY_10_PERCENT_5_MINUTES'"]),
        ("prod", ["deployment", "termination"], True,
         ["deployment.termination: unknown key", "'termination_protection'"]),
        ("prod", ["deployment", "config"], "LINEAR_10_PERCENT_EVERY_1_MINUTE",
         ["shifts traffic every 1 min, but the alarms fire after 2 min at the earliest"]),
        ("prod", ["monitoring", "alarms", "period_minutes"], 5,
         ["CANARY_10_PERCENT_5_MINUTES shifts traffic every 5 min, but the alarms fire after 10 min"]),
        # reserved concurrency: names from the catalog, the sum within the budget
        ("prod", ["reserved_concurrency", "endpoints", "datahub_event"], 5,
         ["reserved_concurrency", "endpoints: unknown ['datahub_event']", "'datahub_events'"]),
        ("prod", ["reserved_concurrency", "account_budget"], 100, ["more than account_budget 100"]),
        ("prod", ["reserved_concurrency", "default"], 0, ["reserved_concurrency.default", "greater than 0"]),
        # backups and restored tables
        ("prod", ["backup", "schedule"], "hourly",
         ["environments.prod.backup.schedule", "'daily', 'weekly' or 'monthly'"]),
        ("prod", ["backup", "copy_to_vault_arn"], "my-vault",
         ["copy_to_vault_arn 'my-vault' is not a backup vault ARN"]),
        ("prod", ["existing_tables", "events_table"], "t",
         ["existing_tables.events_table: unknown key", "'events_table_name'"]),
        ("prod", ["existing_tables", "events_table_name"], "a b",
         ["events_table_name 'a b' is not a DynamoDB table name"]),
        # custom domain
        ("prod", ["domain"], {"name": "ingest.example.com", "certificate": CERTIFICATE},
         ["environments.prod.domain.certificate_arn: required key is missing", "domain.certificate: unknown key"]),
        ("prod", ["domain"], {"name": "ingest.example.com", "certificate_arn": "arn:aws:iam::1:cert"},
         ["certificate_arn 'arn:aws:iam::1:cert' is not an ACM certificate ARN"]),
        # one API per family, routed by path: no base path to put the vendors' paths under
        ("prod", ["domain"], {"name": "ingest.example.com", "certificate_arn": CERTIFICATE, "base_path": "v1"},
         ["domain.base_path: unknown key"]),
    ],
)
def test_a_mistake_names_its_key_and_the_allowed_values(
    environments: dict[str, Any], env: str, path: list[str], value: Any, expected: list[str]
) -> None:
    node = environments[env]
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as raised:
        config_for(env, environments)
    message = str(raised.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_valid_optional_settings_are_accepted(environments: dict[str, Any]) -> None:
    environments["prod"]["domain"] = {"name": "ingest.example.com", "certificate_arn": CERTIFICATE}
    environments["prod"]["backup"] = {"copy_to_vault_arn": VAULT, "move_to_cold_storage_after_days": 7,
                                      "delete_after_days": 97}
    environments["prod"]["existing_tables"] = {"events_table_name": "ingest-events-restored"}
    config = config_for("prod", environments)
    assert config.domain is not None and config.domain.url == "https://ingest.example.com/"
    assert config.backup is not None and config.backup.copy_to_vault_arn == VAULT
    assert config.existing_tables.events_table_name == "ingest-events-restored"
    assert config.existing_tables.keys_table_name is None


def test_reserved_concurrency_fits_the_account_budget_in_every_environment(environments: dict[str, Any]) -> None:
    from ingest.catalog import ENDPOINTS

    for name in environments:
        reserved = config_for(name, environments).reserved_concurrency
        if reserved is None:
            continue
        assert reserved.total() == sum(reserved.for_endpoint(e.name) for e in ENDPOINTS) + reserved.authorizer
        assert reserved.total() <= reserved.account_budget


def test_a_misspelt_value_fails_synth_with_the_config_error_not_a_key_error(environments: dict[str, Any]) -> None:
    import aws_cdk as cdk

    from infra.application import build_app

    environments["dev"]["log_retention"] = "FOREVER"
    app = cdk.App(context={"environments": environments, "env": "dev"})
    with pytest.raises(ConfigError, match=r"environments\.dev\.log_retention: Input should be 'ONE_DAY'"):
        build_app(app)
