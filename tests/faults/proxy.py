"""A real HTTP proxy between the service's boto3 clients and the moto server, with switchable faults.

    proxy = FaultProxy("http://127.0.0.1:<moto port>").start()
    client = boto3.client("dynamodb", endpoint_url=proxy.url, ...)   # boto3 signs for the proxy's host
    proxy.inject("BatchWriteItem", Throttle(), times=2)               # the next 2 calls are throttled
    proxy.inject("PutObject", Fail(500), after=1)                     # the 1st passes, every later one fails
    proxy.clear()                                                     # every rule off

Every request is forwarded to moto byte for byte (moto does not check signatures, so the original
headers go along; only Host and the hop-by-hop headers are rewritten) and moto's answer is returned,
except where an armed rule matches the call's operation:

* DynamoDB by its `X-Amz-Target` header (`DynamoDB_20120810.BatchWriteItem` -> `BatchWriteItem`);
* S3 (path-style addressing, which boto3 uses for an IP endpoint) by method, path and query
  (`PUT /bucket/key` -> `PutObject`, `GET /bucket?list-type=2` -> `ListObjectsV2`, ...).

Faults: `Throttle()` (DynamoDB's ProvisionedThroughputExceededException, 400; S3's SlowDown, 503),
`Fail(status)` (InternalServerError / InternalError, or what `code` says), `Delay(seconds)` (hold the
request, then forward it: the write lands late, maybe after the client gave up; with
`phase="response"` the call is forwarded at once and its answer held back), `Reset()` (close the
socket with SO_LINGER 0: a TCP RST and no answer; `forward=True` forwards first, so the write lands
and only the answer is lost), and `Partial(keep=, fraction=)` (BatchWriteItem: forward only part of
the request's items and answer the rest as `UnprocessedItems`; BatchGetItem: part of the keys, the
rest as `UnprocessedKeys`). `Gather(n)` forwards each call but holds the answers until n calls
have been forwarded (a race made certain). `Drop()` answers success and forwards nothing: no AWS fault, a liar that
tests of the tests use to prove a check reads storage.

A rule counts every call that matches its operation (and `where`, a predicate on the `Call`); it lets
the first `after` of them through and then applies its fault to at most `times` calls (None: every
one). When several rules are armed for a call, the first one injected applies. Every call is recorded
(`proxy.calls`): operation, when it started and ended, the status answered, the fault applied.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from local.emulator import LISTEN_BACKLOG

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
DYNAMODB_JSON = "application/x-amz-json-1.0"
ANY = "*"

# Hop-by-hop headers (RFC 9110 7.6.1) and the ones this proxy recomputes; never passed along as is.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect",
     "content-length", "host"}
)


# --- what a call is ---------------------------------------------------------------------------------


@dataclass
class Call:
    """One request the proxy received, and what became of it."""

    operation: str  # "BatchWriteItem", "PutObject", ... or "<METHOD> <service>" when not recognised
    service: str  # "dynamodb" or "s3"
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes
    started: float  # time.monotonic()
    ended: float | None = None
    status: int | None = None  # the status answered; None: no answer (a reset, or the client was gone)
    fault: str | None = None  # repr of the fault applied, None when forwarded untouched
    forwarded: bool = False  # whether (part of) the request reached moto

    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


def dynamodb_operation(headers: dict[str, str]) -> str | None:
    target = headers.get("x-amz-target", "")
    return target.removeprefix(DYNAMODB_TARGET_PREFIX) if target.startswith(DYNAMODB_TARGET_PREFIX) else None


def s3_operation(method: str, target: str, headers: dict[str, str]) -> str:
    """The S3 operation of a path-style request (`/bucket/key?query`)."""
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method} s3"
    if not key:
        return {
            ("PUT", False): "CreateBucket",
            ("DELETE", False): "DeleteBucket",
            ("HEAD", False): "HeadBucket",
            ("GET", False): "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects",
            ("POST", True): "DeleteObjects",
        }.get((method, "delete" in query), f"{method} s3 bucket")
    if "tagging" in query:
        return {"PUT": "PutObjectTagging", "GET": "GetObjectTagging", "DELETE": "DeleteObjectTagging"}.get(
            method, f"{method} s3 tagging"
        )
    if method == "PUT":
        if "x-amz-copy-source" in headers:
            return "UploadPartCopy" if "uploadId" in query else "CopyObject"
        return "UploadPart" if "uploadId" in query else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if "uploadId" in query else f"{method} s3 object"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    return f"{method} s3 object"


# --- answers ----------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""


def dynamodb_error(status: int, error_type: str, message: str) -> Answer:
    """An error exactly as DynamoDB sends it (JSON 1.0 body, request id and CRC32 headers)."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", "message": message}).encode()
    return dynamodb_answer(status, body)


def dynamodb_answer(status: int, body: bytes) -> Answer:
    headers = [
        ("Content-Type", DYNAMODB_JSON),
        ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
        ("x-amz-crc32", str(zlib.crc32(body))),
    ]
    return Answer(status, headers, body)


def s3_error(status: int, code: str, message: str, resource: str = "") -> Answer:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><Resource>{resource}</Resource>"
        f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
    ).encode()
    return Answer(status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body)


# --- faults -----------------------------------------------------------------------------------------


class Fault:
    """What happens to a call a rule matched. `apply` answers it (or not) through the exchange."""

    operations: frozenset[str] | None = None  # the operations this fault makes sense for; None: any

    def apply(self, exchange: Exchange) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Throttle(Fault):
    """DynamoDB: 400 ProvisionedThroughputExceededException. S3: 503 SlowDown."""

    def apply(self, exchange: Exchange) -> None:
        if exchange.call.service == "dynamodb":
            exchange.answer(dynamodb_error(
                400, "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. "
                "Consider increasing your provisioning level with the UpdateTable API.",
            ))
        else:
            exchange.answer(s3_error(503, "SlowDown", "Please reduce your request rate.", exchange.call.path))


_DYNAMODB_CODES = {500: ("InternalServerError", "Internal server error"),
                   503: ("ServiceUnavailable", "The service is currently unavailable or busy.")}
_S3_CODES = {500: ("InternalError", "We encountered an internal error. Please try again."),
             503: ("ServiceUnavailable", "Service is unable to handle request.")}


@dataclass(frozen=True)
class Fail(Fault):
    """An error answer in the service's own format; nothing reaches moto."""

    status: int = 500
    code: str | None = None
    message: str | None = None

    def apply(self, exchange: Exchange) -> None:
        if exchange.call.service == "dynamodb":
            code, message = _DYNAMODB_CODES.get(self.status, ("InternalServerError", "Internal server error"))
            exchange.answer(dynamodb_error(self.status, self.code or code, self.message or message))
        else:
            code, message = _S3_CODES.get(self.status, ("InternalError", "We encountered an internal error."))
            exchange.answer(s3_error(self.status, self.code or code, self.message or message, exchange.call.path))


@dataclass(frozen=True)
class Delay(Fault):
    """phase="request": hold the request, then forward it and answer; the write lands late, after the
    client gave up if it did. phase="response": forward at once, hold the answer back. The hold lasts
    `seconds`, or until the client hangs up (its read timeout), whichever comes first: a client that
    left cannot tell the difference, and nothing lingers past it."""

    seconds: float
    phase: str = "request"

    def __post_init__(self) -> None:
        if self.phase not in ("request", "response"):
            raise ValueError(f"phase is 'request' or 'response', not {self.phase!r}")

    def apply(self, exchange: Exchange) -> None:
        if self.phase == "request":
            exchange.hold(self.seconds)
            exchange.answer(exchange.forward())
        else:
            answer = exchange.forward()
            exchange.hold(self.seconds)
            exchange.answer(answer)


class Gather(Fault):
    """Forward each call at once, then hold its answer until `parties` calls have been forwarded (or
    `timeout` seconds passed): every one of them has read before any of their clients goes on. The
    interleaving a race needs, made certain rather than left to the scheduler. Use with times=parties."""

    def __init__(self, parties: int, timeout: float = 5.0) -> None:
        self.parties, self.timeout = parties, timeout
        self._barrier = threading.Barrier(parties)

    def __repr__(self) -> str:
        return f"Gather(parties={self.parties}, timeout={self.timeout})"

    def apply(self, exchange: Exchange) -> None:
        answer = exchange.forward()
        try:
            self._barrier.wait(self.timeout)
        except threading.BrokenBarrierError:
            pass  # fewer came: answer anyway
        exchange.answer(answer)


@dataclass(frozen=True)
class Reset(Fault):
    """Close the client's socket with SO_LINGER 0 (a TCP RST) and never answer. With forward=True
    the request reaches moto first: the write lands, only its answer is lost."""

    forward: bool = False

    def apply(self, exchange: Exchange) -> None:
        if self.forward:
            exchange.forward()
        exchange.reset()


@dataclass(frozen=True)
class Partial(Fault):
    """Forward only the first `keep` items (BatchWriteItem) or keys (BatchGetItem) of the request, or
    floor(`fraction` x their number) when keep is None; answer the rest as unprocessed, merged with
    whatever moto left unprocessed itself. Nothing forwarded: moto is not called at all."""

    keep: int | None = None
    fraction: float = 0.5
    operations = frozenset({"BatchWriteItem", "BatchGetItem"})

    def kept(self, total: int) -> int:
        return min(total, self.keep) if self.keep is not None else int(total * self.fraction)

    def apply(self, exchange: Exchange) -> None:
        request = exchange.call.json()
        if exchange.call.operation == "BatchWriteItem":
            answer = self._batch_write(exchange, request)
        else:
            answer = self._batch_get(exchange, request)
        exchange.answer(answer)

    def _batch_write(self, exchange: Exchange, request: dict) -> Answer:
        entries = [(table, item) for table, items in request["RequestItems"].items() for item in items]
        count = self.kept(len(entries))
        forwarded: dict[str, list] = {}
        for table, item in entries[:count]:
            forwarded.setdefault(table, []).append(item)
        response: dict = {"UnprocessedItems": {}}
        if forwarded:
            upstream = exchange.forward(json.dumps({**request, "RequestItems": forwarded}).encode())
            if upstream.status != 200:
                return upstream
            response = json.loads(upstream.body)
        unprocessed = response.setdefault("UnprocessedItems", {})
        for table, item in entries[count:]:
            unprocessed.setdefault(table, []).append(item)
        return dynamodb_answer(200, json.dumps(response).encode())

    def _batch_get(self, exchange: Exchange, request: dict) -> Answer:
        entries = [(table, key) for table, spec in request["RequestItems"].items() for key in spec["Keys"]]
        count = self.kept(len(entries))
        forwarded: dict[str, dict] = {}
        for table, key in entries[:count]:
            forwarded.setdefault(table, {**request["RequestItems"][table], "Keys": []})["Keys"].append(key)
        response: dict = {"Responses": {}, "UnprocessedKeys": {}}
        if forwarded:
            upstream = exchange.forward(json.dumps({**request, "RequestItems": forwarded}).encode())
            if upstream.status != 200:
                return upstream
            response = json.loads(upstream.body)
        unprocessed = response.setdefault("UnprocessedKeys", {})
        for table, key in entries[count:]:
            unprocessed.setdefault(table, {**request["RequestItems"][table], "Keys": []})["Keys"].append(key)
        return dynamodb_answer(200, json.dumps(response).encode())


_DROP_ANSWERS = {  # what each operation answers when it worked and had nothing to say
    "BatchWriteItem": b'{"UnprocessedItems": {}}',
    "PutItem": b"{}",
    "UpdateItem": b"{}",
    "DeleteItem": b"{}",
}


@dataclass(frozen=True)
class Drop(Fault):
    """A storage that lies: answer success and forward nothing (the write is lost, acknowledged).
    Not a fault AWS has; it exists to prove that a check reads storage rather than trusting answers."""

    operations = frozenset({*_DROP_ANSWERS, "PutObject"})

    def apply(self, exchange: Exchange) -> None:
        if exchange.call.service == "dynamodb":
            exchange.answer(dynamodb_answer(200, _DROP_ANSWERS[exchange.call.operation]))
        else:
            etag = f'"{uuid.uuid4().hex}"'
            exchange.answer(Answer(200, [("ETag", etag), ("x-amz-request-id", uuid.uuid4().hex[:16].upper())], b""))


# --- rules ------------------------------------------------------------------------------------------


@dataclass
class Rule:
    operations: frozenset[str]
    fault: Fault
    times: int | None = None
    after: int = 0
    where: Callable[[Call], bool] | None = None
    seen: int = 0  # matching calls so far
    fired: int = 0  # calls the fault was applied to

    def matches(self, call: Call) -> bool:
        if ANY not in self.operations and call.operation not in self.operations:
            return False
        return self.where is None or bool(self.where(call))

    @property
    def armed(self) -> bool:
        return self.times is None or self.fired < self.times


# --- the exchange: one call on its way through --------------------------------------------------------


class Exchange:
    """A call in flight: forward it (whole or changed), answer it, or reset the connection."""

    def __init__(self, handler: _Handler, call: Call) -> None:
        self.handler = handler
        self.call = call
        self.answered = False

    def forward(self, body: bytes | None = None) -> Answer:
        """Send the request (or `body` instead of its own) to moto; returns moto's answer."""
        self.call.forwarded = True
        return self.handler.upstream(self.call, self.call.body if body is None else body)

    def answer(self, answer: Answer) -> None:
        self.answered = True
        self.call.status = answer.status
        try:
            self.handler.send(answer, head=self.call.method == "HEAD")
        except OSError:
            self.call.status = None  # a client that gave up got nothing
            raise

    def reset(self) -> None:
        self.answered = True
        self.handler.reset()

    def hold(self, seconds: float) -> bool:
        """Wait `seconds`, or until the client hangs up; returns whether it is still there."""
        end = time.monotonic() + seconds
        connection = self.handler.connection
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([connection], [], [], min(left, 0.05))
            if readable:
                try:
                    if connection.recv(1, socket.MSG_PEEK) == b"":
                        return False  # EOF: the client closed its end
                except OSError:
                    return False
                time.sleep(min(left, 0.05))  # it sent something (never, with boto3): keep holding
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass

    def _dispatch(self) -> None:
        proxy = self.server.proxy
        headers = {name.lower(): value for name, value in self.headers.items()}
        body = self._read_body(headers)
        operation = dynamodb_operation(headers)
        service = "dynamodb" if operation is not None else "s3"
        if operation is None:
            operation = s3_operation(self.command, self.path, headers)
        call = Call(operation, service, self.command, self.path, headers, body, time.monotonic())
        with proxy._in_flight():
            rule = proxy._match(call)
            exchange = Exchange(self, call)
            try:
                if rule is None:
                    exchange.answer(exchange.forward())
                else:
                    rule.fault.apply(exchange)
            except (ConnectionError, TimeoutError, OSError):  # the client went away, or moto did
                self.close_connection = True
            finally:
                call.ended = time.monotonic()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    # One upstream connection per client connection, kept alive like the client's own.
    _upstream: http.client.HTTPConnection | None = None

    def upstream(self, call: Call, body: bytes) -> Answer:
        proxy = self.server.proxy
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["Host"] = proxy.upstream_netloc
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a kept-alive connection moto has closed meanwhile: one new one
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
            try:
                self._upstream.request(call.method, call.path, body=body, headers=headers)
                response = self._upstream.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError) as exc:
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise ConnectionError(f"moto did not answer: {exc}") from exc
                continue
            if response.will_close:
                self._upstream.close()
                self._upstream = None
            kept = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
            if call.method == "HEAD":  # a HEAD answer's length is the object's, not of its (empty) body
                kept += [(name, value) for name, value in response.getheaders() if name.lower() == "content-length"]
            return Answer(response.status, kept, data, response.reason)
        raise AssertionError("unreachable")

    def send(self, answer: Answer, head: bool = False) -> None:
        self.send_response_only(answer.status, answer.reason or None)
        for name, value in answer.headers:
            self.send_header(name, value)
        if not head:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)
        self.wfile.flush()

    def reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        if self._upstream is not None:
            self._upstream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG  # a burst of a process's PARALLEL_CALLS connections, and more
    proxy: FaultProxy

    def handle_error(self, request, client_address) -> None:  # a client that vanished is no news here
        pass


# --- the proxy ----------------------------------------------------------------------------------------


@dataclass
class FaultProxy:
    upstream_url: str
    host: str = "127.0.0.1"
    rules: list[Rule] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream_url)
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_netloc = parts.netloc
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---

    def start(self) -> FaultProxy:
        self._server = _Server((self.host, 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- rules ---

    def inject(self, operation: str | Iterable[str], fault: Fault, *, times: int | None = None, after: int = 0,
               where: Callable[[Call], bool] | None = None) -> Rule:
        """Apply `fault` to calls of `operation` (a name, several, or "*"): the first `after` matching
        calls pass, then at most `times` of them get the fault (None: all). Returns the rule, whose
        `seen` and `fired` counters say what it did."""
        operations = frozenset([operation] if isinstance(operation, str) else operation)
        if fault.operations is not None and not operations <= fault.operations:
            raise ValueError(f"{type(fault).__name__} applies to {sorted(fault.operations)} only")
        if times is not None and times < 1 or after < 0:
            raise ValueError("times is at least 1 (or None: every call), after at least 0")
        rule = Rule(operations, fault, times, after, where)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Every rule off (calls already holding a fault finish as they started)."""
        with self._lock:
            self.rules.clear()

    def _match(self, call: Call) -> Rule | None:
        with self._lock:
            self.calls.append(call)
            chosen = None
            for rule in self.rules:
                if not rule.matches(call):
                    continue
                rule.seen += 1
                if chosen is None and rule.seen > rule.after and rule.armed:
                    rule.fired += 1
                    chosen = rule
            call.fault = repr(chosen.fault) if chosen else None
            return chosen

    # --- what happened ---

    def calls_of(self, *operations: str, since: float | None = None) -> list[Call]:
        with self._lock:
            calls = list(self.calls)
        return [call for call in calls if (not operations or call.operation in operations)
                and (since is None or call.started >= since)]

    def forget(self) -> None:
        with self._lock:
            self.calls.clear()

    class _Busy:
        def __init__(self, proxy: FaultProxy) -> None:
            self.proxy = proxy

        def __enter__(self) -> None:
            with self.proxy._lock:
                self.proxy._busy += 1

        def __exit__(self, *exc) -> None:
            with self.proxy._lock:
                self.proxy._busy -= 1
                self.proxy._idle.notify_all()

    def _in_flight(self) -> FaultProxy._Busy:
        return FaultProxy._Busy(self)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no call is in flight (e.g. a delayed write still to land). False on timeout."""
        end = time.monotonic() + timeout
        with self._lock:
            while self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True
