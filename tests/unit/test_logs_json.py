"""Log events' JSON: exact numbers, exact Unicode, and a clean 400 for every malformed body."""

from __future__ import annotations

import json
import random

import orjson
import pytest

from ingest.errors import BadRequest
from ingest.families.logs import jsonparse as logs_json
from ingest.families.logs.jsonparse import loads


def compact(document: object) -> bytes:
    return orjson.dumps(document)


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "18446744073709551615",  # u64 max: orjson holds it
        "18446744073709551616",  # one more: orjson alone would make it 1.8446744073709552e+19
        "-9223372036854775808",  # i64 min
        "-9223372036854775809",  # one less: orjson alone would make it a float
        "123456789012345678901234567890123456789",
        "-" + "9" * 5000,  # beyond CPython's 4,300-digit int parsing limit
        "1e400",  # beyond a double: orjson alone refuses the whole body
        "-1.5E+999",
    ],
)
def test_numbers_orjson_cannot_hold_round_trip_digit_for_digit(number):
    body = f'[{{"n": {number}, "in_string": "{number}"}}]'.encode()
    assert compact(loads(body)) == f'[{{"n":{number},"in_string":"{number}"}}]'.encode()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("0.1", "0.1"),
        ("3.141592653589793", "3.141592653589793"),
        ("-0.0", "-0.0"),
        ("1E2", "100.0"),  # a double: the same value, in its shortest exact form
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("9007199254740993", "9007199254740993"),  # above 2**53: still exact, it is an integer
    ],
)
def test_doubles_keep_their_exact_value(sent, stored):
    assert compact(loads(f"[{sent}]".encode())) == f"[{stored}]".encode()
    assert float(stored) == float(sent)


def test_every_double_a_client_can_send_comes_back_identical():
    rng = random.Random(20240310)
    values = [rng.uniform(-1e6, 1e6) for _ in range(2000)] + [rng.random() * 10 ** rng.randint(-300, 300) for _ in range(2000)]
    body = json.dumps([{"v": value} for value in values]).encode()
    assert [event["v"] for event in loads(body)] == values
    assert compact(loads(body)) == compact(orjson.loads(body))


@pytest.mark.parametrize(
    ("body", "exact_path"),
    [
        (b"[12345678901234567890]", True),
        (b"[-1234567890123456789]", True),
        (b'{"a":\n  12345678901234567890}', True),
        (b"12345678901234567890", True),
        (b"[1234567890123456789]", False),  # 19 digits: orjson holds every one
        (b'["12345678901234567890", "a12345678901234567890"]', False),  # digits in strings after a quote or letter
        (b"[0.123456789012345678901234]", False),  # a fraction is a double either way
        (orjson.dumps([{"timestamp": 1_700_000_000_000, "traceId": "01234567890123456789012345678901"}]), False),
        (b'["id 12345678901234567890"]', True),  # a false alarm costs time, never correctness
    ],
)
def test_the_exact_path_is_taken_only_when_a_number_may_need_it(body, exact_path):
    assert logs_json._may_hold_wide_integers(body) is exact_path
    assert compact(loads(body)) == compact(json.loads(body))


@pytest.mark.parametrize("body", [b'[{"a": 1, 123456789012345678901234: 2}]', b"[{123456789012345678901234: 1}]"])
def test_a_number_used_as_a_key_is_refused_not_quietly_turned_into_a_string(body):
    with pytest.raises(BadRequest, match="key"):
        loads(body)


def test_a_string_that_looks_like_a_placeholder_stays_a_string():
    body = '[{"a": "\ue000deadbeefdeadbeef:0", "b": 123456789012345678901234}]'.encode()
    assert loads(body)[0]["a"] == "\ue000deadbeefdeadbeef:0"


# --- text ---------------------------------------------------------------------------------------


def test_unicode_and_escapes_round_trip_exactly():
    body = '[{"t": "été 🚀 \\u00e9 \\ud83d\\ude80 \\"q\\" \\\\ \\n \\u2028 日本語"}]'.encode()
    assert loads(body)[0]["t"] == 'été 🚀 é 🚀 "q" \\ \n \u2028 日本語'
    assert orjson.loads(compact(loads(body))) == loads(body)


def test_duplicate_keys_the_last_one_wins_as_in_json_parse():
    assert loads(b'[{"level": "info", "level": "error", "n": 1}]') == [{"level": "error", "n": 1}]
    assert loads(b'[{"level": "info", "level": 123456789012345678901234}]')[0]["level"] is not None


def test_a_leading_byte_order_mark_is_ignored():
    assert loads(b'\xef\xbb\xbf[{"a": 1}]') == [{"a": 1}]


# --- malformed bodies: a clean 400 that says where ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b" \n\t ", "empty"),
        (b'[{"message": "caf\xe9"}]', r"not valid UTF-8 \(byte 17\)"),
        (b'[{"message": "\xed\xa0\x80"}]', r"not valid UTF-8 \(byte 14\)"),
        (b'[{"n": 123456789012345678901234, "m": "\xff"}]', r"not valid UTF-8 \(byte 39\)"),
        (b'[\n  {"a": 1},\n]', "line 2, column 11: trailing comma"),
        (b"[NaN]", "line 1, column 2"),
        (b'["\\ud800"]', "surrogate"),
        (b'{"a": 99999999999999999999999, "b": [1,,2]}', "line 1, column 40"),  # position in the body as sent
        (b'{"a": 1e999,\n  "b": x}', "line 2, column 8"),
    ],
)
def test_malformed_bodies_are_400_naming_the_place(body, message):
    with pytest.raises(BadRequest, match=message):
        loads(body)


@pytest.mark.parametrize("prefix", [b"", b"[123456789012345678901234567890, "], ids=["fast path", "exact path"])
@pytest.mark.parametrize("depth", [1025, 100_000])
def test_deep_nesting_is_a_clean_400_on_both_paths(prefix, depth):
    body = prefix + b"[" * depth + b"]" * depth + (b"]" if prefix else b"")
    with pytest.raises(BadRequest, match="deeper than 1024 levels"):
        loads(body)


def test_1024_levels_parse_on_both_paths():
    nested = b"[" * 1023 + b"1" + b"]" * 1023
    assert len(loads(b"[" + nested + b"]")) == 1
    wide = loads(b"[123456789012345678901234567890, " + nested + b"]")
    assert compact(wide[0]) == b"123456789012345678901234567890"
    depth, inner = 1, wide[1]
    while inner != 1:
        depth, inner = depth + 1, inner[0]
    assert depth == 1024  # the outer array, then 1,023 levels down to the 1


def test_an_unclosed_string_of_escaped_quotes_cannot_make_the_exact_path_quadratic():
    # 2 MB of `\"` never closed, on the exact path (1e400 sends it there): read once, then a 400.
    body = b'[1e400, "' + b'\\"' * 1_000_000 + b"]"
    with pytest.raises(BadRequest, match="line 1, column 2000011: unexpected end of data"):
        loads(body)
