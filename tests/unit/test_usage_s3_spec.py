"""The S3 models against the reference spec itself, read at run time: every `S3Event` variant.

Events are generated from each variant's JSON schema (required fields only, and every property),
checked valid by a JSON Schema validator against the spec, then sent through the family's validation.
"""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from ingest import catalog
from ingest.settings import Settings
from tests.conftest import REFERENCE

SPEC = json.loads((REFERENCE / "specs" / "dashdive_openapi.json").read_text())
S3_EVENT = SPEC["components"]["schemas"]["S3Event"]
VARIANTS = S3_EVENT["oneOf"]
FAMILY = catalog.get("usage_s3").impl
SINGLE = FAMILY.bind(catalog.get("usage_s3"), Settings())


def action_of(variant: dict) -> str:
    [action] = variant["properties"]["action"]["enum"]
    return action


def example(schema: dict, name: str, every_property: bool) -> object:
    """The simplest value the schema allows (deterministic, so failures reproduce)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema["type"]
    if kind == "string":
        return "2024-03-01T12:00:00Z" if schema.get("format") == "date-time" else f"{name}-1"
    if kind == "integer":
        low = schema.get("minimum", 0)
        exclusive = schema.get("exclusiveMinimum")
        if exclusive is True:  # OpenAPI 3.0 / draft 4 spelling
            low += 1
        elif isinstance(exclusive, int | float) and not isinstance(exclusive, bool):
            low = max(low, exclusive + 1)
        return low
    if kind == "boolean":
        return True
    if kind == "array":
        return [example(schema["items"], name, every_property)]
    if kind == "object":
        names = schema["properties"] if every_property else schema.get("required", [])
        return {key: example(schema["properties"][key], key, every_property) for key in names}
    raise AssertionError(f"the spec uses a type this generator does not know: {kind}")


def test_the_spec_has_the_38_variants_the_models_cover():
    assert S3_EVENT["discriminator"]["propertyName"] == "action"
    spec_actions = [action_of(variant) for variant in VARIANTS]
    assert len(spec_actions) == len(set(spec_actions)) == 38
    assert list(FAMILY.actions) == spec_actions


@pytest.mark.parametrize("variant", VARIANTS, ids=action_of)
@pytest.mark.parametrize("every_property", [False, True], ids=["required_only", "every_property"])
def test_an_event_generated_from_each_variant_is_accepted(variant, every_property):
    event = example(variant, "event", every_property)
    Draft202012Validator(S3_EVENT).validate(event)  # valid by the spec itself, so a refusal is ours
    [accepted], errors = SINGLE.validate([event])
    assert errors == {}
    stored = json.loads(accepted.payload)
    assert stored == event  # nothing lost, nothing added; the timestamp is already UTC `Z`


@pytest.mark.parametrize("variant", VARIANTS, ids=action_of)
def test_models_have_the_variants_fields_and_required_set(variant):
    definitions = FAMILY.adapter.json_schema(mode="validation")["$defs"].values()
    [model] = [m for m in definitions if m["properties"].get("action", {}).get("const") == action_of(variant)]
    assert set(model["properties"]) == set(variant["properties"])
    assert set(model["required"]) == set(variant["required"])


@pytest.mark.parametrize("variant", VARIANTS, ids=action_of)
def test_leaving_out_any_required_field_is_rejected_naming_it(variant):
    event = example(variant, "event", every_property=True)
    for field in variant["required"]:
        broken = {key: value for key, value in event.items() if key != field}
        assert not Draft202012Validator(S3_EVENT).is_valid(broken)
        [accepted], errors = SINGLE.validate([broken])
        assert accepted is None
        assert [violation.path for violation in errors[0]] == [field], field


@pytest.mark.parametrize("variant", VARIANTS, ids=action_of)
def test_explicit_null_is_accepted_for_every_optional_field_and_stored_as_absent(variant):
    event = example(variant, "event", every_property=True)
    optional = set(variant["properties"]) - set(variant["required"])
    with_nulls = {**event, **{field: None for field in optional}}
    [accepted], errors = SINGLE.validate([with_nulls])
    assert errors == {}
    assert json.loads(accepted.payload) == {key: value for key, value in event.items() if key not in optional}


def nested_fields(variant: dict) -> list[str]:
    return [name for name, schema in variant["properties"].items() if schema.get("type") in ("object", "array")]


@pytest.mark.parametrize("variant", [variant for variant in VARIANTS if nested_fields(variant)], ids=action_of)
def test_a_nested_object_of_the_spec_is_checked_too(variant):
    nested = nested_fields(variant)
    event = example(variant, "event", every_property=True)
    for name in nested:
        broken = copy.deepcopy(event)
        target = broken[name][0] if isinstance(broken[name], list) else broken[name]
        target.pop("objectKey")
        [accepted], errors = SINGLE.validate([broken])
        assert accepted is None
        suffix = "[0].objectKey" if isinstance(broken[name], list) else ".objectKey"
        assert [violation.path for violation in errors[0]] == [name + suffix]
