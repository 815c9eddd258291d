"""The API Gateway REST proxy event, read once into a small typed view, and the body decoder."""

from __future__ import annotations

import base64
import binascii
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ingest.spec import Limits
from ingest.errors import BadRequest, PayloadTooLarge, Violation


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    method: str
    path: str
    headers: dict[str, list[str]]  # lower-cased names, every value as received
    path_parameters: dict[str, str]
    query: dict[str, str]
    wire_body: bytes  # as received (possibly gzip)
    received_at: datetime
    replay_of: str = ""  # a replay's: the reject it replays (so its own reject is named apart)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def header_values(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])

    @property
    def content_encoding(self) -> str:
        return (self.header("content-encoding") or "identity").strip().lower()

    @classmethod
    def from_apigw(cls, event: dict, aws_request_id: str | None = None, now: datetime | None = None) -> Request:
        # Read by hand, not through the Powertools parser's APIGatewayProxyEventModel (or
        # ApiGatewayEnvelope), on purpose. The model requires fields that the events of the local
        # server and every sample under events/ leave out (requestContext.requestTime) or send as
        # null (headers and multiValueHeaders of a request without headers), so it refuses them;
        # it costs ~37 µs per request where this costs ~8 µs, and we would still have to build this
        # view after it. The envelope is worse: it hands the body to the model as it came, so the
        # base64 bodies the deployed API delivers (every media type is binary) and gzip fail as
        # JSON, it validates before authentication, size caps and gzip limits, and one invalid event
        # fails the whole request, where partial-acceptance families store the others. The events
        # themselves go through the parser: ingest.validation.
        headers: dict[str, list[str]] = {}
        multi = event.get("multiValueHeaders") or {}
        if multi:
            for name, values in multi.items():
                headers.setdefault(name.lower(), []).extend(values or [])
        else:
            for name, value in (event.get("headers") or {}).items():
                headers.setdefault(name.lower(), []).append(value)
        context = event.get("requestContext") or {}
        request_id = context.get("requestId") or aws_request_id or str(uuid.uuid4())
        return cls(
            request_id=request_id,
            method=event.get("httpMethod", ""),
            path=event.get("path", ""),
            headers=headers,
            path_parameters=event.get("pathParameters") or {},
            query=event.get("queryStringParameters") or {},
            wire_body=_wire_body(event),
            received_at=now or datetime.now(UTC),
        )


def _wire_body(event: dict) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("The request body is not valid base64.") from exc
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)


def check_wire_size(request: Request, limits: Limits) -> None:
    """Cheap cap on the bytes received, checked before any work is spent on them."""
    if len(request.wire_body) > limits.wire_cap:
        raise PayloadTooLarge(
            f"Request body is {len(request.wire_body)} bytes; the limit is {limits.wire_cap} bytes."
        )


def decode_body(request: Request, limits: Limits) -> bytes:
    """The body as JSON bytes: gzip is inflated with a hard cap, so a small bomb can't blow up."""
    check_wire_size(request, limits)
    encoding = request.content_encoding
    if encoding in ("identity", ""):
        return request.wire_body
    if encoding not in ("gzip", "x-gzip"):
        raise BadRequest(f"Unsupported Content-Encoding {encoding!r}; send identity or gzip.")
    return gunzip(request.wire_body, limits.max_body_bytes, "Decompressed request body", "The request body")


def gunzip(data: bytes, cap: int, what: str = "Decompressed data", source: str = "The data") -> bytes:
    """Inflate gzip under a hard cap on the output (a small bomb can't blow up): PayloadTooLarge
    over it, BadRequest for data that is not complete gzip. `what`/`source` name it in messages."""
    # A gzip stream may hold several members one after another (RFC 1952 §2.2; `cat a.gz b.gz`,
    # and what streaming compressors flush): every member is inflated, under one cap for them all.
    parts: list[bytes] = []
    size = 0
    remaining = data
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            part = inflater.decompress(remaining, cap + 1 - size)
        except zlib.error as exc:
            raise BadRequest(f"{source} is not valid gzip.") from exc
        size += len(part)
        parts.append(part)
        if size > cap or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"{what} exceeds the limit of {cap} bytes.")
        if not inflater.eof:
            raise BadRequest(f"{source} is truncated gzip.")
        remaining = inflater.unused_data
        if not remaining.strip(b"\0"):  # trailing zero padding after the last member is allowed (gzip(1))
            return b"".join(parts)


def parse_json(body: bytes) -> object:
    """orjson, strict RFC 8259: a syntax error names the line and column (trailing commas too)."""
    if not body.strip():
        raise BadRequest("The request body is empty.", (Violation(None, "", "empty body"),))
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        raise BadRequest(message, (Violation(None, "", message),)) from exc
