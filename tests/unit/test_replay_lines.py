"""Reading an edited NDJSON file: every problem found before anything is replayed, each named by line.

(Reject keys themselves are tested with the storage layout, tests/unit/test_layout.py.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest.rejects import parse_moment
from ingest.replay import ReplayError, group_lines, read_ndjson

KEY = "rejects/tenant=acme/endpoint=datahub_events/date=2024-03-10/req-1.json"
BASE = {"reject": KEY, "request_id": "req-1", "tenant": "acme", "endpoint": "datahub_events"}


def ndjson(*lines) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def test_good_lines_group_by_reject_in_index_order():
    other = {**BASE, "reject": KEY.replace("req-1", "req-2"), "request_id": "req-2"}
    lines = read_ndjson(ndjson({**BASE, "index": 1, "event": {"b": 1}}, "", {**other, "index": 0, "event": {}},
                               {**BASE, "index": 0, "event": {"a": 1}}))
    groups = group_lines(lines)
    assert list(groups) == [KEY, other["reject"]]
    assert [line.index for line in groups[KEY]] == [0, 1] and [line.number for line in groups[KEY]] == [4, 1]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: a line must be a JSON object"),
        (json.dumps({"index": 0, "event": {}}), "line 2: missing reject, request_id, tenant, endpoint"),
        (json.dumps({**BASE, "reject": "somewhere/else.json", "index": 0, "event": {}}), "is not a reject key"),
        (json.dumps({**BASE, "index": 1, "event": {}, "body": "{}"}), "either an event or a body, not both"),
        (json.dumps({**BASE, "index": 1}), "not neither"),
        (json.dumps({**BASE, "index": "1", "event": {}}), "needs its integer index"),
        (json.dumps({**BASE, "index": 0, "event": {}}), "line 2: event 0 of"),
    ],
)
def test_a_bad_line_stops_everything_and_is_named(line, says):
    with pytest.raises(ReplayError, match=says):
        read_ndjson(ndjson({**BASE, "index": 0, "event": {}}, line), "fix.ndjson")


def test_an_empty_file_is_an_error():
    with pytest.raises(ReplayError, match="no lines"):
        read_ndjson("\n\n")


def test_moments_are_times_dates_or_durations_back_from_now():
    now = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_moment("2024-03-10T23:00:00+01:00", now) == datetime(2024, 3, 10, 22, 0, tzinfo=UTC)
    assert parse_moment("2024-03-09", now) == datetime(2024, 3, 9, tzinfo=UTC)
    assert parse_moment("36h", now) == datetime(2024, 3, 9, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not a time"):
        parse_moment("last tuesday", now)
