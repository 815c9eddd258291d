"""Run one synthesized Lambda function as Lambda would: executed by the deployed-layout test in a
fresh Python 3.13 process whose ``PYTHONPATH`` is the function's code asset, then the assembled
``/opt/python``, then a stand-in for the runtime's boto3 (as ``/var/task``, ``/opt/python``,
``/var/lang/...`` in Lambda) — never the repository, never the test's virtualenv.

Standard library only. ``python3.13 -P -S deployed_driver.py PLAN RESULTS``: PLAN is a JSON file
``{"id", "handler", "memory", "timeout", "calls": [{"name", "event"}]}`` (the process environment
is already the function's: the template's variables plus what Lambda sets); RESULTS receives each
call's answer (or its traceback) and where the key modules were imported from.

One function per process, as in Lambda: a function's module state (settings, clients, Powertools'
singletons, X-Ray's patching) never meets another's.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid

# Where the test wants to see each module come from (the layer, the asset, the runtime's SDK).
WATCHED_MODULES = ("ingest", "pydantic", "pydantic_core._pydantic_core", "orjson", "aws_lambda_powertools",
                   "aws_xray_sdk", "boto3", "botocore", "handler")  # fmt: skip


class Context:
    """The attributes of Lambda's context object that the handlers and Powertools read."""

    def __init__(self, function_name: str, request_id: str, memory_mb: str, timeout_s: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "deployed-layout-test"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def trace_header() -> str:
    """A sampled ``_X_AMZN_TRACE_ID`` per invocation, as Lambda sets with active tracing."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


def run(function: dict) -> dict:
    outcome: dict = {"id": function["id"], "python": sys.version, "sys_path": list(sys.path), "calls": []}
    try:
        module_name, attribute = function["handler"].rsplit(".", 1)
        entry_point = getattr(importlib.import_module(module_name), attribute)
    except BaseException:  # noqa: BLE001 - reported to the test, which fails naming the function
        outcome["import_error"] = traceback.format_exc()
        entry_point = None
    for call in function["calls"] if entry_point else ():
        os.environ["_X_AMZN_TRACE_ID"] = trace_header()
        context = Context(function["id"], str(uuid.uuid4()), function["memory"], function["timeout"])
        try:
            outcome["calls"].append({"name": call["name"], "answer": entry_point(call["event"], context)})
        except BaseException:  # noqa: BLE001
            outcome["calls"].append({"name": call["name"], "error": traceback.format_exc()})
    outcome["origins"] = {name: getattr(sys.modules.get(name), "__file__", None) for name in WATCHED_MODULES}
    # Modules loaded from the layers (/opt/python) whose bytecode was not shipped beside them.
    opt = os.path.join(function["opt"], "python") + os.sep
    outcome["uncompiled"] = sorted(
        name for name, module in list(sys.modules.items())
        if (getattr(module, "__file__", None) or "").startswith(opt) and module.__file__.endswith(".py")
        and not (getattr(module, "__cached__", None) and os.path.isfile(module.__cached__))
    )  # fmt: skip
    return outcome


def main(plan_path: str, results_path: str) -> None:
    with open(plan_path, encoding="utf-8") as handle:
        function = json.load(handle)
    outcome = run(function)
    with open(results_path, "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
