"""The lock tool (infra.layer_lock): parsing, merging per-platform resolutions, rendering (no pip run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import layer_lock
from infra.layer_lock import Pin

pytestmark = pytest.mark.infra

ARM, X86 = "a" * 64, "b" * 64
PURE = "c" * 64


def resolved(core_hash: str) -> dict[str, Pin]:
    return {
        "pydantic": Pin("pydantic", "2.14.3", hashes={PURE}),
        "pydantic-core": Pin("pydantic_core", "2.50.4", hashes={core_hash}),
    }


def test_merge_keeps_every_platforms_wheel_hash_and_the_extras() -> None:
    top = {"pydantic": Pin("pydantic", "2.14.3", "[email]")}
    merged = layer_lock.merge({"arm": resolved(ARM), "x86": resolved(X86)}, top)
    assert merged["pydantic-core"].hashes == {ARM, X86}
    assert merged["pydantic"].hashes == {PURE} and merged["pydantic"].extras == "[email]"


def test_merge_refuses_a_version_that_differs_by_platform() -> None:
    other = resolved(X86)
    other["pydantic-core"].version = "2.50.5"
    with pytest.raises(RuntimeError, match="pydantic_core resolves to 2.50.4 on one platform, 2.50.5"):
        layer_lock.merge({"arm": resolved(ARM), "x86": other}, {})


def test_merge_refuses_a_top_level_pin_pip_did_not_resolve() -> None:
    with pytest.raises(RuntimeError, match="orjson==3.13.0"):
        layer_lock.merge({"arm": resolved(ARM)}, {"orjson": Pin("orjson", "3.13.0")})


def test_render_then_parse_round_trips(tmp_path: Path) -> None:
    merged = layer_lock.merge({"arm": resolved(ARM), "x86": resolved(X86)}, {})
    lock = tmp_path / "requirements.lock.txt"
    lock.write_text(layer_lock.render(merged))
    parsed = layer_lock.parse_lock(lock)
    assert {k: (p.version, p.hashes) for k, p in parsed.items()} == {k: (p.version, p.hashes) for k, p in merged.items()}


def test_top_level_pins_must_be_exact(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\norjson==3.13.0  # fast JSON\naws-lambda-powertools[tracer]==3.37.0\n")
    pins = layer_lock.top_level_pins(requirements)
    assert pins["orjson"].version == "3.13.0" and pins["aws-lambda-powertools"].extras == "[tracer]"
    requirements.write_text("orjson>=3\n")
    with pytest.raises(ValueError, match=r"requirements.txt:1: 'orjson>=3' is not an exact pin"):
        layer_lock.top_level_pins(requirements)


def test_names_are_compared_normalised() -> None:
    assert layer_lock.canonical("Typing_Extensions") == layer_lock.canonical("typing-extensions") == "typing-extensions"
