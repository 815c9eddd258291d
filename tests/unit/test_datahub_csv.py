"""The CSV upload's header rules, decompression caps and row-to-event mapping, without AWS."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import UTC, datetime

import pytest
from urllib3 import encode_multipart_formdata

from ingest import catalog, layout
from ingest.errors import BadRequest
from ingest.families.datahub.csv_upload import _columns, _inflate, _text
from ingest.request import Request
from ingest.settings import Settings

ROUTE = catalog.get("datahub_events_csv")


def request(body: bytes, content_type: str, request_id: str = "r1") -> Request:
    return Request(request_id=request_id, method="POST", path=ROUTE.path, headers={"content-type": [content_type]},
                   path_parameters={}, query={}, wire_body=body, received_at=datetime(2024, 3, 10, tzinfo=UTC))


def family():
    return ROUTE.impl.bind(ROUTE, Settings())


def parse(text: bytes, provider: str = "Datadog", name: str = "f.csv", request_id: str = "r1"):
    body, content_type = encode_multipart_formdata({"provider": provider, "file": (name, text)})
    bound = family()
    req = request(body, content_type, request_id)
    return bound, req, bound.parse(body, req)


def test_header_prefixes_fixed_keys_case_insensitive_labels_as_written():
    columns = _columns(["usage_date", "ID", "Fixed.Project_Id", "label.Team", "project_label.Env", "metric.Cost"])
    assert [(c.kind, c.type, c.key) for c in columns] == [
        ("usage_date", "", ""), ("id", "", ""), ("dimension", "fixed", "project_id"),
        ("dimension", "label", "Team"), ("dimension", "project_label", "Env"), ("metric", "Cost", "")]


@pytest.mark.parametrize(("header", "fragment"), [
    (["usage_date", "system_label.a", "metric.cost"], "unknown prefix 'system_label'"),
    (["usage_date", "fixed.nope", "metric.cost"], "'nope' is not an allowed key"),
    (["usage_date", "label.", "metric.cost"], "names no key"),
    (["usage_date", "cost", "label.a"], "'cost' is not usage_date"),
    (["usage_date", "label.a", "label.a", "metric.c"], "repeats"),
    (["usage_date", "fixed.REGION", "fixed.region", "metric.c"], "repeats"),
    (["usage_date", "metric.c"], "no dimension column"),
    (["usage_date", "label.a"], "no metric column"),
    (["label.a", "metric.c"], "no usage_date column"),
])
def test_header_mistakes_name_the_column(header, fragment):
    with pytest.raises(BadRequest, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        _columns(header)


def test_label_keys_are_case_sensitive_so_two_cases_are_two_columns():
    assert len(_columns(["usage_date", "label.team", "label.Team", "metric.c"])) == 4


def test_rows_become_events_and_empty_cells_are_left_out():
    _, _, upload = parse(b'usage_date,id,label.a,metric.x,metric.y\n2024-03-10T23:00:00Z,,"q ""uoted""",1.5,\n')
    [row] = upload.rows
    assert row["dimensions"] == [{"type": "label", "key": "a", "value": 'q "uoted"'}]
    assert row["metrics"] == [{"type": "x", "value": 1.5}]
    assert row["provider"] == "Datadog" and row["time"] == "2024-03-10T23:00:00Z" and row["id"]


def test_derived_ids_depend_on_the_content_not_the_boundary_or_compression():
    text = b"usage_date,label.a,metric.x\r\n2024-03-10T23:00:00Z,a,1\r\n2024-03-10T23:00:00Z,a,1\r\n"
    _, _, plain = parse(text)
    _, _, zipped = parse(gzip.compress(text), name="f.gz", request_id="r2")
    assert [row["id"] for row in plain.rows] == [row["id"] for row in zipped.rows]
    assert plain.rows[0]["id"] != plain.rows[1]["id"]  # two identical rows stay two events
    _, _, other = parse(text, provider="Other", request_id="r3")
    assert other.rows[0]["id"] != plain.rows[0]["id"]


def test_violations_name_the_row_line_and_column_also_after_a_multiline_field():
    text = (b'usage_date,label.a,metric.x\r\n2024-03-10T23:00:00Z,"two\r\nlines",1\r\n'
            b"2024-03-10T23:00:00Z,b,nope\r\n2024-03-10T23:00:00Z,c\r\n")
    bound, req, upload = parse(text)
    _, errors = bound.validate_request(bound.extract(upload, req, bound.limits), req)
    assert [str(v) for v in errors[1]] == ["row 4, column metric.x: Input should be a valid number"]
    assert [str(v) for v in errors[2]] == ["row 5: the row has 2 fields; the header has 3"]
    assert 0 not in errors


def test_the_upload_of_another_request_is_never_used():
    bound, _, _ = parse(b"usage_date,label.a,metric.x\n2024-03-10T23:00:00Z,a,1\n", request_id="first")
    other = request(b"", "multipart/form-data; boundary=x", "second")
    with pytest.raises(RuntimeError):
        bound.validate_request([], other)


def test_inflate_caps_size_and_ratio():
    small = b"x" * 1000
    assert _inflate(small, 10_000) == small
    assert _inflate(gzip.compress(small), 10_000) == small
    with pytest.raises(BadRequest, match="inflates"):
        _inflate(gzip.compress(b"0" * (3 * 1024 * 1024)), 30 * 1024 * 1024)  # ~1000:1
    with pytest.raises(BadRequest, match="limit"):
        _inflate(b"x" * 10_001, 10_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dir/", b"")
        archive.writestr("dir/a.csv", small)
    assert _inflate(buffer.getvalue(), 10_000) == small  # folders are not files


def test_text_refuses_boms_and_utf16():
    for data, fragment in ((b"\xef\xbb\xbfa", "byte order mark"), (b"\xff\xfea\x00", "UTF-16"),
                           (b"ok\nbad\xff", "line 2")):
        with pytest.raises(BadRequest, match=fragment):
            _text(data)


def test_the_limits_fit_the_deployed_api():
    """Lambda's 6 MB invocation payload counts the body base64-encoded: 4/3 of the wire cap, plus the
    event's headers, must stay under it."""
    limits = ROUTE.limits
    assert limits.wire_cap * 4 / 3 + 64 * 1024 < 6 * 1024 * 1024
    assert limits.max_body_bytes == 30 * 1024 * 1024 and limits.max_events == 5_000


def test_stream_records_never_share_a_partition_with_events_or_another_tenant():
    record = layout.stream_record_key("t1", "datahub", "Datadog")
    assert record.pk.startswith("~") and record.pk != layout.Partitions("t1", "datahub").key("Datadog", "x").pk
    assert record != layout.stream_record_key("t2", "datahub", "Datadog")
    assert layout.stream_records_query("t1", "datahub")["ExpressionAttributeValues"][":pk"]["S"] == record.pk
    touch = layout.stream_record_touch(record, datetime(2024, 3, 10, tzinfo=UTC), "ABCDEFGH")
    assert "if_not_exists(created_at" in touch["UpdateExpression"]
    assert "event_time" not in str(touch) and "payload" not in str(touch)
