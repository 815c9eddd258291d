"""Signed query cursors (ingest.cursor): what opens, and everything that must not."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.cursor import MAX_CURSOR_CHARS, CursorCodec, CursorInvalid

SECRET = b"s" * 48
STATE = {"q": {"given": {"eventType": "CUSTOM_INFO"}, "from": 1, "to": 2}, "p": [2, "CUSTOM_INFO", "info#5"]}


def codec(secret: bytes = SECRET, tenant: str = "acme", route: str = "query_ops_events") -> CursorCodec:
    return CursorCodec(secret, tenant=tenant, route=route)


def test_a_sealed_cursor_opens_to_its_state_and_is_url_safe():
    token = codec().seal(STATE)
    assert codec().open(token) == STATE
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("other", [codec(tenant="other"), codec(route="another_route"), codec(secret=b"t" * 48)])
def test_a_cursor_opens_only_for_its_tenant_route_and_secret(other):
    with pytest.raises(CursorInvalid):
        other.open(codec().seal(STATE))


@given(position=st.integers(min_value=0, max_value=10_000), replacement=st.sampled_from("AQgw-_"))
def test_any_changed_character_is_refused(position, replacement):
    token = codec().seal(STATE)
    position %= len(token)
    changed = token[:position] + replacement + token[position + 1:]
    if changed == token:
        return
    with pytest.raises(CursorInvalid):
        codec().open(changed)


def test_a_forged_state_with_a_made_up_mac_is_refused():
    body = b'{"q":{"given":{},"from":0,"to":9},"p":[0,"x","y"]}'
    forged = base64.urlsafe_b64encode(body + b"\0" * 32).decode().rstrip("=")
    with pytest.raises(CursorInvalid):
        codec().open(forged)


@pytest.mark.parametrize("token", ["", "x", "%%%", "A" * (MAX_CURSOR_CHARS + 1), "AAAA====", "bm90IGEgY3Vyc29y"])
def test_garbage_is_refused_not_an_error(token):
    with pytest.raises(CursorInvalid):
        codec().open(token)


def test_a_padded_spelling_of_a_valid_cursor_is_not_the_cursor():
    token = codec().seal(STATE)
    with pytest.raises(CursorInvalid):
        codec().open(token + "=" * (-len(token) % 4 or 4))


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        CursorCodec(b"short", tenant="acme", route="r")
