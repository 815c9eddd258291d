"""Properties of the parsers and dedup keys (Hypothesis): what must hold for every input, not just the
examples the other unit tests pick. Each property is bounded (100-200 examples, no deadline) so the
whole file stays a few seconds; `@example` pins the inputs that once broke a rule."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ingest import catalog
from ingest.auth import TENANT_PATTERN, Principal
from ingest.errors import BadRequest, PayloadTooLarge
from ingest.families.datahub.family import FAMILY as DATAHUB
from ingest.families.logs import jsonparse
from ingest.families.logs.family import dedup_key as log_dedup_key
from ingest.families.ops.family import canonical_json, digest
from ingest.request import Request, decode_body
from ingest.settings import Settings
from ingest.spec import Limits
from ingest.types import Iso8601, Rfc3339

# No example database: a run leaves nothing behind in the work tree (like -p no:cacheprovider); a
# failure prints its minimal example, which belongs in an @example.
FAST = settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SORT_KEY_BYTES = 1_024  # DynamoDB's limit on a sort key


# --- strategies -----------------------------------------------------------------------------------

# Text JSON can carry both ways: lone surrogates are refused by design (not UTF-8), tested apart.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # well beyond 64 bits, both ways
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
OBJECTS = st.dictionaries(TEXT, JSON, max_size=4)


def reordered(value, rng: random.Random):
    """The same JSON value with the keys of every object in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: reordered(item, rng) for key, item in items}
    if isinstance(value, list):
        return [reordered(item, rng) for item in value]
    return value


def as_text(value, style: int) -> str:
    """JSON text of a value, in one of a few spellings (compact, indented, ASCII-escaped)."""
    return [
        lambda: json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        lambda: json.dumps(value, ensure_ascii=True, indent=2),
        lambda: json.dumps(value, ensure_ascii=False, indent="\t"),
    ][style]()


def request_of(wire_body: bytes, encoding: str = "gzip") -> Request:
    return Request("r-1", "POST", "/", {"content-encoding": [encoding]}, {}, {}, wire_body, None)


# --- decode_body ----------------------------------------------------------------------------------

LIMITS = Limits(max_body_bytes=4_096)


@FAST
@given(members=st.lists(st.binary(max_size=1_000), min_size=1, max_size=3), level=st.integers(0, 9),
       padding=st.integers(0, 3))
def test_any_bytes_gzipped_in_one_to_three_members_decode_back_exactly(members, level, padding):
    wire = b"".join(gzip.compress(member, compresslevel=level) for member in members) + b"\0" * padding
    assert decode_body(request_of(wire), Limits(max_body_bytes=3_000)) == b"".join(members)


@FAST
@given(wire=st.binary(max_size=600) | st.builds(lambda data, n: gzip.compress(data * n), st.binary(min_size=1, max_size=64),
                                                 st.integers(1, 400)),
       encoding=st.sampled_from(["gzip", "x-gzip", "identity"]))
@example(wire=gzip.compress(b"\0" * 4_097), encoding="gzip")  # one past the cap, inflated from ~30 bytes
@example(wire=gzip.compress(b"a" * 4_096) + gzip.compress(b"b"), encoding="gzip")  # the cap crossed by a 2nd member
@example(wire=gzip.compress(b"a" * 4_096) + gzip.compress(b""), encoding="gzip")  # exactly at the cap, then empty
def test_the_decoded_size_cap_holds_for_any_input(wire, encoding):
    """Whatever arrives: the decoded body within the cap, or the client's 400/413, never a crash."""
    try:
        body = decode_body(request_of(wire, encoding), LIMITS)
    except (BadRequest, PayloadTooLarge):
        return
    assert len(body) <= LIMITS.max_body_bytes


# --- the logs family's JSON parser ----------------------------------------------------------------


@FAST
@given(value=JSON, style=st.integers(0, 2))
@example(value=[2**64, -(2**63) - 1, 18446744073709551616, 1.5, -0.0], style=0)
@example(value={"n": 2**80, "f": 1e308, "s": "1" * 25}, style=1)
def test_any_json_document_round_trips_with_integers_exact(value, style):
    text = as_text(value, style)
    parsed = jsonparse.loads(text.encode())
    assert json.loads(orjson.dumps(parsed)) == json.loads(text)


@FAST
@given(value=JSON)
@example(value=[1e400])  # beyond a double: json has inf, the parser keeps the text verbatim
def test_numbers_beyond_a_double_are_kept_verbatim(value):
    text = json.dumps(value).replace("1e+400", "1e400").replace("Infinity", "1e400")
    assert json.loads(orjson.dumps(jsonparse.loads(text.encode()))) == json.loads(text)


@FAST
@given(body=st.binary(max_size=200))
@example(body=b"\xef\xbb\xbf")  # a byte order mark and nothing else
@example(body=b'"\\ud800"')  # a lone surrogate escape
@example(body=b"[" * 1_100 + b"]" * 1_100)  # deeper than orjson's 1,024 levels
@example(body=b"[" + b"1" * 5_000 + b"]")  # past CPython's 4,300-digit int() cap
@example(body=b'{"a": 1, "a": 2}')
def test_any_bytes_parse_or_are_a_bad_request_never_another_exception(body):
    try:
        parsed = jsonparse.loads(body)
    except BadRequest:
        return
    orjson.dumps(parsed)  # whatever was parsed can be written back


@FAST
@given(value=JSON, cut=st.integers(0, 10_000), bad=st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]))
def test_invalid_utf8_anywhere_is_a_bad_request(value, cut, bad):
    text = json.dumps(value, ensure_ascii=False).encode()
    cut %= len(text) + 1
    with pytest.raises(BadRequest):
        jsonparse.loads(text[:cut] + bad + text[cut:])


@FAST
@given(value=JSON, cut=st.integers(0, 10_000))
def test_malformed_json_is_a_bad_request(value, cut):
    """A document cut short, or with a stray comma inserted: malformed exactly when json says so."""
    text = json.dumps(value, ensure_ascii=False)
    cut %= len(text) + 1
    for broken in (text[:cut], text[:cut] + "," + text[cut:]):
        try:
            expected = json.loads(broken)
        except json.JSONDecodeError:
            with pytest.raises(BadRequest):
                jsonparse.loads(broken.encode())
        else:
            assert json.loads(orjson.dumps(jsonparse.loads(broken.encode()))) == expected


# --- dedup keys -----------------------------------------------------------------------------------

IDS = st.one_of(TEXT, st.integers(min_value=-(2**80), max_value=2**80), st.text(max_size=700))


def parsed(value) -> dict:
    """A log event as the family sees it: sent as JSON and read by its parser (a number beyond
    64 bits is an orjson.Fragment there, never a Python int orjson could not write)."""
    return jsonparse.loads(json.dumps(value).encode())


LOG_EVENTS = OBJECTS.map(parsed)


@FAST
@given(event=LOG_EVENTS, seed=st.integers(0, 2**32))
def test_a_log_event_with_its_keys_reordered_has_the_same_dedup_key(event, seed):
    assert log_dedup_key(reordered(event, random.Random(seed))) == log_dedup_key(event)


@FAST
@given(first=IDS, second=IDS, rest=OBJECTS)
@example(first=5, second="5", rest={})
@example(first=5, second="int:5", rest={})  # a string id spelled like a typed integer: another event
@example(first=2**70, second=f"int:{2**70}", rest={})
@example(first=int("9" * 600), second="int:" + "9" * 600, rest={})  # both past 512 bytes: hashed
def test_log_events_with_different_ids_have_different_dedup_keys(first, second, rest):
    if first == second and type(first) is type(second):
        return
    if "" in (first, second):  # an empty id is no id: the event's hash decides
        return
    rest = {key: value for key, value in rest.items() if key != "id"}
    assert log_dedup_key(parsed({**rest, "id": first})) != log_dedup_key(parsed({**rest, "id": second}))


@FAST
@given(event=OBJECTS, event_id=st.none() | IDS | st.text(min_size=400, max_size=2_000),
       request_id=st.none() | IDS | st.text(min_size=400, max_size=2_000))
@example(event={}, event_id="\U0010ffff" * 300, request_id=None)  # 4-byte characters
@example(event={}, event_id=None, request_id="é" * 1_000)
@example(event={}, event_id=int("9" * 2_000), request_id=None)
def test_a_log_dedup_key_always_fits_a_sort_key(event, event_id, request_id):
    fields = {key: value for key, value in {"id": event_id, "requestId": request_id}.items() if value is not None}
    assert len(log_dedup_key(parsed({**event, **fields})).encode("utf-8")) <= SORT_KEY_BYTES


def _usage_family():
    endpoint = catalog.get("usage_s3")
    return endpoint.impl.bind(endpoint, Settings())


USAGE = _usage_family()
USAGE_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
                     min_size=1, max_size=20)
USAGE_OPTIONALS = ("versionId", "customerId", "featureId", "clientType", "objectCategory", "fileType")
USAGE_EVENTS = st.fixed_dictionaries(
    {
        "action": st.just("GetObject"),
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
        "provider": st.just("aws"),
        "bucket": USAGE_TEXT,
        "objectKey": USAGE_TEXT,
        "bytes": st.integers(0, 2**40),
    },
    optional={name: USAGE_TEXT for name in USAGE_OPTIONALS},
)


def usage_key(event: dict) -> str:
    [accepted], errors = USAGE.validate([event])
    assert not errors, errors
    return USAGE.record(accepted, request_of(b"", "identity"), Principal("t", "PREFIX01"), "/0").dedup_key


@FAST
@given(event=USAGE_EVENTS, seed=st.integers(0, 2**32),
       unknown=st.dictionaries(st.from_regex(r"x[A-Za-z]{1,8}", fullmatch=True), JSON, max_size=3))
def test_a_usage_event_spelled_another_way_has_the_same_dedup_key(event, seed, unknown):
    """Reordered fields, unknown fields, `null` for an optional left out: one event, one key."""
    rng = random.Random(seed)
    absent = {name: None for name in USAGE_OPTIONALS if name not in event and rng.random() < 0.5}
    respelled = reordered({**event, **unknown, **absent}, rng)
    assert usage_key(respelled) == usage_key(event)


@FAST
@given(document=OBJECTS.map(lambda value: orjson.loads(json.dumps(value))), seed=st.integers(0, 2**32))
def test_an_ops_digest_does_not_depend_on_key_order(document, seed):
    """Ops documents are what orjson parsed (request.parse_json), in any key order."""
    again = reordered(document, random.Random(seed))
    assert canonical_json(again) == canonical_json(document)
    assert digest(again) == digest(document)


TENANTS = st.from_regex(TENANT_PATTERN, fullmatch=True)
ORIGINS = st.builds(lambda body, index: f"{body.hex()}/{index}", st.binary(min_size=32, max_size=32), st.integers(0, 499))


def datahub_id(tenant: str, origin: str) -> str:
    [model], errors = DATAHUB.validate([{"provider": "Datadog", "time": "2024-03-10T23:00:00Z"}])
    assert not errors
    return DATAHUB.record(model, request_of(b"", "identity"), Principal(tenant, "PREFIX01"), origin).dedup_key


@FAST
@given(tenant=TENANTS, other=TENANTS, origin=ORIGINS, other_origin=ORIGINS)
def test_datahub_derived_ids_follow_tenant_and_origin(tenant, other, origin, other_origin):
    assert datahub_id(tenant, origin) == datahub_id(tenant, origin)
    if other != tenant:
        assert datahub_id(other, origin) != datahub_id(tenant, origin)
    if other_origin != origin:
        assert datahub_id(tenant, other_origin) != datahub_id(tenant, origin)


# --- date-time types ------------------------------------------------------------------------------

RFC3339 = TypeAdapter(Rfc3339)
ISO8601 = TypeAdapter(Iso8601)
DIGITS = st.sampled_from("0123456789")


def numeral(width: int):
    return st.lists(DIGITS, min_size=width, max_size=width).map("".join)


# Strings shaped like date-times (every field any digits, edge years and offsets), and any text at all.
DATE_TIMES = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, zone: f"{y}-{mo}-{d}{sep}{h}:{mi}{s}{frac}{zone}",
    st.sampled_from(["0000", "0001", "9999", "2024", "1970"]) | numeral(4), numeral(2), numeral(2),
    st.sampled_from(["T", "t", " "]), numeral(2), numeral(2),
    st.sampled_from(["", ":00", ":59", ":60"]) | numeral(2).map(":".__add__),
    st.sampled_from(["", ".5", ",25", ".123456789"]),
    st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "+08", "+0530", "+99:99"])
    | st.builds(lambda sign, hh, mm: f"{sign}{hh}:{mm}", st.sampled_from("+-"), numeral(2), numeral(2)),
)


def check_utc(adapter: TypeAdapter, text: str) -> None:
    try:
        moment = adapter.validate_python(text)
    except ValidationError:
        return
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
    assert 1 <= moment.year <= 9999
    adapter.dump_json(moment)


@FAST
@given(text=DATE_TIMES | st.text(max_size=40) | st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.*", fullmatch=True))
@example(text="0001-01-01T00:00:00+01:00")  # year 0 in UTC: was an OverflowError (a 500)
@example(text="9999-12-31T23:59:59-01:00")  # year 10000 in UTC
@example(text="\u0662\u0660\u0662\u0664-03-10T23:00:00Z")  # Arabic-Indic digits
def test_rfc3339_is_an_aware_utc_datetime_or_a_validation_error(text):
    check_utc(RFC3339, text)


@FAST
@given(text=DATE_TIMES | st.text(max_size=40) | st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}.*", fullmatch=True))
@example(text="0001-01-01T00:00+01")
@example(text="9999-12-31T23:59:59.999999-23:59")
@example(text="\u0662\u0660\u0662\u0664-03-01T12:00:00Z")  # Arabic-Indic digits
def test_iso8601_is_an_aware_utc_datetime_or_a_validation_error(text):
    check_utc(ISO8601, text)


@pytest.mark.parametrize("adapter", [ISO8601, RFC3339], ids=["iso8601", "rfc3339"])
def test_date_times_take_only_ascii_digits(adapter):
    """`\\d` matches any Unicode digit and int() reads them: Iso8601 took "٢٠٢٤-03-01T12:00:00Z" as
    2024 (seen while writing the properties above). ISO 8601 and RFC 3339 mean 0-9."""
    for text in ("\u0662\u0660\u0662\u0664-03-01T12:00:00Z", "2024-03-01T12:00:00+\u0660\u0668:00",
                 "2024-03-01T1\u0662:00:00Z"):
        with pytest.raises(ValidationError):
            adapter.validate_python(text)
