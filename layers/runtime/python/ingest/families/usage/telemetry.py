"""The usage SDK's telemetry: reports about the SDK's own health, not usage events.

The vendor's Java SDK posts four reports (``../shared/reference/vendor-surfaces.md``), each one JSON
object, with no Content-Type, and treats only an exact 200 as success:

* ``POST /telemetry/lifecycle``, ``/telemetry/extractionIssues``, ``/telemetry/metricsIncremental``,
  with the key (``X-API-Key``): kept per tenant, one item per report in the route's telemetry stream
  (``Route.telemetry_stream``), for a short retention, so an operator sees the SDK's health
  (``python -m cli telemetry list --tenant X``).
* ``POST /telemetry/invalidApiKey``, sent **without** a key: the SDK reports the key it refused to
  use, in clear, in the body. It is kept under the operator's own partition (never a tenant's), and
  the key never is: every string under a field whose name says key, token, secret, credential or
  authorization becomes ``{"sha256": ..., "prefix": ...}`` (the SHA-256 is the very hash the keys
  table holds, so an operator can tell whose key it was; the 8-character prefix only when it has
  one), and any key-shaped run of text anywhere else (a field name too) becomes
  ``[key sha256:<hex> prefix:<prefix>]``. A refused report is not kept raw either (``keeps_raw_rejects``).

The body is any JSON object: the SDK's own classes decide its fields, and a report is worth keeping
whatever a newer SDK adds. The dedup key is the SHA-256 of the User-Agent (it names the SDK instance)
and the body as received, so an SDK's retry of the same report is kept once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, Field, TypeAdapter

from ingest.auth import Principal
from ingest.errors import BadRequest, IngestError, Violation
from ingest.family import Family, Outcome, Record, Response, json_response
from ingest.request import Request
from ingest.spec import Limits, RouteKind
from ingest.validation import parse_model

RECEIVED = "Telemetry received"
# The User-Agent names the SDK version and instance (`Java-http-client/<java> v:<sdk> id:<instance>`);
# kept beside each report, bounded like any stored header.
MAX_USER_AGENT_BYTES = 256
# Field names whose string values are treated as a key (matched case-insensitively, anywhere in the name).
_SECRET_FIELD = re.compile(r"key|token|secret|credential|authorization", re.IGNORECASE)
# Strings shaped like a key (the SDK's own format check, prefix optional, and longer base64 runs),
# wherever they sit in the report.
_KEY_SHAPE = re.compile(r"([A-Za-z0-9]{8}\.)?[A-Za-z0-9+/]{40,}={0,2}")
_PREFIX = re.compile(r"([A-Za-z0-9]{8})\.")


class TelemetryReport(BaseModel):
    """Any JSON object: the SDK's report as it sends it."""

    model_config = {"extra": "allow"}


class TelemetryBody(BaseModel):
    message: str = Field(description=f'Exactly "{RECEIVED}".')


REPORT_ADAPTER = TypeAdapter(dict[str, Any])


@dataclass(frozen=True, slots=True)
class Report:
    payload: bytes  # what is stored: the report's compact JSON (redacted on the keyless route)


def redacted(value: Any, secret: bool = False) -> Any:
    """The report with every key-like string replaced by `{"sha256": ..., "prefix": ...}`."""
    if isinstance(value, dict):
        # A field name that quotes a key is redacted too (names are strings like any other).
        return {_KEY_SHAPE.sub(_digest_text, name): redacted(item, secret or bool(_SECRET_FIELD.search(name)))
                for name, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, secret) for item in value]
    if isinstance(value, str):
        if secret:
            return key_digest(value)
        # Free text that quotes a key (an error message): each key-shaped run becomes its digest.
        return _KEY_SHAPE.sub(_digest_text, value)
    return value


def _digest_text(match: re.Match) -> str:
    digest = key_digest(match.group(0))
    return f"[key sha256:{digest['sha256']}" + (f" prefix:{digest['prefix']}]" if "prefix" in digest else "]")


def key_digest(key: str) -> dict[str, str]:
    """What is kept of a key: its SHA-256 (as ingest.auth.hash_key, which the keys table holds) and
    its readable prefix, when it has one; never the key."""
    digest = {"sha256": hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()}
    prefix = _PREFIX.match(key)
    if prefix:
        digest["prefix"] = prefix.group(1)
    return digest


class UsageTelemetryFamily(Family):
    name = "usage"
    all_or_nothing = True  # one report per request
    serves_kinds = frozenset({RouteKind.INGEST})

    def __init__(self, *, redact: bool = False) -> None:
        self.redact = redact
        # The keyless report carries a key in clear: nothing of a refused one is kept raw.
        self.keeps_raw_rejects = not redact

    def bind(self, endpoint, settings) -> UsageTelemetryFamily:
        if endpoint.telemetry_stream is None:
            raise ValueError(f"{endpoint.name}: a telemetry route needs its telemetry_stream")
        return super().bind(endpoint, settings)

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        if not isinstance(document, dict):
            raise BadRequest("The request body must be one JSON object (a telemetry report).",
                             (Violation(None, "", "not a JSON object"),))
        return [document]

    def validate(self, raw_events: list) -> tuple[list, dict[int, list[Violation]]]:
        [report] = raw_events
        report = parse_model(report, REPORT_ADAPTER)  # any JSON object (extract made sure it is one)
        if self.redact:
            report = redacted(report)
        return [Report(orjson.dumps(report))], {}

    def record(self, model: Report, request: Request, principal: Principal, origin: str) -> Record:
        user_agent = (request.header("user-agent") or "").strip()
        if len(user_agent.encode("utf-8")) > MAX_USER_AGENT_BYTES:
            user_agent = user_agent.encode("utf-8")[:MAX_USER_AGENT_BYTES].decode("utf-8", "ignore")
        # The body as received, not the redacted payload: two reports of two different keys that
        # redact alike stay two items. Only the hash of it is stored.
        digest = hashlib.sha256(user_agent.encode("utf-8") + b"\n" + request.wire_body).hexdigest()
        return Record(
            stream=self.endpoint.telemetry_stream,
            dedup_key=digest,
            event_time_ms=int(request.received_at.timestamp() * 1_000),
            payload=model.payload,
            attributes={"user_agent": user_agent} if user_agent else {},
        )

    def render(self, outcome: Outcome) -> Response:
        [event] = outcome.events
        if event.errors:
            return json_response(400, {"message": "; ".join(str(violation) for violation in event.errors)})
        return json_response(200, {"message": RECEIVED})

    def render_error(self, error: IngestError) -> Response:
        return json_response(error.status, {"message": error.message})

    def openapi_request(self, endpoint) -> Any:
        return TelemetryReport

    def openapi_responses(self, endpoint) -> dict:
        kept = ("kept under no tenant, with every key replaced by its SHA-256 and prefix"
                if self.redact else "kept for the tenant (a retry of the same report is kept once)")
        answers = {
            200: (f"The report was received and {kept}.", "application/json", TelemetryBody),
            400: ("The body is not one JSON object (nothing stored).", "application/json", TelemetryBody),
        }
        if endpoint.keyless:
            answers[429] = (f"Over the route's bound of {endpoint.keyless_rate_limit} reports a minute, for every "
                            "caller together; retry after `Retry-After` seconds.", "application/json", TelemetryBody)
        return answers
