"""Write the sample API Gateway events under events/ from readable bodies (re-run after edits).

Every file is a complete REST proxy event, as the deployed API would deliver it, carrying the
sample key `local.emulator.SAMPLE_KEY` (registered by `make invoke` and the tests).
Usage: python -m events.make_events
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ingest import catalog
from local import apigw
from local.emulator import SAMPLE_KEY

HERE = Path(__file__).resolve().parent

# DataHub guide (seed 002) sample request, trailing commas removed.
DATAHUB_GUIDE_SAMPLE = {
    "events": [
        {
            "cloud": "Datadog",
            "id": "12345678-1234-1234-1234-123412341234",
            "dimensions": [
                {"key": "service_description", "value": "Devices", "type": "fixed"},
                {"key": "region", "value": "us-east-1b", "type": "fixed"},
                {"key": "zone", "value": "us-east-1b", "type": "fixed"},
                {"key": "env", "value": "prod", "type": "label"},
                {"key": "team", "value": "alpha", "type": "label"},
                {"key": "department", "value": "rnd", "type": "project_label"},
            ],
            "time": "2024-02-23T12:00:00.00Z",
            "metrics": [{"value": 352, "type": "cost"}, {"value": 36, "type": "usage"}],
        }
    ]
}

# The same sample exactly as the guide prints it: trailing commas, so not valid JSON.
DATAHUB_GUIDE_SAMPLE_AS_PRINTED = b"""{
"events": [
    {
      "cloud": "Datadog",
      "id": "12345678-1234-1234-1234-123412341234",
      "dimensions": [
        {
          "key": "zone",
          "value": "us-east-1b",
          "type": "fixed",
        }
       ],
      "time": "2024-02-23T12:00:00.00Z",
      "metrics": [
        {
          "value": 352,
          "type": "cost",
         }
        ]
      }
  ]
}
"""


def _event(provider: str = "Datadog", **fields) -> dict:
    return {"provider": provider, "time": "2024-03-10T23:00:00Z", **fields}


def datahub_samples() -> dict[str, tuple[bytes, dict]]:
    """name -> (body, extra headers)"""
    js = lambda doc: json.dumps(doc, indent=2).encode()  # noqa: E731
    auth = {"Authorization": f"Bearer {SAMPLE_KEY}", "Content-Type": "application/json"}
    return {
        "valid_guide_sample": (js(DATAHUB_GUIDE_SAMPLE), auth),
        "valid_provider_no_id": (js({"events": [_event(metrics=[{"type": "cost", "value": 10.5}])]}), auth),
        "valid_boolean_dimension": (
            js({"events": [_event(id="evt-bool-1", dimensions=[{"type": "label", "key": "spot", "value": True}])]}),
            auth,
        ),
        "valid_gzip": (gzip.compress(js(DATAHUB_GUIDE_SAMPLE)), {**auth, "Content-Encoding": "gzip"}),
        "valid_duplicate_ids_in_batch": (
            js({"events": [_event(id="dup-1", metrics=[{"type": "cost", "value": 1}]),
                           _event(id="dup-1", metrics=[{"type": "cost", "value": 2}])]}),
            auth,
        ),
        "invalid_fixed_dimension_key": (
            js({"events": [_event(id="ok-1"), _event(id="bad-1", dimensions=[{"type": "fixed", "key": "team", "value": "a"}])]}),
            auth,
        ),
        "invalid_missing_time": (js({"events": [{"provider": "Datadog", "id": "no-time"}]}), auth),
        "invalid_time_without_zone": (js({"events": [_event(time="2024-03-10T23:00:00")]}), auth),
        "invalid_provider_characters": (js({"events": [_event(provider="Data/dog")]}), auth),
        "invalid_dimension_type": (js({"events": [_event(dimensions=[{"type": "tag", "key": "a", "value": "b"}])]}), auth),
        "invalid_metric_value": (js({"events": [_event(metrics=[{"type": "cost", "value": "12"}])]}), auth),
        "malformed_json_trailing_commas": (DATAHUB_GUIDE_SAMPLE_AS_PRINTED, auth),
        "empty_body": (b"", auth),
        "not_an_object": (b"[]", auth),
        "events_missing": (js({"evts": []}), auth),
        "events_not_a_list": (js({"events": {"provider": "x"}}), auth),
        "events_empty": (js({"events": []}), auth),
        "too_many_events": (js({"events": [_event(id=f"e{i}") for i in range(256)]}), auth),
        "missing_key": (js(DATAHUB_GUIDE_SAMPLE), {"Content-Type": "application/json"}),
        "wrong_key": (js(DATAHUB_GUIDE_SAMPLE), {"Authorization": "Bearer NOTAKEY1." + "A" * 48}),
        "wrong_scheme": (js(DATAHUB_GUIDE_SAMPLE), {"Authorization": f"Basic {SAMPLE_KEY}"}),
    }


def write(endpoint_name: str, samples: dict[str, tuple[bytes, dict]], query: str = "") -> None:
    endpoint = catalog.get(endpoint_name)
    folder = HERE / endpoint_name
    folder.mkdir(exist_ok=True)
    for name, (body, headers) in samples.items():
        path = endpoint.path + query
        binary = "Content-Encoding" in headers
        event = apigw.to_event(endpoint, {}, endpoint.method, path, list(headers.items()), body, "203.0.113.10",
                               base64_body=binary)
        event["requestContext"]["requestId"] = f"sample-{endpoint_name}-{name}"
        event["requestContext"]["requestTimeEpoch"] = 1_700_000_000_000
        (folder / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    write("datahub_events", datahub_samples())
