"""What the keyless invalid-key report keeps of a key: its SHA-256 and prefix, wherever it sits."""

from __future__ import annotations

import pytest

from ingest import catalog
from ingest.auth import hash_key
from ingest.families.usage.telemetry import key_digest, redacted
from ingest.settings import Settings

KEY = "ABCDEFGH." + "Zm9v" * 12
BARE = "Zm9v" * 12


def test_a_key_under_a_secret_field_becomes_its_digest_at_any_depth_and_in_lists():
    report = {"apiKey": KEY, "auth": {"Token": BARE}, "keys": [KEY, BARE], "count": 3, "ok": True, "none": None}
    assert redacted(report) == {
        "apiKey": {"sha256": hash_key(KEY), "prefix": "ABCDEFGH"},
        "auth": {"Token": {"sha256": hash_key(BARE)}},
        "keys": [{"sha256": hash_key(KEY), "prefix": "ABCDEFGH"}, {"sha256": hash_key(BARE)}],
        "count": 3, "ok": True, "none": None,
    }


def test_a_key_quoted_in_free_text_or_a_field_name_is_replaced_in_place():
    out = redacted({"message": f"key {KEY} was refused", KEY: "x", "short": "abc.def"})
    assert out == {
        "message": f"key [key sha256:{hash_key(KEY)} prefix:ABCDEFGH] was refused",
        f"[key sha256:{hash_key(KEY)} prefix:ABCDEFGH]": "x",
        "short": "abc.def",  # nothing key-shaped: kept as sent
    }
    assert KEY not in str(out) and BARE not in str(out)


def test_the_digest_is_the_keys_table_hash_so_an_operator_can_tell_whose_key_it_was():
    assert key_digest(KEY) == {"sha256": hash_key(KEY), "prefix": "ABCDEFGH"}
    assert key_digest("not ascii: é") == {"sha256": key_digest("not ascii: é")["sha256"]}


def test_the_telemetry_routes_declare_their_caps_retention_and_streams():
    routes = {route.name: route for route in catalog.ENDPOINTS if route.telemetry_stream}
    assert sorted(route.path for route in routes.values()) == [
        "/telemetry/extractionIssues", "/telemetry/invalidApiKey", "/telemetry/lifecycle",
        "/telemetry/metricsIncremental"]
    keyless = [route for route in routes.values() if route.keyless]
    assert [route.path for route in keyless] == ["/telemetry/invalidApiKey"]
    assert keyless[0].public and keyless[0].auth is None and keyless[0].edge_throttle
    for route in routes.values():
        assert route.method == "POST" and route.limits.max_events == 1
        assert route.limits.max_body_bytes <= 64 * 1024
        assert route.retention_days * 86_400 < Settings().retention_seconds("usage")
        assert route.telemetry_stream == "telemetry." + route.path.rsplit("/", 1)[1]


@pytest.mark.parametrize("route", [r for r in catalog.ENDPOINTS if r.telemetry_stream and not r.keyless],
                         ids=lambda r: r.name)
def test_a_keyed_telemetry_route_keeps_its_key(route):
    assert not route.public and route.auth.header == "X-API-Key"
