"""DataHub event model: seeds 001/002 and the datahubEvents schema."""

import pytest

from ingest.families.datahub.family import FAMILY, FIXED_DIMENSION_KEYS


def valid(**fields):
    return {"provider": "Datadog", "time": "2024-03-10T23:00:00Z", **fields}


def validate(*events):
    return FAMILY.validate(list(events))


def paths(errors):
    return {violation.path for violations in errors.values() for violation in violations}


def test_guide_fixed_keys_are_exactly_the_documented_fifteen():
    assert len(FIXED_DIMENSION_KEYS) == 15
    assert {"billing_account_id", "global_resource_id", "service_description"} <= FIXED_DIMENSION_KEYS


def test_cloud_is_accepted_as_provider():
    models, errors = validate({"cloud": "Datadog", "time": "2024-02-23T12:00:00.00Z"})
    assert not errors and models[0].provider == "Datadog"


@pytest.mark.parametrize("value", ["prod", True, False])
def test_dimension_value_is_string_or_boolean(value):
    models, errors = validate(valid(dimensions=[{"type": "label", "key": "env", "value": value}]))
    assert not errors and models[0].dimensions[0].value == value


@pytest.mark.parametrize("value", [1, 1.5, None, ["a"], {"a": 1}])
def test_dimension_value_of_another_type_names_the_field(value):
    _, errors = validate(valid(dimensions=[{"type": "label", "key": "env", "value": value}]))
    assert paths(errors) == {"events[0].dimensions[0].value"}


@pytest.mark.parametrize("kind", ["fixed", "label", "project_label", "system_label"])
def test_every_dimension_type_is_accepted(kind):
    _, errors = validate(valid(dimensions=[{"type": kind, "key": "region", "value": "eu"}]))
    assert not errors


def test_fixed_key_outside_the_list_is_rejected_but_labels_are_free():
    _, errors = validate(
        valid(dimensions=[{"type": "label", "key": "team", "value": "a"}]),
        valid(dimensions=[{"type": "fixed", "key": "team", "value": "a"}]),
    )
    assert list(errors) == [1]
    assert paths(errors) == {"events[1].dimensions[0].key"}
    assert "not an allowed key for a fixed dimension" in errors[1][0].message


@pytest.mark.parametrize(
    "provider", ["Data/dog", "a#b", "", "ünï", "a\nb", "x" * 129, 5]
)
def test_provider_characters_are_restricted(provider):
    _, errors = validate(valid(provider=provider))
    assert paths(errors) == {"events[0].provider"}


@pytest.mark.parametrize("provider", ["Datadog", "my_provider-2", "Big Query"])
def test_provider_allowed_characters(provider):
    assert not validate(valid(provider=provider))[1]


@pytest.mark.parametrize(
    "time",
    ["2024-03-10T23:00:00", "2024-03-10", "1710111600", 1710111600, "10/03/2024 23:00", "2024-13-10T23:00:00Z", None],
)
def test_time_must_be_rfc3339_with_a_zone(time):
    _, errors = validate(valid(time=time))
    assert paths(errors) == {"events[0].time"}


def test_time_offsets_are_normalized_to_utc():
    models, _ = validate(valid(time="2024-03-11T07:00:00+08:00"))
    assert models[0].time.isoformat() == "2024-03-10T23:00:00+00:00"


def test_required_fields_are_named():
    _, errors = validate({"id": "x"})
    assert paths(errors) == {"events[0].provider", "events[0].time"}
    assert any("cloud" in violation.message for violation in errors[0])


@pytest.mark.parametrize("value", ["12", None, float("inf"), True])
def test_metric_value_must_be_a_finite_number(value):
    _, errors = validate(valid(metrics=[{"type": "cost", "value": value}]))
    assert paths(errors) == {"events[0].metrics[0].value"}


def test_metric_numbers_int_or_float():
    models, errors = validate(valid(metrics=[{"type": "cost", "value": 352}, {"type": "usage", "value": 0.5}]))
    assert not errors and [m.value for m in models[0].metrics] == [352, 0.5]


def test_every_invalid_event_is_named_and_all_or_nothing_keeps_no_models():
    models, errors = validate(valid(), {"provider": "x"}, valid(), valid(time="nope"))
    assert sorted(errors) == [1, 3]
    assert models == [None] * 4


def test_unknown_fields_are_dropped_from_the_canonical_payload():
    models, _ = validate(valid(id="a", colour="blue"))
    assert b"colour" not in FAMILY.adapter.dump_json(models[0])


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_calendar_in_utc_is_the_clients_400_naming_the_field(time):
    # issue 11: astimezone() overflowed and the request answered 500
    models, errors = validate(valid(), valid(time=time))
    assert models == [None, None] and paths(errors) == {"events[1].time"}
    assert "outside the years 0001-9999" in errors[1][0].message
