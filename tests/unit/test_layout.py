"""The storage layout (ingest.layout): items, shards, expiry, windows and reject objects, exactly as stored.

The expected values are written out literally on purpose: they are what is in DynamoDB and S3
today, so a change to the layout shows up here as a changed byte, not as a passing round trip.
"""

from __future__ import annotations

import ast
import base64
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ingest import layout
from ingest.errors import Violation
from ingest.family import Record
from ingest.layout import REJECTS, REPLAYED, ItemKey, Partitions, RejectKey, StoredEvent
from ingest.request import Request

RECEIVED = datetime(2024, 3, 10, 23, 0, 1, 234567, tzinfo=UTC)
NOW_S = int(RECEIVED.timestamp())  # 1710111601
KEY = "rejects/tenant=acme/endpoint=cost_events/date=2024-03-10/req-1.json"


def record(**changes) -> Record:
    fields = {"stream": "Datadog", "dedup_key": "evt-1", "event_time_ms": 1_708_689_600_000,
              "payload": b'{"id":"evt-1","metrics":[{"value":1}]}', "attributes": {"service": "s3"}}
    return Record(**{**fields, **changes})


def items(**changes) -> layout.EventItems:
    facts = {"tenant": "acme", "family": "cost", "endpoint": "cost_events", "request_id": "req-1",
             "received_at": RECEIVED, "expires_at": layout.expires_at(NOW_S, 30 * 86_400)}
    return layout.EventItems(**{**facts, **changes})


def request(headers: dict[str, list[str]] | None = None) -> Request:
    return Request(
        request_id="req-1", method="POST", path="/v1/cost", path_parameters={"dataset": "d"}, query={},
        headers=headers if headers is not None else {
            "content-type": ["application/json"], "authorization": ["Bearer secret"], "user-agent": ["a", "b"],
        },
        wire_body=b"{}", received_at=RECEIVED,
    )


# --- keys, partitions, shards ------------------------------------------------------------------------


def test_an_item_key_is_pk_and_sk_in_wire_format_and_reads_back_from_an_item():
    key = ItemKey("acme#cost#Datadog", "evt-1")
    assert key.wire() == {"pk": {"S": "acme#cost#Datadog"}, "sk": {"S": "evt-1"}}
    assert ItemKey.of({**key.wire(), "payload": {"B": b"{}"}}) == key


def test_one_shard_is_the_bare_stream_partition():
    partitions = Partitions("acme", "cost")
    assert partitions.key("Datadog", "evt-1") == ItemKey("acme#cost#Datadog", "evt-1")
    assert partitions.of("Datadog") == ["acme#cost#Datadog"]


def test_shards_come_from_the_crc32_of_the_dedup_key_and_never_move():
    partitions = Partitions("acme", "cost", shards=4)
    # Pinned: crc32("evt-1") = 4222118457 → shard 1; crc32("evt-2") = 1654733699 → shard 3.
    assert partitions.key("Datadog", "evt-1") == ItemKey("acme#cost#Datadog#1", "evt-1")
    assert partitions.key("Datadog", "evt-2") == ItemKey("acme#cost#Datadog#3", "evt-2")
    assert layout.shard_of("evt-1", 4) == zlib.crc32(b"evt-1") % 4 == 1
    # The same dedup key lands on the same shard every time, from any reader or writer.
    assert {Partitions("acme", "cost", 4).key("Datadog", "abc").pk for _ in range(5)} == {"acme#cost#Datadog#2"}
    assert partitions.of("Datadog") == [f"acme#cost#Datadog#{shard}" for shard in range(4)]


def test_every_sharded_key_is_in_one_of_its_streams_partitions_and_all_shards_get_used():
    partitions = Partitions("acme", "cost", shards=3)
    used = {partitions.key("s", f"key-{n}").pk for n in range(200)}
    assert used == set(partitions.of("s"))


def test_tenants_and_families_never_share_a_partition():
    assert Partitions("acme", "cost").key("s", "k") != Partitions("acme2", "cost").key("s", "k")
    assert Partitions("acme", "cost").of("s") != Partitions("acme", "costs").of("s")


# --- event items ------------------------------------------------------------------------------------


def test_an_event_item_is_exactly_what_is_stored():
    item = items().item(Partitions("acme", "cost").key("Datadog", "evt-1"), record())
    assert item == {
        "pk": {"S": "acme#cost#Datadog"},
        "sk": {"S": "evt-1"},
        "tenant": {"S": "acme"},
        "family": {"S": "cost"},
        "stream": {"S": "Datadog"},
        "endpoint": {"S": "cost_events"},
        "event_time": {"N": "1708689600000"},
        "received_at": {"S": "2024-03-10T23:00:01.234567Z"},
        "request_id": {"S": "req-1"},
        "payload": {"B": b'{"id":"evt-1","metrics":[{"value":1}]}'},
        "expires_at": {"N": "1712703601"},
        "service": {"S": "s3"},
    }
    assert list(item)[:11] == ["pk", "sk", "tenant", "family", "stream", "endpoint", "event_time", "received_at",
                               "request_id", "payload", "expires_at"]


def test_an_event_item_reads_back_as_the_event_it_was_built_from():
    built = record(attributes={"service": "s3", "namespace": "n"})
    item = items().item(ItemKey("acme#cost#Datadog", built.dedup_key), built)
    stored = StoredEvent.of(item)
    assert stored == StoredEvent(
        tenant="acme", family="cost", stream="Datadog", id="evt-1", event_time_ms=1_708_689_600_000,
        received_at="2024-03-10T23:00:01.234567Z", request_id="req-1", endpoint="cost_events",
        payload=built.payload, attributes={"service": "s3", "namespace": "n"},
        expires_at=1_712_703_601,
    )
    assert stored.document() == {"id": "evt-1", "metrics": [{"value": 1}]}
    assert stored.event_time == "2024-02-23T12:00:00.000Z"
    assert orjson.loads(orjson.dumps(stored.as_dict())) == {
        "tenant": "acme", "family": "cost", "stream": "Datadog", "id": "evt-1", "event_time": "2024-02-23T12:00:00.000Z",
        "received_at": "2024-03-10T23:00:01.234567Z", "request_id": "req-1", "endpoint": "cost_events",
        "attributes": {"service": "s3", "namespace": "n"}, "event": {"id": "evt-1", "metrics": [{"value": 1}]},
    }


def test_a_stored_event_is_its_payload_bytes_verbatim_never_reparsed():
    # issue 11 item 6: orjson.loads in StoredEvent.of failed on 1e400 and made 2**70+1 a float
    exact = b'{"id":"n","huge":1e400,"big":1180591620717411303425,"tenth":0.1}'
    item = items().item(ItemKey("p", "n"), record(payload=exact))
    stored = StoredEvent.of(item)
    assert stored.payload == exact
    assert orjson.dumps({"event": stored.event}) == b'{"event":' + exact + b"}"
    assert exact in orjson.dumps(stored.as_dict())


def test_the_core_attributes_are_the_event_items_own_and_never_a_family_attribute():
    item = items().item(ItemKey("p", "s"), record(attributes={}))
    assert set(item) == layout.CORE_ATTRIBUTES
    # A non-string attribute a family did not add (e.g. a window's numbers) is not read as one either.
    assert StoredEvent.of({**item, "refreshes": {"N": "2"}}).attributes == {}


def test_an_item_without_the_optional_bookkeeping_still_reads_back():
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "tenant": {"S": "t"}, "family": {"S": "f"}, "stream": {"S": "x"},
            "event_time": {"N": "5"}}
    stored = StoredEvent.of(item)
    assert (stored.received_at, stored.request_id, stored.endpoint, stored.payload, stored.expires_at) == (
        "", "", "", None, None)


def test_times_are_formatted_as_stored():
    assert layout.iso_utc(RECEIVED) == "2024-03-10T23:00:01.234567Z"
    assert layout.iso_ms(1_708_689_600_123) == "2024-02-23T12:00:00.123Z"
    assert layout.event_time_of({"event_time": {"N": "42"}}) == 42


# --- expiry -----------------------------------------------------------------------------------------


def test_expiry_is_the_moment_plus_the_retention():
    assert layout.expires_at(NOW_S, 86_400) == NOW_S + 86_400
    assert items(expires_at=layout.expires_at(NOW_S, 7 * 86_400)).item(ItemKey("p", "s"), record())["expires_at"] == {
        "N": str(NOW_S + 7 * 86_400)}


@pytest.mark.parametrize(("expires", "live"), [(NOW_S + 1, True), (NOW_S, False), (NOW_S - 1, False), (0, False)])
def test_an_item_is_live_only_while_its_expiry_is_after_now(expires, live):
    # DynamoDB deletes expired items up to ~48 h late: an item still there at its expiry is gone to us.
    assert layout.is_live({"pk": {"S": "p"}, "sk": {"S": "s"}, "expires_at": {"N": str(expires)}}, NOW_S) is live


def test_an_item_without_an_expiry_is_live_as_the_write_conditions_see_it():
    # keep_first / newer_wins: `expires_at <= :now` is false for a missing attribute, so it blocks
    assert layout.is_live({"pk": {"S": "p"}, "sk": {"S": "s"}}, NOW_S) is True


def test_the_liveness_lookup_projects_what_the_rule_reads():
    item = items().item(ItemKey("p", "s"), record())
    projected = {name: item[name] for name in layout.LIVENESS_PROJECTION.split(", ")}
    assert ItemKey.of(projected) == ItemKey("p", "s") and layout.is_live(projected, NOW_S)
    assert layout.EVENT_TIME_PROJECTION.split(", ") == ["pk", "sk", layout.EVENT_TIME]


# --- reads ------------------------------------------------------------------------------------------


def test_partition_queries_by_event_time_and_by_dedup_key_prefix():
    assert layout.partition_query("p") == {
        "IndexName": "by_event_time", "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "p"}},
    }
    assert layout.partition_query("p", start_ms=5) == {
        "IndexName": "by_event_time",
        "KeyConditionExpression": "pk = :pk AND event_time BETWEEN :start AND :end",
        "ExpressionAttributeValues": {":pk": {"S": "p"}, ":start": {"N": "5"}, ":end": {"N": "253402300799999"}},
    }
    assert layout.partition_query("p", end_ms=9)["ExpressionAttributeValues"][":start"] == {"N": "-62135596800000"}
    assert layout.partition_query("p", sk_prefix="info#") == {
        "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": "p"}, ":prefix": {"S": "info#"}},
    }


def test_the_owner_filter_names_the_tenant_and_the_family():
    assert layout.owner_filter("acme") == {"FilterExpression": "tenant = :tenant",
                                           "ExpressionAttributeValues": {":tenant": {"S": "acme"}}}
    assert layout.owner_filter("acme", "cost") == {
        "FilterExpression": "tenant = :tenant AND #family = :family",
        "ExpressionAttributeValues": {":tenant": {"S": "acme"}, ":family": {"S": "cost"}},
        "ExpressionAttributeNames": {"#family": "family"},
    }


# --- keyed windows ----------------------------------------------------------------------------------


def window(**changes) -> layout.Window:
    arguments = {"id_attribute": "window_id", "new_id": "0123456789abcdef", "now_ms": 1_000_000,
                 "open_until_ms": 1_900_999, "retention_seconds": 100, "request_id": "req-1",
                 "attributes": {"kind": "w"}}
    return layout.window("acme", "fam", "win", "digest", **{**arguments, **changes})


def test_a_window_is_keyed_by_its_own_unsharded_stream_and_expires_a_retention_after_it_closes():
    opened = window()
    assert opened.key == ItemKey("acme#fam#win", "digest")
    assert opened.expires_at == 1_900 + 100  # open_until in seconds, plus the retention
    assert opened.opening() == {
        "Item": {
            "pk": {"S": "acme#fam#win"},
            "sk": {"S": "digest"},
            "tenant": {"S": "acme"},
            "family": {"S": "fam"},
            "stream": {"S": "win"},
            "kind": {"S": "w"},
            "request_id": {"S": "req-1"},
            "window_id": {"S": "0123456789abcdef"},
            "opened_at": {"N": "1000000"},
            "event_time": {"N": "1000000"},
            "open_until": {"N": "1900999"},
            "refreshed_at": {"N": "1000000"},
            "refreshes": {"N": "0"},
            "expires_at": {"N": "2000"},
        },
        "ConditionExpression": "attribute_not_exists(pk) OR open_until <= :now",
        "ExpressionAttributeValues": {":now": {"N": "1000000"}},
    }
    assert list(opened.opening()["Item"])[2:7] == ["tenant", "family", "stream", "kind", "request_id"]


def test_a_window_refresh_extends_an_open_window_and_keeps_its_id():
    refresh = window().refresh()
    assert refresh == {
        "Key": {"pk": {"S": "acme#fam#win"}, "sk": {"S": "digest"}},
        "UpdateExpression": "SET open_until = :until, refreshed_at = :now, expires_at = :expires ADD refreshes :one",
        # Only ever longer (issue 11: a delayed or replayed event shrank or closed a live window)
        "ConditionExpression": "open_until > :now AND open_until < :until",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        "ExpressionAttributeValues": {":until": {"N": "1900999"}, ":now": {"N": "1000000"}, ":expires": {"N": "2000"},
                                      ":one": {"N": "1"}},
        "ReturnValues": "ALL_NEW",
    }
    assert window().id_of(window().opening()["Item"]) == "0123456789abcdef"


def test_a_window_open_longer_already_is_kept_as_it_is():
    stored = window().opening()["Item"]
    longer = {**stored, "open_until": {"N": "1900999"}}
    assert window().is_open_past(longer)
    assert not window().is_open_past({**stored, "open_until": {"N": "1900998"}})  # shorter: extend it
    assert not window().is_open_past({**stored, "open_until": {"N": "1000000"}})  # closed at now: a new one
    assert not window().is_open_past(None)


def test_a_window_is_not_an_event():
    item = window().opening()["Item"]
    assert not layout.is_event(item)
    assert layout.is_event(items().item(ItemKey("p", "s"), record()))


# --- reject objects ---------------------------------------------------------------------------------


def test_a_reject_key_is_built_from_the_request_and_parses_back_in_both_areas():
    key = RejectKey.of("acme", "cost_events", RECEIVED, "req-1")
    assert key.json_key == KEY
    assert key.body_key == "rejects/tenant=acme/endpoint=cost_events/date=2024-03-10/req-1.body"
    assert key.stem == KEY.removesuffix(".json")
    assert RejectKey.parse(key.json_key) == key
    archived = key.moved(REPLAYED)
    assert archived.json_key == KEY.replace("rejects/", "replayed/", 1)
    assert archived.body_key == "replayed/tenant=acme/endpoint=cost_events/date=2024-03-10/req-1.body"
    assert RejectKey.parse(archived.json_key) == archived and archived.area == REPLAYED
    assert archived.live_key == key.live_key == KEY
    assert RejectKey.of("acme", "e", RECEIVED, "r", area=REPLAYED).area == REPLAYED


def test_reject_keys_parse_and_move_between_areas():  # moved here from test_replay_lines.py, as it was
    key_text = "rejects/tenant=acme/endpoint=datahub_events/date=2024-03-10/req-1.json"
    key = RejectKey.parse(key_text)
    assert (key.area, key.tenant, key.endpoint, key.day, key.name) == (REJECTS, "acme", "datahub_events",
                                                                      "2024-03-10", "req-1")
    assert key.moved(REPLAYED).json_key == key_text.replace("rejects/", "replayed/", 1)
    assert RejectKey.parse(key_text.replace(".json", ".body")) is None


@pytest.mark.parametrize("key", [
    KEY.replace(".json", ".body"),  # the body is found from its metadata, never listed as a reject
    KEY.replace("rejects/", "archive/", 1),
    KEY.replace("2024-03-10", "2024-3-10"),
    KEY.replace("tenant=acme/", ""),
    "rejects/" + KEY,
    "somewhere/else.json",
])
def test_anything_else_is_not_a_reject_key(key):
    assert RejectKey.parse(key) is None


def test_a_reject_is_named_by_its_content_so_a_retry_names_the_same_one():
    name = layout.reject_name("acme", "usage_s3_batch", "POST", "/s3/batch", b"[1]")
    assert len(name) == 32 and name == layout.reject_name("acme", "usage_s3_batch", "POST", "/s3/batch", b"[1]")
    others = {layout.reject_name("acme", "usage_s3_batch", "POST", "/s3/batch", b"[2]"),
              layout.reject_name("other", "usage_s3_batch", "POST", "/s3/batch", b"[1]"),
              layout.reject_name("acme", "usage_s3", "POST", "/s3/batch", b"[1]"),
              layout.reject_name("acme", "usage_s3_batch", "POST", "/v1/elsewhere", b"[1]"),
              layout.reject_name("acme", "usage_s3_batch", "POST", "/s3/batch", b"[1]", replay_of=KEY),
              layout.reject_name("acme", "usage_s3_batc", "hPOST", "/s3/batch", b"[1]")}  # fields cannot slide
    assert name not in others and len(others) == 6


def test_a_request_pointer_names_its_reject_and_is_never_a_reject_key():
    key = RejectKey.of("acme", "cost_events", RECEIVED, "0123abcd")
    pointer, data, _ = layout.request_pointer(key, "req-9")
    assert pointer == "rejects/tenant=acme/endpoint=cost_events/date=2024-03-10/req-9.request"
    assert RejectKey.parse(data.decode()) == key and RejectKey.parse(pointer) is None
    assert layout.pointed_request(pointer) == "req-9" and layout.pointed_request(key.json_key) is None


def test_listing_prefixes_narrow_by_tenant_then_endpoint():
    assert layout.reject_search_prefix() == "rejects/"
    assert layout.reject_search_prefix(REPLAYED, "acme") == "replayed/tenant=acme/"
    assert layout.reject_search_prefix(REJECTS, "acme", "cost_events") == "rejects/tenant=acme/endpoint=cost_events/"
    assert layout.reject_search_prefix(REJECTS, None, "cost_events") == "rejects/"  # an endpoint needs its tenant
    assert KEY.startswith(layout.reject_search_prefix(REJECTS, "acme", "cost_events"))


def meta() -> dict:
    violations = [Violation(0, "time", "time is required"), Violation(None, "", "bad")]
    return layout.reject_meta(RejectKey.of("acme", "cost_events", RECEIVED, "req-1"), request(), family="cost",
                              violations=violations, kept_headers=("content-type", "content-encoding", "user-agent"))


def test_reject_metadata_keeps_only_the_kept_headers_in_a_fixed_order():
    assert meta() == {
        "request_id": "req-1",
        "tenant": "acme",
        "endpoint": "cost_events",
        "family": "cost",
        "method": "POST",
        "path": "/v1/cost",
        "path_parameters": {"dataset": "d"},
        "headers": {"content-type": "application/json", "user-agent": "b"},  # the last value; never authorization
        "received_at": "2024-03-10T23:00:01.234567Z",
        "errors": [{"index": 0, "path": "time", "message": "time is required"},
                   {"index": None, "path": "", "message": "bad"}],
    }
    assert list(meta()) == ["request_id", "tenant", "endpoint", "family", "method", "path", "path_parameters",
                            "headers", "received_at", "errors"]


def test_a_whole_request_reject_is_the_body_byte_for_byte_and_metadata_naming_it():
    key = RejectKey.of("acme", "cost_events", RECEIVED, "req-1")
    body = b'\x1f\x8b not even json'
    objects = layout.body_reject(key, meta(), body)
    assert [(name, content_type) for name, _, content_type in objects] == [
        (key.body_key, "application/octet-stream"), (key.json_key, "application/json"),
        (key.stem.rsplit("/", 1)[0] + "/req-1.request", "text/plain; charset=utf-8")]
    assert objects[2][1] == key.json_key.encode()  # the request's pointer names the reject
    assert objects[0][1] is body
    assert objects[1][1] == orjson.dumps({**meta(), "body_key": key.body_key})
    assert objects[1][1].startswith(b'{"request_id":"req-1","tenant":"acme","endpoint":"cost_events","family":"cost"')


def test_a_partial_reject_keeps_only_the_rejected_events_as_the_bytes_sent_with_their_errors():
    key = RejectKey.of("acme", "cost_events", RECEIVED, "req-1")
    body = b'[ {"a":1}, {"a" :  "kept as sent",\n "b": "\\u00e9"} ,[1, "x"] ]'
    second, third = b'{"a" :  "kept as sent",\n "b": "\\u00e9"}', b'[1, "x"]'
    slices = {1: (body.index(second), body.index(second) + len(second)),
              2: (body.index(third), body.index(third) + len(third))}
    errors = {1: [{"index": 1, "path": "[1].a", "message": "bad"}]}
    [(events_key, events, events_type), (name, data, content_type), pointer] = layout.events_reject(
        key, meta(), body, slices, errors)
    assert pointer == layout.request_pointer(key, "req-1")
    assert (name, content_type) == (key.json_key, "application/json")
    assert events_key == key.events_key and events_type.startswith("text/plain")
    stored = orjson.loads(data)
    assert stored["events_key"] == key.events_key and [entry["index"] for entry in stored["events"]] == [1, 2]
    # Each event is there byte for byte, at the offsets the metadata names, and reads back as such
    assert layout.kept_events(stored, events) == [(1, second), (2, third)]
    # The events object reads as text: one JSON object a line, the event beside its errors
    assert events.decode("utf-8").startswith('{"index":1,"errors":[{"index":1,"path":"[1].a","message":"bad"}],"event":{"a" :')
    assert [orjson.loads(line) for line in events.replace(b",\n ", b", ").splitlines()] == [
        {"index": 1, "errors": errors[1], "event": {"a": "kept as sent", "b": "é"}},
        {"index": 2, "errors": [], "event": [1, "x"]},
    ]
    assert b"base64" not in data and "raw" not in stored["events"][0]


def test_a_partial_reject_of_the_older_format_still_reads_base64_events():
    older = {**meta(), "events": [{"index": 1, "raw": "eyJhIjoxfQ=="}, {"index": 3, "raw": "WzEsIngiXQ=="}]}
    assert layout.kept_events(older, None) == [(1, b'{"a":1}'), (3, b'[1,"x"]')]
    assert base64.b64decode(older["events"][0]["raw"]) == b'{"a":1}'
    with pytest.raises(ValueError, match="missing"):
        layout.kept_events({**meta(), "events_key": "x", "events": [{"index": 0, "start": 0, "end": 1}]}, None)


# --- one owner: nobody else builds or parses the layout ---------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "layers" / "runtime" / "python" / "ingest"
OWNER = RUNTIME / "layout.py"
STORE = RUNTIME / "store.py"  # runs the AWS calls: may write DynamoDB's wire format (the keys table's records)
WIRE_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})
REJECT_SEGMENT = re.compile(r"(?:^|/)(?:tenant|endpoint|date)=")
# The event and window attributes that only ever occur in the layout's own expressions and projections.
ITEM_WORDS = re.compile(r"\b(?:expires_at|event_time|open_until|opened_at|refreshed_at)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _pieces(node: ast.AST) -> list[ast.AST] | None:
    """The parts a string is joined from: an f-string's, a `+` chain's, or a `"#".join(...)`'s."""
    if isinstance(node, ast.JoinedStr):
        return list(node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [*(_pieces(node.left) or [node.left]), *(_pieces(node.right) or [node.right])]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
            and isinstance(node.func.value, ast.Constant) and node.func.value.value == "#" and node.args
            and isinstance(node.args[0], ast.List | ast.Tuple)):
        return [node.func.value, *node.args[0].elts]
    return None


def _is_partition_join(pieces: list[ast.AST]) -> bool:
    """`#` between a tenant and a family: the partition key scheme (`<tenant>#<family>#...`)."""
    literals = [piece.value for piece in pieces if isinstance(piece, ast.Constant) and isinstance(piece.value, str)]
    names = [ast.unparse(piece.value if isinstance(piece, ast.FormattedValue) else piece)
             for piece in pieces if not isinstance(piece, ast.Constant)]
    return (any("#" in text for text in literals) and any("tenant" in name for name in names)
            and any("famil" in name or re.search(r"(?:^|\.)name$", name) for name in names))


def layout_literals(source: str, *, wire_allowed: bool = False) -> list[tuple[int, str]]:
    """(line, rule) of every place in `source` that builds or parses the storage layout by hand."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if text.startswith((REJECTS, REPLAYED)):
                found.append((line, "reject area prefix"))
            if REJECT_SEGMENT.search(text):
                found.append((line, "reject key segment"))
            if text in (".json", ".body"):
                found.append((line, "reject object suffix"))
            if ITEM_WORDS.search(text) and not ITEM_WORDS.fullmatch(text):
                found.append((line, "item attribute in an expression"))
        pieces = _pieces(node)
        if pieces and _is_partition_join(pieces):
            found.append((line, "partition key join"))
        if (isinstance(node, ast.Name) and node.id == "crc32") or (isinstance(node, ast.Attribute) and node.attr == "crc32"):
            found.append((line, "shard hash"))
        if wire_allowed:
            continue
        if isinstance(node, ast.Dict) and any(isinstance(key, ast.Constant) and key.value in WIRE_TYPES for key in node.keys):
            found.append((line, "item attribute built"))
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in WIRE_TYPES:
            found.append((line, "item attribute read"))
        if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and node.left.value in WIRE_TYPES
                and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)):
            found.append((line, "item attribute read"))
    return sorted(set(found))


def scanned_modules() -> list[Path]:
    return sorted(path for path in [*RUNTIME.rglob("*.py"), *(ROOT / "cli").rglob("*.py")] if path != OWNER)


def test_no_module_but_the_layout_builds_or_parses_keys_items_or_reject_objects():
    """Every runtime module (everything under ingest/ except layout.py) and the CLI, read as syntax
    trees, so prose can say `rejects/tenant=...` and only code is judged. What counts as building or
    parsing the layout by hand:

    * reject object keys: a string starting with `rejects/` or `replayed/`, a `tenant=`, `endpoint=`
      or `date=` key segment, a bare `.json` / `.body` suffix (split literals are caught piece by piece);
    * the partition scheme: `#` joining a tenant and a family (f-string, `+` chain or `"#".join`),
      and any use of crc32 (the shard);
    * item attributes: DynamoDB wire format, i.e. a `{"S"|"N"|"B"|...: ...}` value or a `[...]["S"]`
      / `"S" in ...` read, which every read or write of an item attribute needs (ingest.store may use
      it: it runs the calls, and the keys table's records are its own), and `expires_at`,
      `event_time` or a window attribute inside a larger string (a projection, a condition, an
      update expression), in any module including the store.

    Not caught on purpose: docstrings and messages that mention the layout in words, a family's own
    dedup keys and hash seeds (`problem#<id>#...`, `<tenant>#<stream>#<key>` with no family), key
    records' own `expires_at` (the keys table, plain dicts), the keys table's `rate#...` counters.
    test_the_guard_* below show each rule firing on the code it replaced and on layout.py itself, so
    the guard cannot pass by reading nothing or by matching nothing."""
    offenders = {
        str(path.relative_to(ROOT)): hits
        for path in scanned_modules()
        if (hits := layout_literals(path.read_text(), wire_allowed=path == STORE))
    }
    assert offenders == {}


def test_the_guard_reads_the_modules_that_used_to_hold_the_layout():
    names = {str(path.relative_to(ROOT)) for path in scanned_modules()}
    runtime = "layers/runtime/python/ingest/"
    assert {f"{runtime}pipeline.py", f"{runtime}readback.py", f"{runtime}store.py", f"{runtime}rejects.py",
            f"{runtime}replay.py", f"{runtime}families/ops/family.py", f"{runtime}families/datahub/manage.py",
            "cli/events.py", "cli/rejects.py"} <= names
    assert f"{runtime}layout.py" not in names and len(names) > 30


def test_the_guard_sees_every_kind_of_literal_the_layout_itself_holds():
    rules = {rule for _, rule in layout_literals(OWNER.read_text())}
    assert rules == {"reject area prefix", "reject key segment", "reject object suffix", "item attribute in an expression",
                     "partition key join", "shard hash", "item attribute built", "item attribute read"}


@pytest.mark.parametrize(("code", "rule"), [
    # What the pipeline, read-back, store, rejects and the ops family held before ingest.layout.
    ('f"rejects/tenant={principal.tenant}/endpoint={self.endpoint.name}/date={day}/{request.request_id}"',
     "reject area prefix"),
    ('"rejects/" + "tenant=" + tenant', "reject key segment"),
    ('meta["body_key"] = f"{prefix}.body"', "reject object suffix"),
    ('reject.key.json_key[: -len(".json")] + ".body"', "reject object suffix"),
    ('prefix += f"endpoint={endpoint}/"', "reject key segment"),
    ('prefix = f"{outcome.principal.tenant}#{self.endpoint.family}#"', "partition key join"),
    ('ItemKey(f"{outcome.principal.tenant}#{self.name}#{PROBLEM_STREAM}", key)', "partition key join"),
    ('pk = tenant + "#" + family + "#" + stream', "partition key join"),
    ('pk = "#".join((tenant, family, stream))', "partition key join"),
    ('f"{prefix}{stream}#{zlib.crc32(dedup_key.encode()) % shards}"', "shard hash"),
    ('item = {"expires_at": {"N": expires_at}}', "item attribute built"),
    ('int(item["expires_at"]["N"]) > now', "item attribute read"),
    ('{name: value["S"] for name, value in item.items() if "S" in value}', "item attribute read"),
    ('self._batch_get(keys, "pk, sk, expires_at", deadline)', "item attribute in an expression"),
    ('condition += " AND event_time BETWEEN :start AND :end"', "item attribute in an expression"),
    ('update = "SET open_until = :until, refreshed_at = :now"', "item attribute in an expression"),
])
def test_the_guard_catches_the_code_the_layout_replaced(code, rule):
    assert rule in {found for _, found in layout_literals(code)}


@pytest.mark.parametrize(("code", "in_store"), [
    ('"""Rejects live under rejects/tenant=<t>/endpoint=<e>/date=<d>/<id>.json."""', False),
    ('help="List replayed rejects (replayed/) instead."', False),
    ('message = "no such reject in rejects/ or replayed/"', False),
    ('seed = hashlib.sha256(f"{tenant}#{stream}#{dedup_key}".encode())', False),  # a family's event id seed
    ('sk_prefix = f"problem#{correlation_id}#"', False),  # a family's own dedup keys
    ('record["expires_at"] = iso(expires_at); defaults = {"expires_at": "never"}', False),  # key records
    ('path="/openapi.json"', False),
    ('end = int(stored.attributes.get("open_until", 0))', False),  # a family's own attribute
    ('Key={"pk": {"S": f"rate#{prefix}#{window}"}}', True),  # the keys table's counters, in the store
])
def test_the_guard_leaves_prose_family_keys_and_key_records_alone(code, in_store):
    assert layout_literals(code, wire_allowed=in_store) == []


# --- layers -----------------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    """Modules a file imports at run time (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)
               for node in ast.walk(stmt)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_layout_is_the_bottom_layer():
    imported = {name.split(".")[0] for name in _imports(OWNER)} - {"__future__"}
    assert imported <= {"base64", "hashlib", "re", "zlib", "collections", "dataclasses", "datetime", "typing", "orjson"}


def test_only_entry_points_import_the_pipeline():
    # Entry points: the handlers, the local server, replay and the CLI (outside the runtime but replay).
    importers = {path.relative_to(RUNTIME).as_posix() for path in RUNTIME.rglob("*.py")
                 if "ingest.pipeline" in _imports(path) or "ingest.pipeline.Pipeline" in _imports(path)}
    assert importers == {"replay.py"}
    assert not any(name.startswith("ingest.pipeline") for name in _imports(RUNTIME / "readback.py"))


def test_the_layout_names_no_family_and_no_vendor():
    from ingest import catalog

    words = {endpoint.family for endpoint in catalog.ENDPOINTS} | {
        "datahub", "doit", "dashdive", "baselime", "dynatrace", "problem", "problems"}
    text = OWNER.read_text().lower()
    assert {word for word in words if re.search(rf"\b{re.escape(word)}\b", text)} == set()


# --- stream shard counts ------------------------------------------------------------------------------


def test_each_stream_is_partitioned_by_its_recorded_shard_count():
    # issue 11 item 6: a change of stream_shards moved the shard of the events already stored
    partitions = Partitions("acme", "cost", 4, {"Old": 1})
    assert partitions.key("Old", "k") == ItemKey("acme#cost#Old", "k") and partitions.of("Old") == ["acme#cost#Old"]
    assert partitions.key("New", "k").pk == f"acme#cost#New#{zlib.crc32(b'k') % 4}" and len(partitions.of("New")) == 4


def test_a_shard_record_is_under_a_partition_no_event_can_have():
    key = layout.shard_record_key("acme", "cost", "Datadog")
    assert key == ItemKey("~shards#acme#cost#Datadog", "shards")
    assert not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", key.pk.split("#")[0])  # no tenant starts with ~
    put = layout.shard_record(key, 4, RECEIVED)
    assert put["ConditionExpression"] == "attribute_not_exists(pk)" and "expires_at" not in put["Item"]
    assert layout.recorded_shards(put["Item"]) == 4 and not layout.is_event(put["Item"])


def test_a_partition_within_a_tenants_family_drops_only_the_tenant_and_family():
    partitions = layout.Partitions("acme", "ops", 4)
    assert [partitions.within(pk) for pk in partitions.of("CUSTOM_INFO")] == [f"CUSTOM_INFO#{s}" for s in range(4)]
    with pytest.raises(ValueError):
        layout.Partitions("other", "ops").within(partitions.of("CUSTOM_INFO")[0])
