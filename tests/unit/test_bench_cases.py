"""`make bench` measures the real pipeline: every case must still go through it end to end against the
stub (a stub that answers unlike DynamoDB would make the benchmark measure an error path, or crash)."""

from __future__ import annotations

import pytest

from bench import bench_pipeline as bench
from ingest.auth import generate_key
from ingest.settings import Settings

CASES = {case.name: case for case in (bench.datahub_case(), bench.usage_case(), bench.logs_small_case(),
                                      *bench.ops_cases())}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_bench_case_stores_all_its_events_through_the_pipeline(name: str) -> None:
    case = CASES[name]
    key = generate_key()
    stub = bench.StubDynamoDB(key, "bench", Settings())
    handle = bench.handler(case, bench.pipeline_for(case, stub), bench.api_event(case, key, key.split(".")[0], "bench"))
    handle()  # raises unless the family's success status came back
    events = [item for item in stub.items if "payload" in item]
    assert len(events) == case.events  # every event written once, none lost to a stub error
    assert len({(item["pk"]["S"], item["sk"]["S"]) for item in events}) == case.events


def test_the_critical_path_counts_calls_that_waited_for_another() -> None:
    calls = [bench.Call("GetItem", 0.0, 1.0), bench.Call("UpdateItem", 0.0, 1.0),  # in parallel: depth 1
             bench.Call("PutItem", 1.0, 2.0), bench.Call("PutItem", 1.5, 2.5),  # each after the first two: 2
             bench.Call("PutItem", 2.5, 3.0)]  # after both puts: 3
    assert bench.critical_path(calls) == 3
    assert bench.critical_path([]) == 0
