"""`make bench`: every family's pipeline against a floor measured in the same run on the same bytes.

floor    = what any validating JSON service must do with the bytes: `orjson.loads` of the body and
           validating the family's models (DataHub, usage: the family's pydantic TypeAdapter over the
           events' JSON; ops: its event model; logs, whose events are any JSON object: the type check
           and the compact size every event is held to).
pipeline = the full handler path (API Gateway event → auth → rate count → decode → validate → records
           → items → conditional puts → answer), with AWS stubbed in-process. CPU time of the whole
           process (time.process_time: the pool threads' share is counted), µs per event; the figure
           is the median of three interleaved rounds of best-of-N, so drift hits both sides alike.

Per case it also reports, from a second pass whose stub answers after a fixed latency:
* `round_trips`: the depth of the request's critical path, calls that had to wait for another's
  answer, from the stub's record of when each call started and ended (a call's depth is one more
  than the deepest call that ended before it started);
* `calls`: DynamoDB calls per request by operation;
* `write_units_per_event`: from the items actually put, by DynamoDB's rules (item size in 1 KB
  units, rounded up, for the item and for its event-time index entry), under the index projection
  of ingest.schema and, for comparison, under the former ALL projection.

The 5 MiB log body is measured in a fresh process: parse + validate throughput against
`orjson.loads` of the same bytes, and the peak memory of the whole request (tracemalloc peak as a
multiple of the body; ru_maxrss in MB). Cold start (bench.coldstart): each handler's import as a
whole process against the floor of boto3 + a DynamoDB client, pydantic, the Powertools Logger,
Metrics and parser. Everything lands in bench/results.json. Ratios, not seconds: the machine is
shared and noisy. Targets are the issue's (14); a miss is reported, it does not fail the run.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import logging
import math
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from local.environment import apply_local_defaults

apply_local_defaults()

from botocore.exceptions import ClientError  # noqa: E402

from bench.cost import item_size  # noqa: E402  (DynamoDB's size rules, one copy)
from ingest import catalog, layout, schema  # noqa: E402
from ingest.auth import generate_key, key_record  # noqa: E402
from ingest.observability import metrics  # noqa: E402
from ingest.pipeline import Pipeline  # noqa: E402
from ingest.settings import Settings  # noqa: E402
from ingest.store import PARALLEL_CALLS, Store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
TARGET_RATIO = 1.5
TARGET_ROUND_TRIPS = 4
TARGET_BIG_BODY_THROUGHPUT = 0.5  # parse + validate vs orjson.loads, same bytes
TARGET_BIG_BODY_MEMORY = 8.0  # peak memory / body
LATENCY_S = 0.1  # the round-trip pass: every stubbed call answers after this long (well over a thread hop here)
BIG_BODY_BYTES = 5 * 1024 * 1024


# --- AWS, stubbed ------------------------------------------------------------------------------------


@dataclass
class Call:
    operation: str
    start: float
    end: float = 0.0


class StubDynamoDB:
    """Answers like DynamoDB with no events stored: a key record for the key, a fresh rate window,
    every conditional put written, no problem window open. Records every call (operation, start,
    end) and every item put; with `latency`, each call answers after that long."""

    def __init__(self, key: str, tenant: str, settings: Settings, latency: float = 0.0) -> None:
        record = key_record(key, tenant)
        self.key_item = {"pk": {"S": record["prefix"]}, **{k: {"S": v} for k, v in record.items() if k != "prefix"}}
        self.keys_table = settings.keys_table
        self.latency = latency
        self.calls: list[Call] = []
        self.items: list[dict] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.calls, self.items = [], []

    def _begin(self, operation: str) -> Call:
        call = Call(operation, time.perf_counter())
        if self.latency:
            time.sleep(self.latency)
        return call

    def _end(self, call: Call, answer):
        call.end = time.perf_counter()
        with self._lock:
            self.calls.append(call)
        return answer

    def get_item(self, TableName, Key, **kwargs):
        call = self._begin("GetItem")
        return self._end(call, {"Item": self.key_item} if TableName == self.keys_table else {})

    def update_item(self, TableName, **kwargs):
        call = self._begin("UpdateItem")
        if TableName == self.keys_table:  # the per-key rate counter: a fresh window every time
            return self._end(call, {"Attributes": {"hits": {"N": "1"}}})
        self._end(call, None)
        if "ConditionExpression" not in kwargs:  # a stream record's lastUpdated, moved as events arrive
            return {}
        # an ops problem window refresh: no window is open
        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "UpdateItem")

    def put_item(self, TableName, Item, **kwargs):
        call = self._begin("PutItem")
        with self._lock:
            self.items.append(Item)
        return self._end(call, {})  # a conditional put into an empty table: written

    def batch_get_item(self, RequestItems):
        call = self._begin("BatchGetItem")
        return self._end(call, {"Responses": {table: [] for table in RequestItems}, "UnprocessedKeys": {}})


class StubS3:
    def put_object(self, **kwargs):
        return {}


def critical_path(calls: list[Call]) -> int:
    """The longest chain of calls each of which started only after the previous one ended."""
    ordered = sorted(calls, key=lambda call: call.start)
    depth: list[int] = []
    for index, call in enumerate(ordered):
        before = [depth[j] for j in range(index) if ordered[j].end <= call.start]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


# --- write units ------------------------------------------------------------------------------------


def write_units(items: list[dict], include: tuple[str, ...] | None) -> int:
    """Write units of putting these items: each item, plus its index entry when it has an event time
    (an index entry: the table's and index's keys plus the projected attributes; None: ALL)."""
    index_names = None if include is None else {"pk", "sk", layout.EVENT_TIME, *include}
    units = 0
    for item in items:
        units += math.ceil(item_size(item, exact=True) / 1024)
        if layout.EVENT_TIME in item:
            units += math.ceil(item_size(item, index_names, exact=True) / 1024)
    return units


# --- the cases --------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    family: str
    endpoint: str
    body: bytes  # as decoded (the floor's bytes)
    events: int
    floor: Callable[[], object]
    path: str | None = None
    wire_gzip: bool = False
    status: int = 200
    notes: str = ""
    extra: dict = field(default_factory=dict)


def datahub_case() -> Case:
    from ingest.families.datahub.family import DataHubFamily

    n = 255
    body = orjson.dumps({"events": [{
        "provider": "Datadog", "id": str(uuid.uuid4()),
        "dimensions": [{"key": "service_description", "value": "Devices", "type": "fixed"},
                       {"key": "region", "value": "us-east-1b", "type": "fixed"},
                       {"key": "env", "value": "prod", "type": "label"},
                       {"key": "team", "value": "alpha", "type": "label"}],
        "time": "2024-02-23T12:00:00.00Z",
        "metrics": [{"value": 352 + i, "type": "cost"}, {"value": 36, "type": "usage"}],
    } for i in range(n)]})
    events_json = orjson.dumps(orjson.loads(body)["events"])
    adapter = DataHubFamily.list_adapter
    return Case("datahub_255", "datahub", "datahub_events", body, n,
                lambda: (orjson.loads(body), adapter.validate_json(events_json)), status=201)


def usage_case() -> Case:
    route = catalog.get("usage_s3_batch")
    n = 1_000
    # A mix of the documented shapes (object reads and writes with sizes and attribution, a bucket
    # listing), each event distinct so all 1,000 are stored.
    events = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            event = {"action": "GetObject", "bucket": "reports", "objectKey": f"2024/03/{i:05d}/summary.pdf",
                     "bytes": 52_341 + i, "versionId": "v3", "customerId": f"cust-{i % 17}",
                     "featureId": "report-download", "clientType": "web", "clientId": "app-7"}
        elif kind == 1:
            event = {"action": "PutObject", "bucket": "uploads", "objectKey": f"avatars/{i}.png", "bytes": 18_220,
                     "objectCategory": "avatar", "fileType": "image/png", "isSynthetic": False,
                     "customerId": f"cust-{i % 17}"}
        elif kind == 2:
            event = {"action": "HeadObject", "bucket": "reports", "objectKey": f"2024/03/{i:05d}/summary.pdf"}
        else:
            event = {"action": "ListBuckets", "customerId": f"cust-{i}"}
        events.append({**event, "timestamp": "2024-03-01T12:00:00Z", "provider": "aws"})
    body = orjson.dumps(events)
    adapter = route.impl.bind(route, Settings()).list_adapter
    return Case("usage_1000", "usage", "usage_s3_batch", body, n,
                lambda: (orjson.loads(body), adapter.validate_json(body)))


def _logs_floor(body: bytes, max_event_bytes: int):
    def floor():
        for event in orjson.loads(body):
            if not isinstance(event, dict) or len(orjson.dumps(event)) > max_event_bytes:
                raise ValueError
    return floor


def logs_small_case() -> Case:
    from ingest.families.logs.family import MAX_EVENT_BYTES

    n = 5_000
    body = orjson.dumps([{"id": f"req-{i}", "message": "GET /checkout 200", "level": "info", "duration": 12.5 + i,
                          "timestamp": "2024-03-01T12:00:00Z", "service": {"name": "checkout", "version": "1.4.2"}}
                         for i in range(n)])
    return Case("logs_5000_small", "logs", "logs_events", body, n, _logs_floor(body, MAX_EVENT_BYTES),
                path="/v1/bench-small", status=202)


def logs_big_body() -> bytes:
    n = 2_500
    filler = "x" * 1_900
    body = orjson.dumps([{"id": f"big-{i}", "message": f"{i} {filler}", "level": "warn", "attempt": i,
                          "timestamp": "2024-03-01T12:00:00Z", "tags": ["a", "b", "c"]} for i in range(n)])
    pad = BIG_BODY_BYTES - len(body)
    assert pad > 0
    # one more event of the remaining size: the body is 5 MiB exactly
    extra = orjson.dumps({"id": "big-last", "message": "y" * max(0, pad - 40)})
    body = body[:-1] + b"," + extra + b"]"
    while len(body) > BIG_BODY_BYTES:
        body = body.replace(b"yy", b"y", len(body) - BIG_BODY_BYTES)
    return body


def logs_big_case() -> Case:
    from ingest.families.logs.family import MAX_EVENT_BYTES

    body = logs_big_body()
    return Case("logs_5mib_body", "logs", "logs_events", body, len(orjson.loads(body)),
                _logs_floor(body, MAX_EVENT_BYTES), path="/v1/bench-big", wire_gzip=True, status=202)


def ops_cases() -> list[Case]:
    from ingest.families.ops.family import OpsFamily

    bodies = {
        "ops_custom_info": {"eventType": "CUSTOM_INFO", "attachRules": {"entityIds": ["HOST-0000000000000007"]},
                            "source": "OpsControl", "description": "nightly batch finished"},
        "ops_custom_deployment": {"eventType": "CUSTOM_DEPLOYMENT",
                                  "attachRules": {"entityIds": ["HOST-0000000000000007"]}, "source": "OpsControl",
                                  "deploymentName": "checkout-deploy-42", "deploymentVersion": "1.4.2"},
        "ops_error_event": {"eventType": "ERROR_EVENT", "attachRules": {"entityIds": ["HOST-0000000000000007"]},
                            "source": "OpsControl", "title": "Error rate up", "description": "5xx above 2%"},
    }
    cases = []
    for name, document in bodies.items():
        body = orjson.dumps(document)
        cases.append(Case(name, "ops", "ops_events", body, 1,
                          lambda body=body: OpsFamily.adapter.validate_python(orjson.loads(body))))
    return cases


# --- running a case ---------------------------------------------------------------------------------


def credential(endpoint: str, key: str) -> tuple[str, str]:
    scheme = catalog.get(endpoint).auth
    return scheme.header, f"{scheme.word} {key}" if scheme.word else key


def api_event(case: Case, key: str, prefix: str, tenant: str) -> dict:
    from local import apigw

    endpoint = catalog.get(case.endpoint)
    path = case.path or endpoint.path
    wire = gzip.compress(case.body, 1) if case.wire_gzip else case.body
    headers = [credential(case.endpoint, key), ("Content-Type", "application/json")]
    if case.wire_gzip:
        headers.append(("Content-Encoding", "gzip"))
    params = (apigw.match(endpoint.method, path) or (None, {}))[1]
    event = apigw.to_event(endpoint, params, endpoint.method, path, headers, wire, "127.0.0.1")
    # As API Gateway passes it on once the edge authorizer has let the key through (ingest.authorizer).
    event["requestContext"]["authorizer"] = {"principalId": tenant, "tenant": tenant, "keyPrefix": prefix}
    return event


def pipeline_for(case: Case, stub: StubDynamoDB) -> Pipeline:
    settings = Settings()
    return Pipeline(catalog.get(case.endpoint), settings, Store(settings, dynamodb=stub, s3=StubS3()))


def handler(case: Case, pipeline: Pipeline, event: dict) -> Callable[[], None]:
    def handle():
        response = pipeline.handle(event)
        metrics.clear_metrics()  # the Lambda decorator flushes per invocation; stdout I/O is not pipeline CPU
        if response["statusCode"] != case.status:
            raise AssertionError(f"{case.name}: {response['statusCode']} {response['body'][:300]}")
    return handle


def best_of(fn, repeats: int, inner: int) -> float:
    """Seconds per call: the minimum over repeats (the least disturbed run) of the mean of inner calls."""
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(inner):
            fn()
        samples.append((time.process_time() - start) / inner)
    return min(samples)


def inner_for(fn, target_s: float = 0.08) -> int:
    start = time.process_time()
    fn()
    once = max(time.process_time() - start, 1e-6)
    return max(1, min(200, round(target_s / once)))


def run_case(case: Case, repeats: int, quick: bool) -> dict:
    key, tenant = generate_key(), "bench"
    prefix = key.split(".")[0]
    stub = StubDynamoDB(key, tenant, Settings())
    pipeline = pipeline_for(case, stub)
    event = api_event(case, key, prefix, tenant)
    handle = handler(case, pipeline, event)
    handle()  # warm up, and check the stub answers as DynamoDB would
    stub.reset()
    handle()
    items = list(stub.items)
    inner = inner_for(handle)
    floor_inner = inner_for(case.floor)
    floors, pipelines = [], []
    for _ in range(1 if quick else 3):
        floors.append(best_of(case.floor, repeats, floor_inner))
        pipelines.append(best_of(handle, repeats, inner))
    floor_s, pipeline_s = statistics.median(floors), statistics.median(pipelines)

    # The round-trip pass: a fresh pipeline (its stream shard records not cached yet: a cold
    # process's first request) and then the same again (warm), every call answering after LATENCY_S.
    slow = StubDynamoDB(key, tenant, Settings(), latency=LATENCY_S)
    slow_pipeline = pipeline_for(case, slow)
    slow_handle = handler(case, slow_pipeline, event)
    slow_handle()
    cold_calls = list(slow.calls)
    slow.reset()
    slow_handle()
    warm_calls = list(slow.calls)
    counts: dict[str, int] = {}
    for call in warm_calls:
        counts[call.operation] = counts.get(call.operation, 0) + 1
    return {
        "events_per_request": case.events,
        "body_bytes": len(case.body),
        "floor_us_per_event": round(floor_s / case.events * 1e6, 2),
        "pipeline_us_per_event": round(pipeline_s / case.events * 1e6, 2),
        "ratio": round(pipeline_s / floor_s, 2),
        "write_units_per_event": round(write_units(items, layout.EVENT_TIME_INDEX_INCLUDE) / case.events, 2),
        "write_units_per_event_all_projection": round(write_units(items, None) / case.events, 2),
        "round_trips": critical_path(warm_calls),
        "round_trips_first_request": critical_path(cold_calls),
        "calls": counts,
    }


def memory_kib(field: str) -> int:
    """VmRSS (resident now) or VmHWM (its peak) of this process, from /proc/self/status. Not
    ru_maxrss: Linux carries that over from the parent across fork and exec, so a child of a big
    parent would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak_rss() -> None:
    """Start VmHWM afresh from the resident size now (Linux 4.0+); harmless where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def big_body_measure(event_file: Path) -> dict:
    """In a fresh process: the whole request's peak memory for the 5 MiB log body (the process's
    peak RSS during it, VmHWM, less its resident size just before, the decoded body never having
    existed before; and
    tracemalloc's peak, which also counts what orjson reserves and never touches), then parse +
    validate of the body against orjson.loads of the same bytes."""
    import gc
    import tracemalloc

    from ingest.request import Request

    logging.getLogger("ingest-api").setLevel(logging.WARNING)
    saved = json.loads(event_file.read_text())
    key, tenant, event = saved["key"], saved["tenant"], saved["event"]
    route = catalog.get("logs_events")
    case = Case("logs_5mib_body", "logs", "logs_events", b"", saved["events"], lambda: None, status=202)
    stub = StubDynamoDB(key, tenant, Settings())
    pipeline = pipeline_for(case, stub)
    # Imports, clients and every pool thread (a process's, not a request's: a warm Lambda has them
    # all): everything but the body. Then the body, its peak over what the process held before.
    warm = orjson.dumps([{"id": f"warm-{i}"} for i in range(2 * PARALLEL_CALLS)])
    warm = api_event(Case("warm", "logs", "logs_events", warm, 2 * PARALLEL_CALLS, lambda: None,
                          path="/v1/bench-big", status=202), key, key.split(".")[0], tenant)
    for _ in range(3):
        handler(case, pipeline, warm)()
    stub.reset()
    gc.collect()
    before = memory_kib("VmRSS")
    reset_peak_rss()
    handler(case, pipeline, event)()
    after = memory_kib("VmHWM")
    stub.reset()
    gc.collect()
    tracemalloc.start()
    handler(case, pipeline, event)()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    body = gzip.decompress(base64.b64decode(event["body"]) if event.get("isBase64Encoded") else event["body"].encode())
    request = Request.from_apigw({**event, "body": body.decode(), "isBase64Encoded": False,
                                  "multiValueHeaders": {k: v for k, v in event["multiValueHeaders"].items()
                                                        if k.lower() != "content-encoding"}})
    family = route.impl.bind(route, Settings())
    limits = Settings().limits_for(route)

    def parse_validate():
        family.validate(family.extract(family.parse(body, request), request, limits))

    def loads():
        orjson.loads(body)

    loads_s = statistics.median(best_of(loads, 5, 3) for _ in range(3))
    parse_s = statistics.median(best_of(parse_validate, 5, 3) for _ in range(3))
    growth = (after - before) * 1024
    return {
        "body_bytes": len(body),
        "orjson_loads_mb_per_s": round(len(body) / loads_s / 1e6, 1),
        "parse_validate_mb_per_s": round(len(body) / parse_s / 1e6, 1),
        "throughput_vs_orjson_loads": round(loads_s / parse_s, 2),
        "peak_rss_mb": round(after / 1024, 1),
        "peak_rss_growth_mb": round(growth / 1e6, 1),
        "peak_memory_vs_body": round(growth / len(body), 2),
        "peak_traced_mb": round(traced_peak / 1e6, 1),
        "peak_traced_vs_body": round(traced_peak / len(body), 2),
    }


def big_body_subprocess() -> dict:
    import tempfile

    case = logs_big_case()
    key, tenant = generate_key(), "bench"
    event = api_event(case, key, key.split(".")[0], tenant)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"key": key, "tenant": tenant, "events": case.events, "event": event}, handle)
    try:
        result = subprocess.run([sys.executable, "-m", "bench.bench_pipeline", "--big-body-only", handle.name],
                                cwd=ROOT, capture_output=True, text=True, check=True)
    finally:
        Path(handle.name).unlink()
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- all of it ----------------------------------------------------------------------------------------


def targets(results: dict) -> list[str]:
    misses = []
    for name, result in results["families"].items():
        if result["ratio"] > TARGET_RATIO:
            misses.append(f"{name}: pipeline {result['ratio']}x its floor (target <= {TARGET_RATIO}x)")
    for name in ("datahub_255", "usage_1000"):
        trips = results["families"][name]["round_trips"]
        if trips > TARGET_ROUND_TRIPS:
            misses.append(f"{name}: {trips} sequential round trips (target <= {TARGET_ROUND_TRIPS})")
    big = results["families"]["logs_5mib_body"]
    if big["throughput_vs_orjson_loads"] < TARGET_BIG_BODY_THROUGHPUT:
        misses.append(f"logs_5mib_body: parse + validate at {big['throughput_vs_orjson_loads']}x orjson.loads "
                      f"(target >= {TARGET_BIG_BODY_THROUGHPUT}x)")
    if big["peak_memory_vs_body"] > TARGET_BIG_BODY_MEMORY:
        misses.append(f"logs_5mib_body: peak memory {big['peak_memory_vs_body']}x the body "
                      f"(target <= {TARGET_BIG_BODY_MEMORY}x)")
    cold = results.get("cold_start")
    if cold:
        for route, figure in cold["handlers"].items():
            if figure["ratio"] > cold["target_ratio"]:
                misses.append(f"cold start {route}: {figure['ratio']}x the import floor "
                              f"(target <= {cold['target_ratio']}x)")
    return misses


def run(repeats: int, quick: bool, cold_runs: int) -> dict:
    logging.getLogger("ingest-api").setLevel(logging.WARNING)  # the request log line is I/O, not pipeline CPU
    cases = [datahub_case(), usage_case(), logs_small_case(), logs_big_case(), *ops_cases()]
    families = {}
    for case in cases:
        families[case.name] = {"family": case.family, **run_case(case, repeats, quick)}
        print(f"  {case.name:24s} ratio {families[case.name]['ratio']:5.2f}x  "
              f"round trips {families[case.name]['round_trips']}", file=sys.stderr, flush=True)
    families["logs_5mib_body"].update(big_body_subprocess())
    results = {
        "command": "make bench",
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                    "platform": platform.platform()},
        "index_projection": schema.projection_of(schema.EVENTS.indexes[0]),
        "latency_pass_s": LATENCY_S,
        "families": families,
    }
    if cold_runs:
        from bench import coldstart

        results["cold_start"] = coldstart.run(cold_runs)
    results["targets_missed"] = targets(results)
    return results


def report(results: dict) -> None:
    print(f"{'case':24s} {'floor µs/ev':>11s} {'pipeline µs/ev':>14s} {'ratio':>6s} {'WCU/ev':>7s} "
          f"{'(ALL)':>6s} {'trips':>5s} {'(1st)':>5s}")
    for name, r in results["families"].items():
        print(f"{name:24s} {r['floor_us_per_event']:11.2f} {r['pipeline_us_per_event']:14.2f} {r['ratio']:5.2f}x "
              f"{r['write_units_per_event']:7.2f} {r['write_units_per_event_all_projection']:6.2f} "
              f"{r['round_trips']:5d} {r['round_trips_first_request']:5d}")
    big = results["families"]["logs_5mib_body"]
    print(f"5 MiB log body: parse + validate {big['throughput_vs_orjson_loads']}x orjson.loads throughput; "
          f"peak memory {big['peak_memory_vs_body']}x the body (RSS growth {big['peak_rss_growth_mb']} MB; "
          f"tracemalloc peak {big['peak_traced_vs_body']}x)")
    cold = results.get("cold_start")
    if cold:
        print(f"cold start (median of {cold['runs']} processes): floor {cold['floor_ms']} ms; " + ", ".join(
            f"{route} {figure['ratio']}x" for route, figure in cold["handlers"].items())
            + f"; tracing on +{cold['tracing_on']['over_tracing_off_ms']} ms ({cold['tracing_on']['ratio']}x)")
    for miss in results["targets_missed"]:
        print(f"OVER TARGET: {miss}")
    if not results["targets_missed"]:
        print("every target holds")


def main() -> int:
    parser = argparse.ArgumentParser(description="every family's pipeline vs its floor; writes bench/results.json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=9, help="process pairs for the cold start (0: skip)")
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--big-body-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.big_body_only:
        print(json.dumps(big_body_measure(args.big_body_only)))
        return 0
    results = run(args.repeats, args.quick, args.cold_runs)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    print(f"written: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
