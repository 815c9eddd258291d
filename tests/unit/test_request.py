"""Body decoding and JSON parsing: caps before work, clear errors for every malformed body."""

import base64
import gzip

import pytest

from ingest.catalog import Limits
from ingest.errors import BadRequest, PayloadTooLarge
from ingest.request import Request, decode_body, parse_json

LIMITS = Limits(max_events=10, max_body_bytes=1000)


def request(body: bytes, headers: dict | None = None, encoded: bool = True) -> Request:
    event = {
        "httpMethod": "POST",
        "path": "/x",
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
        "body": base64.b64encode(body).decode() if encoded else body.decode(),
        "isBase64Encoded": encoded,
        "requestContext": {"requestId": "r-1"},
    }
    return Request.from_apigw(event)


def test_plain_and_base64_bodies_decode_to_the_same_bytes():
    assert decode_body(request(b'{"a":1}'), LIMITS) == b'{"a":1}'
    assert decode_body(request(b'{"a":1}', encoded=False), LIMITS) == b'{"a":1}'


def test_gzip_is_inflated():
    body = gzip.compress(b'{"events": []}')
    assert decode_body(request(body, {"Content-Encoding": "gzip"}), LIMITS) == b'{"events": []}'


def test_gzip_bomb_stops_at_the_cap():
    limits = Limits(max_events=10, max_body_bytes=100_000)
    bomb = gzip.compress(b" " * 50_000_000)
    assert len(bomb) < limits.max_body_bytes
    with pytest.raises(PayloadTooLarge, match="Decompressed"):
        decode_body(request(bomb, {"Content-Encoding": "gzip"}), limits)


def test_wire_body_over_the_cap_is_413_before_any_decoding():
    with pytest.raises(PayloadTooLarge, match="1001 bytes; the limit is 1000"):
        decode_body(request(b"x" * 1001), LIMITS)


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"not gzip", {"Content-Encoding": "gzip"}, "not valid gzip"),
        (gzip.compress(b'{"a": 1}')[:-6], {"Content-Encoding": "gzip"}, "truncated gzip"),
        (b"{}", {"Content-Encoding": "br"}, "Unsupported Content-Encoding 'br'"),
    ],
    ids=["not-gzip", "truncated-gzip", "brotli"],  # gzip bytes carry a timestamp: no ids from them
)
def test_bad_encodings_are_400(body, headers, message):
    with pytest.raises(BadRequest, match=message):
        decode_body(request(body, headers), LIMITS)


def test_header_names_are_case_insensitive_and_repeats_are_kept():
    req = Request.from_apigw({"multiValueHeaders": {"X-Api-KEY": ["a", "b"]}, "requestContext": {}})
    assert req.header("x-api-key") == "b"
    assert req.header_values("X-API-KEY") == ["a", "b"]


def test_trailing_commas_name_line_and_column():
    with pytest.raises(BadRequest) as caught:
        parse_json(b'{\n  "events": [\n    {"a": 1},\n  ]\n}')
    assert "line 3, column 13: trailing comma" in caught.value.message  # where the stray comma is


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body_is_400(body):
    with pytest.raises(BadRequest, match="empty"):
        parse_json(body)


def test_deep_nesting_is_a_clean_error_not_a_crash():
    with pytest.raises(BadRequest, match="Malformed JSON"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


def test_invalid_utf8_is_a_clean_error():
    with pytest.raises(BadRequest, match="Malformed JSON"):
        parse_json(b'{"a": "\xff\xfe"}')


def test_every_member_of_a_multi_member_gzip_body_is_inflated():
    # issue 11: the body was cut after its first member (`cat a.gz b.gz` is one valid gzip stream)
    body = gzip.compress(b'{"events": [') + gzip.compress(b"1, 2") + gzip.compress(b"]}") + b"\0\0"
    assert decode_body(request(body, {"Content-Encoding": "gzip"}), LIMITS) == b'{"events": [1, 2]}'


def test_the_cap_holds_across_members_and_a_bad_member_is_a_400():
    limits = Limits(max_events=10, max_body_bytes=100)
    two_halves = gzip.compress(b" " * 60) + gzip.compress(b" " * 60)
    with pytest.raises(PayloadTooLarge):
        decode_body(request(two_halves, {"Content-Encoding": "gzip"}), limits)
    with pytest.raises(BadRequest):
        decode_body(request(gzip.compress(b"[]") + b"not gzip", {"Content-Encoding": "gzip"}), limits)
    with pytest.raises(BadRequest, match="truncated"):
        decode_body(request(gzip.compress(b"[]") + gzip.compress(b"[]")[:-4], {"Content-Encoding": "gzip"}), limits)
