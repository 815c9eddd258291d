"""Write the sample events of the DataHub CSV upload and dataset routes (re-run after edits).

CSV samples: `valid_*` store their rows for any key (a resend overwrites itself), `invalid_*` are
400s whose upload is kept in S3, `missing_key` a 401. Dataset samples: `valid_*` succeed for any
key; `*_after_guide_sample` find the dataset the DataHub guide sample creates (`make invoke
E=datahub_events F=events/datahub_events/valid_guide_sample.json` first), else 404;
`valid_create_once` answers 201 once per tenant, then 409; `invalid_*` are 400s.
Usage: python -m events.make_datahub
"""

from __future__ import annotations

import gzip
import io
import zipfile

from urllib3 import encode_multipart_formdata

from events import make_operations
from events.make_events import HERE
from events.make_operations import js
from local.emulator import SAMPLE_KEY

AUTH = {"Authorization": f"Bearer {SAMPLE_KEY}"}
JSON = {**AUTH, "Content-Type": "application/json"}
BOUNDARY = "sample-boundary-7d3f"
# The shape of the vendor's CSV guide: usage_date, an id, dimensions of each kind, two metrics.
GUIDE_CSV = (
    "usage_date,id,fixed.project_id,fixed.region,label.team,project_label.department,metric.cost,metric.usage\r\n"
    "2024-03-10T23:00:00Z,csv-1,proj-a,us-east-1,alpha,rnd,10.5,3\r\n"
    "2024-03-11T23:00:00Z,csv-2,proj-b,eu-west-1,\"beta, gamma\",ops,0.25,1\r\n"
    "2024-03-12T23:00:00Z,,proj-c,us-east-1,alpha,,7,\r\n"
).encode()


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            # A fixed timestamp, so the sample file is the same on every run.
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 3, 10, 0, 0, 0)), data)
    return buffer.getvalue()


def _form(provider: str | None, file_name: str, content: bytes | None) -> tuple[bytes, dict]:
    fields: dict = {}
    if provider is not None:
        fields["provider"] = provider
    if content is not None:
        fields["file"] = (file_name, content, "application/octet-stream")
    body, content_type = encode_multipart_formdata(fields, boundary=BOUNDARY)
    return body, {"Content-Type": content_type}


def csv_samples() -> dict[str, tuple[str, bytes, dict]]:
    path = "/datahub/v1/csv/upload"

    def sample(provider, name, content, headers=AUTH):
        body, form_headers = _form(provider, name, content)
        return path, body, {**headers, **form_headers}

    header = b"usage_date,label.team,metric.cost\r\n"
    return {
        "valid_guide_csv": sample("Datadog", "costs.csv", GUIDE_CSV),
        "valid_guide_csv_gzip": sample("Datadog", "costs.csv.gz", gzip.compress(GUIDE_CSV, mtime=0)),
        "valid_guide_csv_zip": sample("Datadog", "costs.zip", _zip(("costs.csv", GUIDE_CSV))),
        "invalid_bad_rows": sample("Datadog", "bad.csv", header + b"2024-03-10T23:00:00Z,a,lots\r\nyesterday,b,1,9\r\n"),
        "invalid_unknown_column_prefix": sample("Datadog", "bad.csv", b"usage_date,tag.team,metric.cost\r\n"
                                                                     b"2024-03-10T23:00:00Z,a,1\r\n"),
        "invalid_fixed_key_not_allowed": sample("Datadog", "bad.csv", b"usage_date,fixed.team,metric.cost\r\n"
                                                                      b"2024-03-10T23:00:00Z,a,1\r\n"),
        "invalid_bom": sample("Datadog", "bom.csv", b"\xef\xbb\xbf" + GUIDE_CSV),
        "invalid_empty_file": sample("Datadog", "empty.csv", b""),
        "invalid_zip_of_two_files": sample("Datadog", "two.zip", _zip(("a.csv", GUIDE_CSV), ("b.csv", GUIDE_CSV))),
        "invalid_no_file": sample("Datadog", "", None),
        "invalid_no_provider": sample(None, "costs.csv", GUIDE_CSV),
        "missing_key": sample("Datadog", "costs.csv", GUIDE_CSV, headers={}),
    }


def write(endpoint_name: str, samples: dict[str, tuple[str, bytes, dict]], *, base64_body: bool = False) -> None:
    """The sample writer of events/make_operations.py, into this module's HERE (tests redirect it)."""
    make_operations.write(endpoint_name, samples, base64_body=base64_body, root=HERE)


def main() -> None:
    # The deployed API delivers every body base64-encoded (binary media types */*).
    write("datahub_events_csv", csv_samples(), base64_body=True)
    datasets = "/datahub/v1/datasets"
    write("list_datahub_datasets", {"valid_list": (datasets, b"", JSON), "missing_key": (datasets, b"", {})})
    write("create_datahub_dataset", {
        "valid_create_once": (datasets, js({"name": "Sample Dataset", "description": "Created by the sample"}), JSON),
        "invalid_name_pattern": (datasets, js({"name": "two  spaces"}), JSON),
        "invalid_no_name": (datasets, js({"description": "no name"}), JSON),
        "missing_key": (datasets, js({"name": "Sample Dataset"}), {"Content-Type": "application/json"}),
    })
    write("get_datahub_dataset", {
        "datadog_after_guide_sample": (f"{datasets}/Datadog", b"", JSON),
        "invalid_name": (f"{datasets}/bad.name", b"", JSON),
        "missing_key": (f"{datasets}/Datadog", b"", {}),
    })
    write("update_datahub_dataset", {
        "datadog_after_guide_sample": (f"{datasets}/Datadog", js({"name": "Datadog", "description": "Costs"}), JSON),
        "invalid_name_mismatch": (f"{datasets}/Datadog", js({"name": "Other", "description": "x"}), JSON),
        "invalid_unknown_field": (f"{datasets}/Datadog", js({"records": 5}), JSON),
    })
    write("delete_datahub_dataset", {
        "datadog_after_guide_sample": (f"{datasets}/Datadog", b"", JSON),
        "invalid_name": (f"{datasets}/bad.name", b"", JSON),
        "missing_key": (f"{datasets}/Datadog", b"", {}),
    })
    write("delete_datahub_datasets", {
        "datadog_after_guide_sample": (datasets, js({"datasets": ["Datadog"]}), JSON),
        "invalid_empty_list": (datasets, js({"datasets": []}), JSON),
        "invalid_not_a_list": (datasets, js({"datasets": "Datadog"}), JSON),
    })


if __name__ == "__main__":
    main()
