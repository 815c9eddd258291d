"""Cost per million events per ingest route: ``make cost ENV=prod`` (``python -m bench.cost``) writes docs/cost.md.

Everything that can be read is read, not assumed:

* from the synthesized template (``cdk.out/<env>/IngestApi-<env>.template.json``): each function's
  memory and architecture, the events table's billing mode and the event-time index's projection,
  log retention, the authorizer's cache TTL, and the ``INGEST_LIMITS`` a route's batch size comes from;
* from the service itself: every route's ``valid*`` sample events under ``events/`` are sent through
  the route's real handler against an in-process moto, and the items it wrote are read back from
  the table, sized by DynamoDB's rules (attribute names + values, 1 KB write units, 100 bytes of
  storage overhead per item and per index entry), the index entry sized from the template's
  projection; its log lines and EMF metrics are captured and measured.

What is assumed is named below (``ASSUMED_*``) and printed with the table, with the prices: AWS's
published us-east-1 on-demand list prices, no free tier, no savings plans.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
DOC = REPO_ROOT / "docs" / "cost.md"
SAMPLE_KEY = "SAMPLE01.aW5nZXN0LWFwaSBzYW1wbGUga2V5OiBldmVudHMvIG9ubHkh"

# --- prices: us-east-1, on-demand list prices (USD) --------------------------------------------
PRICES_AS_OF = "2025-06 (aws.amazon.com/<service>/pricing, us-east-1)"
DYNAMODB_WRITE_PER_MILLION_WRU = 0.625  # on-demand write request units (price of Nov 2024)
DYNAMODB_READ_PER_MILLION_RRU = 0.125  # on-demand read request units
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25  # Standard table class
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334  # arm64, first 7.5 billion GB-s a month
LAMBDA_X86_PER_GB_SECOND = 0.0000166667
LAMBDA_PER_MILLION_REQUESTS = 0.20
APIGW_REST_PER_MILLION_REQUESTS = 3.50  # REST API, first 333 million a month
CLOUDWATCH_LOGS_INGEST_PER_GB = 0.50  # standard log class (Lambda and API Gateway logs, EMF lines)
CLOUDWATCH_LOGS_STORAGE_PER_GB_MONTH = 0.03

# --- what cannot be read from the template or measured here ------------------------------------
# Billed duration of one invocation: the handler's CPU on this machine is not Lambda's, and a
# noisy shared machine cannot time it (make bench reports CPU per event as a ratio instead).
ASSUMED_BASE_MS_PER_REQUEST = 40.0  # key lookup + rate counter + response, warm
ASSUMED_MS_PER_EVENT = 0.5  # validation + one conditional put (64 in parallel)
# Lambda's START/END/REPORT lines per invocation, and one API Gateway access log line.
ASSUMED_PLATFORM_LOG_BYTES = 330
ASSUMED_ACCESS_LOG_BYTES = 400
# The handler authenticates every request again: one GetItem (strongly consistent: 1 RRU) on the
# keys table, and one rate counter UpdateItem (1 WRU). Authorizer calls are left out when its
# answers are cached (TTL > 0): one call per key per TTL, not per request.
KEY_LOOKUP_RRU_PER_REQUEST = 1
RATE_COUNTER_WRU_PER_REQUEST = 1
DYNAMODB_ITEM_OVERHEAD_BYTES = 100
KB = 1024
GB = 1024**3


# --- DynamoDB item size ---------------------------------------------------------------------------


def number_size(text: str, exact: bool = False) -> int:
    """DynamoDB: about one byte per two significant digits, plus one. Trailing zeros are counted (DynamoDB
    trims them): an upper bound that does not change with the clock (a timestamp ending in 0); `exact`
    trims them as DynamoDB does."""
    digits = text.lstrip("-").replace(".", "")
    digits = (digits.strip("0") if exact else digits.lstrip("0")) or "0"
    return math.ceil(len(digits) / 2) + 1


# Generated numeric ids (an ops event id is a signed 64-bit decimal, 1 to 20 digits and maybe a sign), and
# with them any run of 12 or more digits (a millisecond timestamp in a string), are counted at a sign and
# 20 digits wherever they appear: an upper bound that does not change with the id drawn or the clock.
# A UUID is 36 characters whatever is drawn, so UUIDs are masked first: a derived id (a uuid5 of the
# tenant, drawn fresh per run) whose last group happens to be all digits must not count as a 20-digit id.
_LONG_DIGITS_BYTES = re.compile(rb"-?\d{12,20}")
_UUID_BYTES = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _stable(data: bytes) -> int:
    return len(_LONG_DIGITS_BYTES.sub(b"-" + b"0" * 20, _UUID_BYTES.sub(b"u" * 36, data)))


def value_size(value: dict[str, Any], exact: bool = False) -> int:
    """DynamoDB's size of one attribute value: the stable upper bound the cost table uses, or with
    `exact` the size DynamoDB bills for these very bytes (bench.bench_pipeline's write units)."""
    (kind, inner), = value.items()
    if kind in ("S", "B"):
        raw = inner.encode() if isinstance(inner, str) else bytes(inner)
        return len(raw) if exact else _stable(raw)
    if kind == "N":
        return number_size(inner, exact)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS",):
        return sum(len(v.encode()) for v in inner)
    if kind == "NS":
        return sum(number_size(v, exact) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v, exact) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v, exact) + 1 for v in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]], attributes: set[str] | None = None, *, exact: bool = False) -> int:
    return sum(len(name.encode()) + value_size(value, exact) for name, value in item.items()
               if attributes is None or name in attributes)  # fmt: skip


# --- the template -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    """What the cost depends on, as the template says."""

    billing_mode: str
    table_keys: tuple[str, ...]
    index: dict[str, Any] | None  # the event-time GSI: KeySchema + Projection
    functions: dict[str, dict[str, Any]]  # endpoint name → {memory_mb, arm64, environment}
    log_retention_days: int
    authorizer_ttl_seconds: int


def read_template(template: dict, events_table_name: str = "EventsTable") -> Deployed:
    resources = template["Resources"]
    tables = [r for lid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table" and events_table_name in lid]
    if len(tables) != 1:
        raise ValueError(f"expected one events table ({events_table_name}) in the template, found {len(tables)}")
    table = tables[0]["Properties"]
    indexes = table.get("GlobalSecondaryIndexes", [])
    functions = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Lambda::Function" or not props.get("Runtime", "").startswith("python"):
            continue
        if props.get("Handler") != "handler.lambda_handler":
            continue
        description = props.get("Description", "")
        functions[description] = {
            "memory_mb": props.get("MemorySize", 128),
            "arm64": props.get("Architectures", ["x86_64"]) == ["arm64"],
            "environment": {k: v for k, v in props.get("Environment", {}).get("Variables", {}).items() if isinstance(v, str)},
        }
    retention = [r["Properties"].get("RetentionInDays") for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    ttls = [r["Properties"].get("AuthorizerResultTtlInSeconds", 300) for r in resources.values()
            if r["Type"] == "AWS::ApiGateway::Authorizer"]  # fmt: skip
    return Deployed(
        billing_mode=table.get("BillingMode", "PROVISIONED"),
        table_keys=tuple(k["AttributeName"] for k in table["KeySchema"]),
        index=indexes[0] if indexes else None,
        functions=functions,
        log_retention_days=max((r for r in retention if r), default=0),
        authorizer_ttl_seconds=min(ttls, default=0),
    )


def index_attributes(deployed: Deployed, item: dict) -> set[str] | None:
    """The attributes of ``item``'s index entry (None: the item is not in the sparse index)."""
    index = deployed.index
    if index is None:
        return None
    keys = {k["AttributeName"] for k in index["KeySchema"]}
    if not keys <= set(item):
        return None
    projection = index.get("Projection", {})
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return set(item)
    included = set(projection.get("NonKeyAttributes", [])) if kind == "INCLUDE" else set()
    return keys | set(deployed.table_keys) | included


# --- the service, measured -----------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    route: str
    family: str
    memory_mb: int  # the route's function, from the template
    arm64: bool
    events_per_request: int
    event_items: int  # items written, over all samples
    item_bytes: int  # median DynamoDB size of an event item (edge-case samples do not skew it)
    item_wru: int  # write units of that item's put
    index_bytes: int  # size of its index entry (0: not in the index)
    index_wru: int
    log_bytes_per_request: float  # the function's own lines (request log + EMF), as measured


def _normalised(line: str) -> str:
    # Timings and counters change from run to run; counted at a fixed width so the table is stable.
    return re.sub(r"(?<=:)-?\d+(?:\.\d+)?(?=[,}\]])", "0000", re.sub(r"\btrue\b|\bfalse\b", "false", line))


class _Capture(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def measure(deployed: Deployed, dynamodb, events_table: str) -> list[Measured]:
    """Send every ingest route's valid samples through its real handler (moto behind it) for a fresh
    tenant, read the tenant's items back, measure them and the log output."""
    from ingest import catalog, layout
    from ingest.auth import MAX_RATE_LIMIT
    from ingest.observability import logger
    from ingest.settings import Settings, get_settings
    from ingest.spec import RouteKind
    from local import emulator, handlers
    from local.context import LocalContext

    results = []
    by_summary = {fn_desc: fn for fn_desc, fn in deployed.functions.items()}
    for endpoint in catalog.ENDPOINTS:
        if endpoint.kind is not RouteKind.INGEST:
            continue
        function = by_summary.get(endpoint.summary or f"{endpoint.method} {endpoint.path}")
        if function is None:
            raise ValueError(f"route {endpoint.name}: no function with its description in the template")
        settings = Settings(limits=json.loads(function["environment"].get("INGEST_LIMITS", "{}")))
        per_request = settings.limits_for(endpoint).max_events
        # Fresh, of fixed length, and without digits (sizes must not depend on the name drawn).
        tenant = "cost-" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:12])
        key = emulator.register_key(get_settings(), None, tenant, rate_limit=MAX_RATE_LIMIT)
        capture = _Capture(logger.registered_formatter)
        logger.addHandler(capture)
        level, printing = logger.log_level, logger.registered_handler.level
        logger.setLevel(function["environment"].get("LOG_LEVEL", "INFO"))
        logger.registered_handler.setLevel(logging.CRITICAL + 1)  # measured, not printed
        stdout = io.StringIO()
        previous = os.environ.get("POWERTOOLS_METRICS_DISABLED")
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
        requests = 0
        try:
            with contextlib.redirect_stdout(stdout):
                for sample in sorted((EVENTS_DIR / endpoint.name).glob("valid*.json")):
                    event = json.loads(sample.read_text().replace(SAMPLE_KEY, key))
                    event["requestContext"]["requestId"] = str(uuid.UUID(int=requests))
                    answer = handlers.load(endpoint.name)(event, LocalContext(endpoint.name, str(requests)))
                    if answer["statusCode"] != endpoint.success_status:
                        raise RuntimeError(f"{endpoint.name} {sample.name}: answered {answer['statusCode']}")
                    requests += 1
        finally:
            logger.removeHandler(capture)
            logger.setLevel(level)
            logger.registered_handler.setLevel(printing)
            if previous is None:
                os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
            else:
                os.environ["POWERTOOLS_METRICS_DISABLED"] = previous
        items = [
            item
            for page in dynamodb.get_paginator("scan").paginate(
                TableName=events_table, FilterExpression="tenant = :t AND endpoint = :e",
                # A keyless route stores under no tenant (ingest.layout.KEYLESS_TENANT).
                ExpressionAttributeValues={":t": {"S": layout.KEYLESS_TENANT if endpoint.keyless else tenant},
                                           ":e": {"S": endpoint.name}},
            )
            for item in page["Items"]
        ]  # fmt: skip
        if not items or not requests:
            raise RuntimeError(f"{endpoint.name}: no valid sample stored anything")
        # Ties in size are broken by the index entry's size, not by scan order (which can change).
        typical = sorted(items, key=lambda i: (item_size(i), item_size(i, index_attributes(deployed, i) or set())))[
            len(items) // 2
        ]
        attrs = index_attributes(deployed, typical)
        index_bytes = item_size(typical, attrs) if attrs else 0
        printed = [line for line in stdout.getvalue().splitlines() if line.strip()] + capture.lines
        results.append(Measured(
            route=endpoint.name,
            family=endpoint.family,
            memory_mb=function["memory_mb"],
            arm64=function["arm64"],
            events_per_request=per_request,
            event_items=len(items),
            item_bytes=item_size(typical),
            item_wru=math.ceil(item_size(typical) / KB),
            index_bytes=index_bytes,
            index_wru=math.ceil(index_bytes / KB),
            log_bytes_per_request=sum(len(_normalised(line)) + 1 for line in printed) / requests,
        ))  # fmt: skip
    return results


# --- the model ---------------------------------------------------------------------------------------


def costs(deployed: Deployed, measured: Measured, events: int = 1_000_000) -> dict[str, float]:
    """USD for ``events`` events sent to one route in full batches."""
    if deployed.billing_mode != "PAY_PER_REQUEST":
        raise ValueError(f"the model prices on-demand tables; the template says {deployed.billing_mode}")
    requests = math.ceil(events / measured.events_per_request)
    wru = events * (measured.item_wru + measured.index_wru) + requests * RATE_COUNTER_WRU_PER_REQUEST
    rru = requests * KEY_LOOKUP_RRU_PER_REQUEST
    storage_gb = events * (measured.item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES
                           + (measured.index_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES if measured.index_bytes else 0)) / GB  # fmt: skip
    memory_gb = measured.memory_mb / 1024
    seconds = requests * (ASSUMED_BASE_MS_PER_REQUEST + ASSUMED_MS_PER_EVENT * measured.events_per_request) / 1000
    gb_second = LAMBDA_ARM_PER_GB_SECOND if measured.arm64 else LAMBDA_X86_PER_GB_SECOND
    invocations = requests if deployed.authorizer_ttl_seconds == 0 else 0
    log_gb = requests * (measured.log_bytes_per_request + ASSUMED_PLATFORM_LOG_BYTES + ASSUMED_ACCESS_LOG_BYTES) / GB
    return {
        "requests": requests,
        "dynamodb_writes": wru / 1e6 * DYNAMODB_WRITE_PER_MILLION_WRU + rru / 1e6 * DYNAMODB_READ_PER_MILLION_RRU,
        "dynamodb_storage_month": storage_gb * DYNAMODB_STORAGE_PER_GB_MONTH,
        "lambda": (requests + invocations) / 1e6 * LAMBDA_PER_MILLION_REQUESTS + seconds * memory_gb * gb_second,
        "api_gateway": requests / 1e6 * APIGW_REST_PER_MILLION_REQUESTS,
        "cloudwatch": log_gb * CLOUDWATCH_LOGS_INGEST_PER_GB
        + log_gb * CLOUDWATCH_LOGS_STORAGE_PER_GB_MONTH * deployed.log_retention_days / 30,
    }


COLUMNS = ("dynamodb_writes", "dynamodb_storage_month", "lambda", "api_gateway", "cloudwatch")


def render(env_name: str, deployed: Deployed, measured: list[Measured]) -> str:
    index = deployed.index or {}
    projection = index.get("Projection", {})
    projected = projection.get("ProjectionType", "none")
    if projected == "INCLUDE":
        projected += " " + ", ".join(sorted(projection.get("NonKeyAttributes", [])))
    lines = [
        "# Cost per million events",
        "",
        f"Written by `make cost ENV={env_name}` (`python -m bench.cost`) from the synthesized `{env_name}` template and the",
        "items the service writes; do not edit by hand (a test recomputes it). USD per million events sent to one",
        "route in full batches, AWS list prices, no free tier.",
        "",
        "| family | route | events/request | item B | index B | DynamoDB writes | storage / month | Lambda | API Gateway | CloudWatch | total (first month) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in measured:
        c = costs(deployed, m)
        shown = [round(c[k], 3) for k in COLUMNS]
        total = sum(shown)  # of the cells as shown: the row adds up, and only a cell's change moves it
        cells = " | ".join(f"{value:.3f}" for value in shown)
        lines.append(f"| {m.family} | `{m.route}` | {m.events_per_request} | {m.item_bytes} | {m.index_bytes} | {cells} | {total:.3f} |")
    memories = sorted({f"{m.memory_mb} MB {'arm64' if m.arm64 else 'x86_64'}" for m in measured})
    lines += [
        "",
        "How each column is computed:",
        "",
        "Item and index sizes (bytes) are the median event item the route's `valid*` samples stored, measured by DynamoDB's",
        "rules; numbers keep their trailing zeros, any run of 12+ digits in a value (a generated id, a timestamp)",
        "counts a sign and 20 digits and a UUID 36 characters (upper bounds that do not change from run to run).",
        "",
        f"* **DynamoDB writes**: per event, its item's write units (size rounded up to 1 KB) plus its "
        f"`{index.get('IndexName', 'index')}` index entry's (projection from the template: {projected}); "
        f"per request one rate-counter write and one key read. Billing mode: {deployed.billing_mode}; "
        f"${DYNAMODB_WRITE_PER_MILLION_WRU:.3f}/M WRU, ${DYNAMODB_READ_PER_MILLION_RRU:.3f}/M RRU.",
        f"* **storage / month**: item + index entry + {DYNAMODB_ITEM_OVERHEAD_BYTES} B overhead each, "
        f"${DYNAMODB_STORAGE_PER_GB_MONTH:.2f}/GB-month. Events stay for their family's retention "
        "(`retention_days`), so a month's events cost this every month they are kept.",
        f"* **Lambda**: {', '.join(memories)} "
        f"(the route's function in the template), billed duration assumed {ASSUMED_BASE_MS_PER_REQUEST:g} ms + {ASSUMED_MS_PER_EVENT:g} ms per event "
        f"per request (not measured here), ${LAMBDA_ARM_PER_GB_SECOND:.10f}/GB-s (arm64), ${LAMBDA_PER_MILLION_REQUESTS:.2f}/M requests; "
        f"the authorizer's answers are cached {deployed.authorizer_ttl_seconds} s, so its calls are per key and TTL, not per request.",
        f"* **API Gateway**: REST API, ${APIGW_REST_PER_MILLION_REQUESTS:.2f}/M requests.",
        f"* **CloudWatch**: the function's log lines and EMF metrics as measured per request, plus "
        f"{ASSUMED_PLATFORM_LOG_BYTES} B of Lambda platform lines and {ASSUMED_ACCESS_LOG_BYTES} B of access log (assumed); "
        f"${CLOUDWATCH_LOGS_INGEST_PER_GB:.2f}/GB ingested, ${CLOUDWATCH_LOGS_STORAGE_PER_GB_MONTH}/GB-month kept "
        f"{deployed.log_retention_days} days (template). Custom metrics (${0.30:.2f} per metric-month) and alarms are per "
        "deployment, not per event, and X-Ray traces are sampled: neither is in the table.",
        "",
        f"Prices: {PRICES_AS_OF}; check them before budgeting. Not included: S3 for rejects (only rejected "
        "requests write there), data transfer out, reads of stored events.",
        "",
    ]
    return "\n".join(lines)


def compute(env_name: str, template: dict) -> str:
    """The docs/cost.md text for ``template``; needs AWS_ENDPOINT_URL pointing at moto with the tables."""
    import boto3

    from ingest.settings import get_settings

    deployed = read_template(template)
    settings = get_settings()
    return render(env_name, deployed, measure(deployed, boto3.client("dynamodb"), settings.events_table))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--template", type=Path, help="default: cdk.out/<env>/IngestApi-<env>.template.json (make synth)")
    parser.add_argument("--check", action="store_true", help="fail if docs/cost.md differs instead of writing it")
    args = parser.parse_args(argv)
    path = args.template or REPO_ROOT / "cdk.out" / args.env / f"IngestApi-{args.env}.template.json"
    if not path.is_file():
        parser.error(f"{path} not found: run `make synth ENV={args.env}` first")

    from local.environment import apply_local_defaults

    apply_local_defaults()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from ingest.settings import get_settings
    from local import emulator

    server = emulator.start_moto(port=0)
    try:
        emulator.bootstrap(get_settings())
        text = compute(args.env, json.loads(path.read_text()))
    finally:
        server.stop()
    if args.check:
        if DOC.read_text() != text:
            print(f"{DOC} is out of date: run `make cost ENV={args.env}`")
            return 1
        return 0
    DOC.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
