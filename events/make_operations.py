"""Write the sample events of the management routes: delete, read-back, and the public documents.

Samples named `*_after_ingest` / `*_after_guide_sample` find what an ingest sample stores (`make
invoke E=datahub_events F=events/datahub_events/valid_guide_sample.json` first); for any other
tenant they answer 404. `valid_*` samples succeed for any key; `public` ones need no key.
Usage: python -m events.make_operations
"""

from __future__ import annotations

import json
from pathlib import Path

from events.make_events import DATAHUB_GUIDE_SAMPLE, HERE
from ingest import catalog
from local import apigw
from local.emulator import SAMPLE_KEY

BEARER = {"Authorization": f"Bearer {SAMPLE_KEY}", "Content-Type": "application/json"}
X_API_KEY = {"X-API-Key": SAMPLE_KEY}
API_TOKEN = {"Authorization": f"Api-Token {SAMPLE_KEY}"}
GUIDE_ID = DATAHUB_GUIDE_SAMPLE["events"][0]["id"]


def js(document) -> bytes:
    return json.dumps(document, indent=2).encode()


def write(endpoint_name: str, samples: dict[str, tuple[str, bytes, dict]], *, base64_body: bool = False,
          root: Path = HERE) -> None:
    """name -> (concrete path with query, body, headers); path parameters come from the route. A
    binary body (a multipart upload) is base64 in the event, as API Gateway passes it."""
    endpoint = catalog.get(endpoint_name)
    folder = root / endpoint_name
    folder.mkdir(exist_ok=True)
    for name, (path, body, headers) in samples.items():
        matched = apigw.match(endpoint.method, path)
        assert matched and matched[0] is endpoint, f"{path} is not {endpoint.method} {endpoint.path}"
        event = apigw.to_event(endpoint, matched[1], endpoint.method, path, list(headers.items()), body,
                               "203.0.113.10", base64_body=base64_body)
        event["requestContext"]["requestId"] = f"sample-{endpoint_name}-{name}"
        event["requestContext"]["requestTimeEpoch"] = 1_700_000_000_000
        (folder / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def delete_samples(path: str) -> dict[str, tuple[str, bytes, dict]]:
    return {
        "by_ids_after_guide_sample": (path, js({"dataset": "Datadog", "eventIds": [GUIDE_ID]}), BEARER),
        "valid_by_time_range": (
            path, js({"dataset": "Datadog", "startTime": "2024-02-23T00:00:00Z", "endTime": "2024-02-24T00:00:00Z"}),
            BEARER,
        ),
        "invalid_ids_and_time_range": (
            path, js({"dataset": "Datadog", "eventIds": [GUIDE_ID], "startTime": "2024-02-23T00:00:00Z",
                      "endTime": "2024-02-24T00:00:00Z"}), BEARER,
        ),
        "invalid_end_before_start": (
            path, js({"dataset": "Datadog", "startTime": "2024-02-24T00:00:00Z", "endTime": "2024-02-23T00:00:00Z"}),
            BEARER,
        ),
        "invalid_no_filter": (path, js({"dataset": "Datadog"}), BEARER),
        "missing_key": (path, js({"dataset": "Datadog", "eventIds": [GUIDE_ID]}), {"Content-Type": "application/json"}),
    }


def main() -> None:
    write("delete_datahub_events", delete_samples("/datahub/v1/events"))
    write("delete_datahub_events_by_filter", delete_samples("/datahub/v1/events/delete"))
    write("read_datahub_event", {
        "guide_sample_after_ingest": (f"/datahub/v1/events/{GUIDE_ID}?provider=Datadog", b"", BEARER),
        "invalid_missing_provider": (f"/datahub/v1/events/{GUIDE_ID}", b"", BEARER),
        "missing_key": (f"/datahub/v1/events/{GUIDE_ID}?provider=Datadog", b"", {}),
    })
    s3_id = "0" * 64  # a well-formed id nothing is stored under: answers 404
    write("read_usage_s3_event", {
        "not_found": (f"/s3/events/{s3_id}", b"", X_API_KEY),
        "invalid_id": ("/s3/events/not-a-sha256", b"", X_API_KEY),
        "missing_key": (f"/s3/events/{s3_id}", b"", {}),
    })
    write("read_usage_ec2_event", {
        "not_found": (f"/ec2/events/{s3_id}", b"", X_API_KEY),
        "invalid_id": ("/ec2/events/not-a-sha256", b"", X_API_KEY),
    })
    write("read_logs_event", {
        "same_id_sample_after_ingest": ("/v1/logs/events/same-1", b"", X_API_KEY),
        "invalid_dataset": ("/v1/bad..name/events/x", b"", X_API_KEY),
        "missing_key": ("/v1/logs/events/same-1", b"", {}),
    })
    write("read_ops_event", {
        "not_found": ("/api/v1/events/123_1700000000000", b"", API_TOKEN),
        "invalid_event_id": ("/api/v1/events/not-an-id", b"", API_TOKEN),
        "missing_token": ("/api/v1/events/123_1700000000000", b"", {}),
    })
    write("query_ops_events", {
        "valid_last_hour": ("/api/v1/events?relativeTime=hour", b"", API_TOKEN),
        "valid_by_type_and_entity": ("/api/v1/events?from=1699990000000&to=1700000000000&eventType=CUSTOM_INFO"
                                     "&entityId=HOST-0000000000000007", b"", API_TOKEN),
        "valid_default_window": ("/api/v1/events", b"", API_TOKEN),
        "invalid_from_after_to": ("/api/v1/events?from=1700000000001&to=1700000000000", b"", API_TOKEN),
        "invalid_relative_time": ("/api/v1/events?relativeTime=fortnight", b"", API_TOKEN),
        "invalid_forged_cursor": ("/api/v1/events?cursor=AgEBAAFn5IIFrgEAAAFofwDTrgAAAQAcMTY4N2RhYzViZTAtZmUxODEwOWQ5YTA1MTIyNQ",
                                  b"", API_TOKEN),
        "missing_token": ("/api/v1/events?relativeTime=hour", b"", {}),
    })
    write("openapi_document", {"public": ("/openapi.json", b"", {})})
    write("docs_page", {"public": ("/docs", b"", {})})


if __name__ == "__main__":
    main()
