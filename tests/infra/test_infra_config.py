"""cdk.json environment config: validated at synth, so typos fail before a deploy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ingest.settings import Settings
from pydantic import ValidationError

from infra.config import EnvConfig, config_for, load_cdk_json_context

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
        ("surprise", 1, "Extra inputs are not permitted"),
    ],
)
def test_invalid_values_fail_with_a_clear_message(
    environments: dict[str, Any], field: str, value: Any, message: str
) -> None:
    environments["dev"][field] = value
    with pytest.raises(ValidationError, match=message):
        config_for("dev", environments)


def test_config_is_immutable(environments: dict[str, Any]) -> None:
    config: EnvConfig = config_for("dev", environments)
    with pytest.raises(ValidationError):
        config.stage_name = "other"  # type: ignore[misc]
