"""Pipeline CPU per event for a 255-event DataHub batch, against a floor measured in the same run.

floor    = orjson.loads(body) + TypeAdapter(list[DataHubEvent]).validate_json(events): the least any
           validating JSON service must do with these bytes.
pipeline = the full handler path (APIGW event → auth → decode → validate → records → items →
           conditional puts, in parallel → response), with AWS stubbed in-process. CPU time of the
           whole process (time.process_time), so the worker threads' share is counted.
Reported as a ratio (target ≤ 3×) plus DynamoDB calls per request and the sequential round trips
on the request's critical path (key lookup, rate counter, then the puts, PARALLEL_CALLS at a time).
Ratios, not seconds: this machine is shared and noisy. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import statistics
import time
import uuid

import orjson

from local.environment import apply_local_defaults

apply_local_defaults()

from ingest import catalog  # noqa: E402
from ingest.auth import generate_key, key_record  # noqa: E402
from ingest.families.datahub.family import DataHubFamily  # noqa: E402
from ingest.observability import metrics  # noqa: E402
from ingest.pipeline import Pipeline  # noqa: E402
from ingest.settings import Settings  # noqa: E402
from ingest.store import PARALLEL_CALLS, Store  # noqa: E402

EVENTS_PER_REQUEST = 255
TARGET_RATIO = 3.0


class StubDynamoDB:
    """Answers like DynamoDB with nothing stored; counts calls by operation."""

    def __init__(self, key: str, tenant: str) -> None:
        record = key_record(key, tenant)
        self.key_item = {"pk": {"S": record["prefix"]}, **{k: {"S": v} for k, v in record.items() if k != "prefix"}}
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def get_item(self, **kwargs):
        self._count("GetItem")
        return {"Item": self.key_item}

    def update_item(self, **kwargs):
        self._count("UpdateItem")
        return {"Attributes": {"hits": {"N": "1"}}}  # the per-key rate counter: a fresh window every time

    def batch_get_item(self, RequestItems):
        self._count("BatchGetItem")
        return {"Responses": {table: [] for table in RequestItems}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems):
        self._count("BatchWriteItem")
        return {"UnprocessedItems": {}}

    def put_item(self, **kwargs):
        self._count("PutItem")  # a conditional put into an empty table: written
        return {}


def round_trips(calls: dict[str, int]) -> int:
    """Calls on the critical path, one after another: each single call, and the puts in
    PARALLEL_CALLS lanes that run at once (each lane's puts one after another)."""
    singles = sum(count for name, count in calls.items() if name not in ("PutItem", "BatchWriteItem"))
    return singles + math.ceil(calls.get("PutItem", 0) / PARALLEL_CALLS) + calls.get("BatchWriteItem", 0)


def make_body(n: int) -> bytes:
    return json.dumps(
        {
            "events": [
                {
                    "provider": "Datadog",
                    "id": str(uuid.uuid4()),
                    "dimensions": [
                        {"key": "service_description", "value": "Devices", "type": "fixed"},
                        {"key": "region", "value": "us-east-1b", "type": "fixed"},
                        {"key": "env", "value": "prod", "type": "label"},
                        {"key": "team", "value": "alpha", "type": "label"},
                    ],
                    "time": "2024-02-23T12:00:00.00Z",
                    "metrics": [{"value": 352 + i, "type": "cost"}, {"value": 36, "type": "usage"}],
                }
                for i in range(n)
            ]
        }
    ).encode()


def best_of(fn, repeats: int, inner: int) -> float:
    """Seconds per call: the minimum over repeats (the least disturbed run) of the mean of inner calls."""
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(inner):
            fn()
        samples.append((time.process_time() - start) / inner)
    return min(samples)


def run(repeats: int, inner: int) -> dict:
    key, tenant = generate_key(), "bench"
    body = make_body(EVENTS_PER_REQUEST)
    events_json = orjson.dumps(orjson.loads(body)["events"])
    adapter = DataHubFamily.list_adapter

    def floor():
        orjson.loads(body)
        adapter.validate_json(events_json)

    stub = StubDynamoDB(key, tenant)
    pipeline = Pipeline(catalog.get("datahub_events"), Settings(), Store(Settings(), dynamodb=stub, s3=object()))
    event = {
        "httpMethod": "POST",
        "path": "/datahub/v1/events",
        "multiValueHeaders": {"Authorization": [f"Bearer {key}"], "Content-Type": ["application/json"]},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
        "requestContext": {"requestId": "bench"},
    }

    def handle():
        response = pipeline.handle(event)
        metrics.clear_metrics()  # the Lambda decorator flushes per invocation; stdout I/O is not pipeline CPU
        assert response["statusCode"] == 201, response

    import logging

    logging.getLogger("ingest-api").setLevel(logging.WARNING)  # the request log line is I/O, not pipeline CPU
    handle()  # warm up, and check the stub answers as DynamoDB would
    stub.calls.clear()
    handle()
    calls_per_request = dict(stub.calls)

    floors, pipelines = [], []
    for _ in range(3):  # interleave so drift hits both sides alike
        floors.append(best_of(floor, repeats, inner))
        pipelines.append(best_of(handle, repeats, inner))
    floor_s, pipeline_s = statistics.median(floors), statistics.median(pipelines)
    return {
        "events_per_request": EVENTS_PER_REQUEST,
        "floor_us_per_event": round(floor_s / EVENTS_PER_REQUEST * 1e6, 2),
        "pipeline_us_per_event": round(pipeline_s / EVENTS_PER_REQUEST * 1e6, 2),
        "ratio_to_floor": round(pipeline_s / floor_s, 2),
        "target_ratio": TARGET_RATIO,
        "dynamodb_calls_per_request": calls_per_request,
        "sequential_round_trips": round_trips(calls_per_request),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="DataHub pipeline CPU vs floor")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inner", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.repeats, args.inner)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"DataHub, {result['events_per_request']} events/request")
        print(f"  floor    (orjson.loads + validate_json): {result['floor_us_per_event']:8.2f} µs/event")
        print(f"  pipeline (handler, AWS stubbed)        : {result['pipeline_us_per_event']:8.2f} µs/event")
        print(f"  ratio {result['ratio_to_floor']}× (target ≤ {TARGET_RATIO}×)")
        print(f"  DynamoDB calls/request {result['dynamodb_calls_per_request']}, "
              f"{result['sequential_round_trips']} sequential round trips")
    ok = result["ratio_to_floor"] <= TARGET_RATIO
    print("PASS" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
