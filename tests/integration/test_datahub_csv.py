"""DataHub CSV upload through the real handler against moto: what is stored is read from the table,
what is refused from the rejects bucket."""

from __future__ import annotations

import gzip
import io
import uuid
import zipfile

import pytest
from urllib3 import encode_multipart_formdata

from ingest import catalog
from tests.conftest import partition_items, payload
from tests.integration.keys_support import credential

GUIDE = (
    "usage_date,id,fixed.project_id,label.Team,project_label.env,metric.cost,metric.usage\r\n"
    "2024-03-10T23:00:00Z,ev-1,proj-a,Platform,prod,10.5,3\r\n"
    '2024-03-11T00:00:00Z,,proj-b,"Data, and Ops","",0.25,\r\n'
    "2024-03-11T01:00:00Z,,proj-c,Platform,dev,1e3,7.5\r\n"
)


def form(provider: str | None, content: bytes | None, filename: str = "costs.csv", **extra) -> tuple[bytes, str]:
    fields: dict = {}
    if provider is not None:
        fields["provider"] = provider
    if content is not None:
        fields["file"] = (filename, content, "application/octet-stream")
    fields.update(extra)
    return encode_multipart_formdata(fields)


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def upload(invoke, http_event):
    def send(key: str, body: bytes, content_type: str):
        headers = {**credential(catalog.get("datahub_events"), key), "Content-Type": content_type}
        return invoke("datahub_events_csv", http_event("datahub_events_csv", body, headers))

    return send


def stored(store, tenant: str, provider: str) -> dict[str, dict]:
    return {item["sk"]["S"]: payload(item)
            for item in partition_items(store.dynamodb, f"{tenant}#datahub#{provider}", store.settings.events_table)}


def rejected_bodies(store, tenant: str) -> list[bytes]:
    keys = [key for key in store.object_keys(f"rejects/tenant={tenant}/endpoint=datahub_events_csv/")
            if key.endswith(".body")]
    return [store.get_object(key) for key in keys]


def test_the_guides_csv_plain_gzip_and_zip_stores_the_same_events_once(upload, new_key, store):
    key, tenant = new_key()
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    for name, content in (("costs.csv", GUIDE.encode()), ("costs.csv.gz", gzip.compress(GUIDE.encode())),
                          ("costs.zip", zipped(("costs.csv", GUIDE.encode()))),
                          ("costs.csv", GUIDE.encode())):  # the same file again: a new boundary, same events
        status, headers, body = upload(key, *form(provider, content, name))
        assert status == 201, body
        assert body["ingestedRows"] == 3 and headers["X-Request-Id"]
        file_name, epoch_ms = body["batch"].rsplit("_", 1)
        assert file_name == name and epoch_ms.isdigit() and len(epoch_ms) == 13
    events = stored(store, tenant, provider)
    assert len(events) == 3
    first = events["ev-1"]
    assert first["time"] == "2024-03-10T23:00:00Z" and first["provider"] == provider
    assert first["dimensions"] == [{"type": "fixed", "key": "project_id", "value": "proj-a"},
                                   {"type": "label", "key": "Team", "value": "Platform"},
                                   {"type": "project_label", "key": "env", "value": "prod"}]
    assert first["metrics"] == [{"type": "cost", "value": 10.5}, {"type": "usage", "value": 3.0}]
    [second] = [event for event in events.values() if event["dimensions"][0]["value"] == "proj-b"]
    # The quoted comma stays in the value; empty cells leave the dimension and the metric out.
    assert second["dimensions"] == [{"type": "fixed", "key": "project_id", "value": "proj-b"},
                                    {"type": "label", "key": "Team", "value": "Data, and Ops"}]
    assert second["metrics"] == [{"type": "cost", "value": 0.25}]
    assert not rejected_bodies(store, tenant)


def test_lf_line_ends_and_a_case_insensitive_fixed_key(upload, new_key, store):
    key, tenant = new_key()
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    text = "usage_date,FIXED.Project_ID,metric.cost\n2024-03-10T23:00:00Z,p,1\n2024-03-10T23:00:00Z,q,2\n"
    status, _, body = upload(key, *form(provider, text.encode()))
    assert status == 201 and body["ingestedRows"] == 2
    events = list(stored(store, tenant, provider).values())
    assert {event["dimensions"][0]["key"] for event in events} == {"project_id"}


def test_bad_rows_store_nothing_keep_the_upload_raw_and_name_every_row_and_column(upload, new_key, store):
    key, tenant = new_key()
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    text = ("usage_date,label.team,metric.cost\r\n"
            "2024-03-10T23:00:00Z,a,1\r\n"
            "2024-03-10T23:00:00Z,b,lots\r\n"
            "yesterday,c,2\r\n"
            "2024-03-10T23:00:00Z,d,3,extra\r\n"
            "2024-03-10T23:00:00Z\r\n")
    raw, content_type = form(provider, text.encode())
    status, _, body = upload(key, raw, content_type)
    assert status == 400 and set(body) == {"error"}
    message = body["error"]
    assert "4 of 5 rows are invalid and nothing was ingested" in message
    assert "row 3, column metric.cost" in message
    assert "row 4, column usage_date" in message
    assert "row 5: the row has 4 fields; the header has 3" in message
    assert "row 6: the row has 1 fields; the header has 3" in message
    assert "row 2" not in message
    assert stored(store, tenant, provider) == {}
    assert raw in rejected_bodies(store, tenant)


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "empty"),
    (b"usage_date,label.a,metric.cost\r\n", "no rows"),
    (b"\xef\xbb\xbfusage_date,label.a,metric.cost\r\n2024-03-10T23:00:00Z,x,1\r\n", "byte order mark"),
    (b"usage_date,tag.a,metric.cost\r\n2024-03-10T23:00:00Z,x,1\r\n", "unknown prefix 'tag'"),
    (b"usage_date,fixed.color,metric.cost\r\n2024-03-10T23:00:00Z,x,1\r\n", "'color' is not an allowed key"),
    (b"usage_date,metric.cost\r\n2024-03-10T23:00:00Z,1\r\n", "no dimension column"),
    (b"usage_date,label.a\r\n2024-03-10T23:00:00Z,x\r\n", "no metric column"),
    (b"label.a,metric.cost\r\nx,1\r\n", "no usage_date column"),
    (b"usage_date,label.a,label.a,metric.cost\r\n2024-03-10T23:00:00Z,x,y,1\r\n", "repeats"),
    (b'usage_date,label.a,metric.cost\r\n2024-03-10T23:00:00Z,"x"y,1\r\n', "not valid CSV"),
    (b"usage_date,label.a,metric.cost\r\n2024-03-10T23:00:00Z,\xff,1\r\n", "not UTF-8"),
    (zipped(("a.csv", b"x"), ("b.csv", b"y")), "holds 2 files"),
    (zipped(), "holds 0 files"),
    (gzip.compress(b"usage_date,label.a,metric.cost\r\n" + b"0" * (40 * 1024 * 1024)), "inflates to more than"),
    (zipped(("bomb.csv", b"usage_date,label.a,metric.cost\r\n" + b"0" * (40 * 1024 * 1024))), "inflates to more than"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
    (b"PK\x03\x04garbage", "not a readable zip"),
])
def test_bad_files_are_400s_that_store_nothing_and_keep_the_raw_upload(upload, new_key, store, content, fragment):
    key, tenant = new_key()
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    raw, content_type = form(provider, content)
    status, headers, body = upload(key, raw, content_type)
    assert status == 400, body
    assert set(body) == {"error"} and fragment in body["error"] and headers["X-Request-Id"]
    assert stored(store, tenant, provider) == {}
    assert raw in rejected_bodies(store, tenant)


@pytest.mark.parametrize(("provider", "content", "fragment"), [
    (None, GUIDE.encode(), "no provider"),
    ("p", None, "no file"),
    ("bad/provider", GUIDE.encode(), "Invalid provider"),
])
def test_a_form_without_provider_or_file_is_a_400(upload, new_key, store, provider, content, fragment):
    key, tenant = new_key()
    status, _, body = upload(key, *form(provider, content))
    assert status == 400 and fragment in body["error"]


def test_not_multipart_and_malformed_multipart_are_400s(upload, new_key):
    key, _ = new_key()
    status, _, body = upload(key, GUIDE.encode(), "text/csv")
    assert status == 400 and "multipart/form-data" in body["error"]
    status, _, body = upload(key, b"--xyz\r\nContent-Disposition: form-data; name=\"provider\"\r\n\r\np",
                             "multipart/form-data; boundary=xyz")
    assert status == 400 and "malformed" in body["error"]


def test_rows_over_the_limit_are_a_400(upload, new_key, store):
    key, tenant = new_key()
    limit = catalog.get("datahub_events_csv").limits.max_events
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    text = "usage_date,label.a,metric.cost\n" + "2024-03-10T23:00:00Z,x,1\n" * (limit + 1)
    status, _, body = upload(key, *form(provider, text.encode()))
    assert status == 400 and f"more than {limit} rows" in body["error"]
    assert stored(store, tenant, provider) == {}


def test_the_upload_creates_and_updates_the_dataset(upload, invoke, http_event, new_key):
    key, _ = new_key()
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    assert upload(key, *form(provider, GUIDE.encode()))[0] == 201
    headers = credential(catalog.get("datahub_events"), key)
    status, _, dataset = invoke("get_datahub_dataset", http_event(
        "get_datahub_dataset", b"", headers, path=f"/datahub/v1/datasets/{provider}"))
    assert status == 200 and dataset["records"] == 3


def test_wire_cap_is_413_before_anything(upload, new_key):
    key, _ = new_key()
    cap = catalog.get("datahub_events_csv").limits.wire_cap
    status, _, body = upload(key, *form("p", b"x" * cap))
    assert status == 413 and set(body) == {"error"} and str(cap) in body["error"]


def test_a_rejected_upload_replays_once_the_cause_is_fixed(http_event, new_key, store, settings):
    from ingest.pipeline import Pipeline
    from ingest.replay import Replayer
    from ingest.settings import Settings
    from tests.integration.keys_support import handle

    # Given a deployment that allowed 2 rows per upload (a configuration mistake)
    key, tenant = new_key()
    provider = f"csv-{uuid.uuid4().hex[:6]}"
    tight = Settings(limits={"datahub_events_csv": {"max_events": 2}})
    body, content_type = form(provider, gzip.compress(GUIDE.encode()), "costs.csv.gz")
    headers = {**credential(catalog.get("datahub_events"), key), "Content-Type": content_type}
    answer = handle(Pipeline(catalog.get("datahub_events_csv"), tight),
                    http_event("datahub_events_csv", body, headers))
    assert answer["statusCode"] == 400 and "more than 2 rows" in answer["body"]
    assert stored(store, tenant, provider) == {}
    # When its reject is replayed with the fixed configuration
    replayer = Replayer(store, settings)
    reject = replayer.rejects.find(answer["headers"]["X-Request-Id"])
    assert reject.whole_request and reject.meta["headers"]["content-type"] == content_type
    result = replayer.replay(reject.request_id)
    # Then the upload's rows are stored, once, as a direct upload would have stored them
    assert (result.status, result.stored) == ("stored", 3)
    assert len(stored(store, tenant, provider)) == 3
    assert replayer.replay(reject.request_id, force=True).status in ("stored", "duplicate")
    assert len(stored(store, tenant, provider)) == 3
