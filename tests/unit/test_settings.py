"""The environment contract (ingest.settings): INGEST_<FIELD> in any case, dict fields as JSON,
constructor values over the environment, and a bad value is an error naming it."""

from __future__ import annotations

import pydantic
import pytest

from ingest.settings import Settings


def test_fields_come_from_the_environment_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_EVENTS_TABLE", "events-prod")
    monkeypatch.setenv("ingest_keys_table", "keys-prod")
    monkeypatch.setenv("INGEST_AWS_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("INGEST_AWS_BUDGET_SECONDS", "12.5")
    monkeypatch.setenv("INGEST_LIMITS", '{"datahub_events": {"max_events": 100}}')
    monkeypatch.setenv("INGEST_RETENTION_DAYS", '{"ops": 7}')
    monkeypatch.setenv("INGEST_NOT_A_FIELD", "ignored")
    settings = Settings()
    assert (settings.events_table, settings.keys_table) == ("events-prod", "keys-prod")
    assert settings.aws_max_attempts == 5 and settings.aws_budget_seconds == 12.5
    assert settings.limits == {"datahub_events": {"max_events": 100}}
    assert settings.retention_seconds("ops") == 7 * 86_400
    assert settings.retention_seconds("usage") == 30 * 86_400  # the default


def test_a_dict_variable_of_null_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_STREAM_SHARDS", "null")
    assert Settings().stream_shards == {}


def test_values_given_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_EVENTS_TABLE", "from-env")
    monkeypatch.setenv("INGEST_STREAM_SHARDS", '{"datahub": 2}')
    settings = Settings(events_table="given", stream_shards={"datahub": 4})
    assert settings.events_table == "given" and settings.shards("datahub") == 4
    assert Settings(**settings.model_dump()) == settings  # a copy with overrides, as the tests make them


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("INGEST_LIMITS", "{not json", "INGEST_LIMITS is not JSON"),
        ("INGEST_AWS_MAX_ATTEMPTS", "0", "aws_max_attempts"),
        ("INGEST_AWS_BUDGET_SECONDS", "soon", "aws_budget_seconds"),
        ("INGEST_LIMITS", '{"datahub_events": {"max_events": "many"}}', "limits"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises((ValueError, pydantic.ValidationError), match=named):
        Settings()


def test_settings_are_frozen_and_refuse_unknown_fields() -> None:
    settings = Settings()
    with pytest.raises(pydantic.ValidationError):
        settings.events_table = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="evnts_table"):
        Settings(evnts_table="typo")
