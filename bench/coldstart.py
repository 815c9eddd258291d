"""Cold start: importing each handler, as whole processes, against the floor no handler can avoid.

floor   = a fresh `python -c` that imports boto3 and creates a DynamoDB client, imports pydantic, the
          Powertools Logger and Metrics and the Powertools parser.
handler = a fresh `python -c` that imports functions/<route>/handler.py (tracing off, as outside
          Lambda or with POWERTOOLS_TRACE_DISABLED), and the same with tracing on (LAMBDA_TASK_ROOT
          set, as in Lambda: the Powertools Tracer and the X-Ray SDK are imported and boto3 patched).
Processes run interleaved (floor, handlers, floor, ...) `runs` times; the figure is the median wall
time of each, and the ratio handler / floor. `python -X importtime` of one handler beside it names
where the time goes (the top cumulative imports).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = (
    "import boto3; boto3.client('dynamodb', region_name='us-east-1'); import pydantic; "
    "from aws_lambda_powertools import Logger, Metrics; from aws_lambda_powertools.utilities.parser import parse"
)
HANDLERS = ("datahub_events", "usage_s3_batch", "logs_events", "ops_events")
TARGET_RATIO = 1.15


def _handler_code(route: str) -> str:
    return f"import sys; sys.path.insert(0, {str(ROOT / 'functions' / route)!r}); import handler"


def _env(tracing: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    env["PYTHONPATH"] = f"{ROOT / 'layers' / 'runtime' / 'python'}{os.pathsep}{ROOT}"
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if tracing:
        env["LAMBDA_TASK_ROOT"] = str(ROOT)
    return env


def _time(code: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - start


def importtime_top(route: str, count: int = 8) -> list[tuple[str, float]]:
    """The largest cumulative imports of one handler (ms), from `python -X importtime`."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", _handler_code(route)], env=_env(False),
                            check=True, cwd=ROOT, capture_output=True, text=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        try:
            rows.append((name.rstrip(), int(cumulative) / 1000))
        except ValueError:
            continue
    rows.sort(key=lambda row: -row[1])
    return [(name.strip(), round(ms, 1)) for name, ms in rows[:count]]


def run(runs: int = 9) -> dict:
    off, on = _env(False), _env(True)
    samples: dict[str, list[float]] = {"floor": [], **{route: [] for route in HANDLERS}, "datahub_events+tracing": []}
    _time(FLOOR, off)  # warm the page cache
    for _ in range(runs):
        samples["floor"].append(_time(FLOOR, off))
        for route in HANDLERS:
            samples[route].append(_time(_handler_code(route), off))
        samples["datahub_events+tracing"].append(_time(_handler_code("datahub_events"), on))
    median = {name: statistics.median(values) for name, values in samples.items()}
    floor = median["floor"]
    return {
        "runs": runs,
        "floor_ms": round(floor * 1000, 1),
        "handlers": {route: {"import_ms": round(median[route] * 1000, 1), "ratio": round(median[route] / floor, 3)}
                     for route in HANDLERS},
        "tracing_on": {"route": "datahub_events", "import_ms": round(median["datahub_events+tracing"] * 1000, 1),
                       "ratio": round(median["datahub_events+tracing"] / floor, 3),
                       "over_tracing_off_ms": round((median["datahub_events+tracing"] - median["datahub_events"])
                                                    * 1000, 1)},
        "target_ratio": TARGET_RATIO,
        "importtime_top_datahub_ms": importtime_top("datahub_events"),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 9), indent=2))
