"""`make serve`: the whole service on 127.0.0.1:$PORT, with DynamoDB and S3 from embedded moto.

A real HTTP server turns each request into the API Gateway REST proxy event the deployed API would
send, and calls the very same handler. Routes come from the catalog. When AWS_ENDPOINT_URL is set,
that endpoint is used instead of the embedded emulator.

In front of the handlers it answers what the gateway itself would, in the route family's dialect:
405 (with Allow) for a method no route of the path has, 400 for bad framing (Content-Length,
chunked with Content-Length, malformed chunks, obs-fold), 413 over API Gateway's 10 MB payload,
431 over its header quota, 408 for a client that stops sending (READ_TIMEOUT, 30 s). A path of no
route (or a method no route of its path has) is a 404 in the dialect of the family whose API it would
have reached deployed (one REST API per family: infra.edge). Chunked bodies are read whole before the
handler runs.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import time
import traceback
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import orjson

from local.environment import apply_local_defaults

apply_local_defaults()

# (imported after the environment is set)
from ingest import catalog  # noqa: E402
from ingest.errors import BadRequest, IngestError, MethodNotAllowed, NotFound, PayloadTooLarge  # noqa: E402
from ingest.settings import get_settings  # noqa: E402
from local import apigw, emulator, handlers  # noqa: E402
from local.context import LocalContext  # noqa: E402

# What the deployed APIs answer (their gateway responses, infra.edge) for a method/path of no route
# and for a body over API Gateway's payload limit; tests/infra/test_edge.py keeps them equal.
NO_ROUTE_MESSAGE = "No route matches this method and path."
# What it answers when the function fails instead of returning a proxy answer (INTEGRATION_FAILURE).
FUNCTION_FAILED_MESSAGE = "The request failed; retry it (a retry never stores an event twice)."

# API Gateway's payload limit: the most of a body this layer reads. Each route's own, lower cap is
# the pipeline's to enforce (Limits), in the route's dialect, as deployed.
MAX_BODY_BYTES = 10 * 1024 * 1024
TOO_LARGE_MESSAGE = f"Request body is over API Gateway's limit of {MAX_BODY_BYTES} bytes."
# API Gateway's REST quota for the request line and the header values together.
HEADER_QUOTA = 10_240
# How much of a request's header section (names, line ends and folding included) is read at all
# before answering 431; the quota is checked once the section is read.
MAX_HEADER_SECTION = 64 * 1024
MAX_CHUNK_LINE = 4096  # a chunk-size line, extensions included
READ_TIMEOUT = 30.0  # seconds the socket waits for a client: a stalled body gets a 408, then the close
# After an early answer that leaves part of the request unread (bad framing, a 413), the rest the
# client sends is read and dropped for this long before closing: closing with unread input resets
# the connection, which can destroy the answer before the client reads it.
LINGER_SECONDS = 2.0
METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a token (RFC 9110 9.1)
DECIMAL = re.compile(r"[0-9]+")
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class GatewayError(IngestError):
    """An answer of the gateway itself, before any function ran, with a status of its own (408, 431...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def gateway_error(status: int, message: str) -> IngestError:
    """The pipeline's own error type where there is one (the dialects render some by type)."""
    if status == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return PayloadTooLarge(message)
    return GatewayError(status, message)


class _HeaderSection:
    """The connection's input while the stdlib reads the header lines: notes obs-fold continuation
    lines, and ends the section early (an empty line) once it is over MAX_HEADER_SECTION bytes."""

    def __init__(self, rfile, budget: int) -> None:
        self.rfile, self.budget, self.folded, self.too_large = rfile, budget, False, False

    def readline(self, limit: int = -1) -> bytes:
        if self.too_large:
            return b"\r\n"
        line = self.rfile.readline(self.budget + 1 if limit < 0 else min(limit, self.budget + 1))
        self.budget -= len(line)
        if self.budget < 0:
            self.too_large = True
            return b"\r\n"
        self.folded = self.folded or line[:1] in (b" ", b"\t")
        return line


class ProxyHandler(BaseHTTPRequestHandler):
    """One connection: each request checked as API Gateway would (method, framing, sizes), then
    turned into a proxy event for the route's function. The gateway's own refusals are rendered in
    the route family's dialect (Pipeline.error_answer); a path of no route gets API Gateway's 403."""

    protocol_version = "HTTP/1.1"
    server_version = "IngestApiLocal"

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # the socket's: no client holds a thread forever
        super().setup()

    def __getattr__(self, name: str):
        # The stdlib answers 501 (HTML) for a method without a do_<METHOD>: every method comes here.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    # --- the request head: parsed by the stdlib, within the gateway's limits ---------------------

    def parse_request(self) -> bool:
        self.expect_continue = False
        section = _HeaderSection(self.rfile, MAX_HEADER_SECTION)
        self.rfile, rfile = section, self.rfile
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = rfile
        if section.too_large:
            self._refuse(431, f"The request's header section is over {MAX_HEADER_SECTION} bytes; "
                              f"the limit is {HEADER_QUOTA} bytes of request line and header values.")
            return False
        if section.folded:
            self._refuse(400, "A header is folded over several lines (obs-fold, RFC 9112 5.2); send each on one line.")
            return False
        # Latin-1 decoded: one character per byte received.
        if len(self.requestline) > HEADER_QUOTA:
            self._refuse(414, f"The request line is {len(self.requestline)} bytes; the limit is {HEADER_QUOTA} bytes.")
            return False
        size = len(self.requestline) + sum(len(value) for value in self.headers.values())
        if size > HEADER_QUOTA:
            self._refuse(431, f"The request line and header values are {size} bytes together; "
                              f"the limit is {HEADER_QUOTA} bytes.")
            return False
        return True

    def handle_expect_100(self) -> bool:
        # Invite the body only when it is about to be read (_continue): a request refused on its head
        # alone (bad framing, too large) gets its final answer instead.
        self.expect_continue = True
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (request line, header lines, too many headers) as gateway answers."""
        text = message or HTTPStatus(code).phrase
        self._refuse(code, f"{text} ({explain})" if explain else text)

    # --- one request ----------------------------------------------------------------------------

    def _serve(self) -> None:
        if not METHOD.fullmatch(self.command):
            self._refuse(400, f"Invalid method {self.command!r}.")
            return
        try:
            urlsplit(self.path)
        except ValueError:  # e.g. "http://[x/": not a target anything can route
            self._refuse(400, f"Invalid request target {self.path[:100]!r}.")
            return
        try:
            body = self._read_body()
        except TimeoutError:
            self._refuse(408, f"The request body did not arrive within {self.timeout:g} s.", linger=False)
            return
        except IngestError as error:
            self._refuse(error.status, error.message)
            return
        resource = self._resource()
        if resource and self.command not in apigw.GATEWAY_METHODS:
            allowed = tuple(dict.fromkeys(endpoint.method for endpoint in resource))
            message = f"{self.command} is not allowed on {resource[0].path}; use {', '.join(allowed)}."
            self._refuse(405, message, allowed=allowed, close=False)
            return
        matched = apigw.match(self.command, self.path)
        if matched is None:  # deployed: MISSING_AUTHENTICATION_TOKEN, answered 404 in the API's dialect
            family = resource[0].family if resource else apigw.family_of(self.path)
            route = catalog.spec(family).routes[0]
            response = handlers.pipeline(route.name).error_answer(NotFound(NO_ROUTE_MESSAGE), str(uuid.uuid4()))
            self._reply(response["statusCode"], dict(response["headers"]), apigw.response_body(response))
            return
        endpoint, path_params = matched
        event = apigw.to_event(
            endpoint, path_params, self.command, self.path, self._forwarded_headers(body), body, self.client_address[0]
        )
        request_id = event["requestContext"]["requestId"]
        try:
            context = LocalContext(function_name=endpoint.name, aws_request_id=request_id)
            response = handlers.load(endpoint.name)(event, context)
            headers = dict(response.get("headers") or {})
            for name, values in (response.get("multiValueHeaders") or {}).items():
                headers[name] = ", ".join(values)
            status, answer = response["statusCode"], apigw.response_body(response)
        except Exception:  # the function failed: API Gateway answers 502, in the API's dialect
            traceback.print_exc()
            failure = GatewayError(502, FUNCTION_FAILED_MESSAGE)
            failed = handlers.pipeline(endpoint.name).error_answer(failure, request_id)
            status, headers, answer = failed["statusCode"], dict(failed["headers"]), apigw.response_body(failed)
            headers["Retry-After"] = "1"
        self._reply(status, headers, answer)

    def _read_body(self) -> bytes:
        """The body as its framing says, at most MAX_BODY_BYTES. IngestError for framing a gateway
        refuses (400) or a body over the cap (413); TimeoutError when the client stops sending."""
        codings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if codings:
            if lengths:  # RFC 9112 6.3: ambiguous framing (request smuggling); refuse it and close
                raise BadRequest("Transfer-Encoding and Content-Length together make the body's length ambiguous; "
                                 "send one of them.")
            if [coding.strip().lower() for value in codings for coding in value.split(",")] != ["chunked"]:
                raise BadRequest(f"Unsupported Transfer-Encoding {', '.join(codings)!r}: "
                                 "send chunked, or a Content-Length.")
            if self.request_version < "HTTP/1.1":  # RFC 9112 6.1: faulty framing in HTTP/1.0
                raise BadRequest("Transfer-Encoding needs HTTP/1.1.")
            self._continue()
            return self._read_chunked()
        if not lengths:
            return b""
        values = {value.strip() for header in lengths for value in header.split(",")}
        if len(values) != 1 or not DECIMAL.fullmatch(next(iter(values))):
            raise BadRequest(f"Invalid Content-Length {', '.join(lengths)!r}: send one decimal number of bytes.")
        length = int(values.pop())
        if length > MAX_BODY_BYTES:
            raise PayloadTooLarge(TOO_LARGE_MESSAGE)
        if not length:
            return b""
        self._continue()
        body = self.rfile.read(length)
        if len(body) < length:
            raise BadRequest(f"The request body ended after {len(body)} of the {length} bytes "
                             "its Content-Length announced.")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if not line.endswith(b"\n"):
                raise BadRequest("The chunked body ended before its last chunk." if len(line) <= MAX_CHUNK_LINE
                                 else f"A chunk-size line is longer than {MAX_CHUNK_LINE} bytes.")
            digits = line.rstrip(b"\r\n").split(b";", 1)[0].rstrip(b" \t")  # the extensions are dropped
            if not CHUNK_SIZE.fullmatch(digits):
                raise BadRequest(f"Invalid chunk size {digits.decode('latin-1')[:32]!r}: send hexadecimal digits.")
            size = int(digits, 16)
            if not size:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise PayloadTooLarge(TOO_LARGE_MESSAGE)
            data = self.rfile.read(size)
            if len(data) < size:
                raise BadRequest("The chunked body ended in the middle of a chunk.")
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest("A chunk's data does not end where its chunk size says.")
            body += data
        budget = MAX_HEADER_SECTION  # the trailer fields: read to the empty line that ends the body, dropped
        while (line := self.rfile.readline(budget + 1)) not in (b"\r\n", b"\n"):
            budget -= len(line)
            if budget < 0:
                raise GatewayError(431, f"The chunked body's trailer section is over {MAX_HEADER_SECTION} bytes.")
            if not line.endswith(b"\n"):
                raise BadRequest("The chunked body ended in its trailer section.")
        return bytes(body)

    def _continue(self) -> None:
        if self.expect_continue:
            self.expect_continue = False
            self.send_response_only(HTTPStatus.CONTINUE)
            self.end_headers()

    def _forwarded_headers(self, body: bytes) -> list[tuple[str, str]]:
        """The headers the function gets: a chunked body arrives whole, with its length, as a gateway
        that buffers the body forwards it."""
        headers = list(self.headers.items())
        if "Transfer-Encoding" not in self.headers:
            return headers
        return [(name, value) for name, value in headers if name.lower() != "transfer-encoding"] + [
            ("Content-Length", str(len(body)))
        ]

    # --- answers --------------------------------------------------------------------------------

    def _refuse(self, status: int, message: str, *, allowed: tuple[str, ...] = (), close: bool = True,
                linger: bool = True) -> None:
        """The gateway's own answer, found before any function ran: in the dialect of the route the
        path belongs to (its first endpoint's family), else API Gateway's `{"message": ...}`. A 5xx is
        never the dialect's (a dialect may render every 5xx as 500). `close`: the request's framing
        can't be trusted (or wasn't read): answer, then close the connection."""
        request_id = str(uuid.uuid4())
        resource = self._resource()
        if resource and status < 500:
            error = MethodNotAllowed(message, allowed) if allowed else gateway_error(status, message)
            response = handlers.pipeline(resource[0].name).error_answer(error, request_id)
            status, headers, body = response["statusCode"], dict(response["headers"]), apigw.response_body(response)
        else:
            headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
            body = orjson.dumps({"message": message})
        if allowed and not any(name.lower() == "allow" for name in headers):
            headers["Allow"] = ", ".join(allowed)
        if close:
            self.close_connection = True
            headers["Connection"] = "close"
        if self.request_version == "HTTP/0.9":  # the version was not read (or is 0.9): answer with a status line
            self.request_version = "HTTP/1.1"
        self._reply(status, headers, body)
        if close and linger:
            self._linger()

    def _resource(self) -> tuple:
        """The catalog endpoints of the resource the request's path belongs to; () for none."""
        if not self.command:  # the request line was not understood: there is no path
            return ()
        try:
            return apigw.resource_endpoints(self.path)
        except ValueError:
            return ()

    def _reply(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _linger(self) -> None:
        """Stop sending, then read and drop what the client still sends, for LINGER_SECONDS at most."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            while time.monotonic() < deadline and self.connection.recv(65536):
                pass
        except OSError:  # a timeout or a reset: the client had its chance
            pass

    def log_message(self, format: str, *args) -> None:  # the handlers log one JSON line per request
        pass


class LocalGateway(ThreadingHTTPServer):
    # The listen backlog (the stdlib's is 5): a burst of clients waits here for its thread instead
    # of having SYNs dropped (a 1 s retry) or connections reset.
    request_queue_size = emulator.LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], read_timeout: float = READ_TIMEOUT) -> None:
        self.read_timeout = read_timeout
        super().__init__(address, ProxyHandler)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away is no error
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("EMULATOR_PORT", "4566")))
    parser.add_argument("--read-timeout", type=float, default=float(os.environ.get("READ_TIMEOUT", READ_TIMEOUT)),
                        help="seconds a connection may wait for a client's next bytes")
    args = parser.parse_args(argv)

    moto = None
    if not os.environ.get("AWS_ENDPOINT_URL"):
        moto = emulator.start_moto(port=args.emulator_port)
    settings = get_settings()
    emulator.bootstrap(settings)
    key = emulator.register_key(settings, os.environ.get("INGEST_API_KEY") or None, tenant="local", name="make serve")
    for endpoint in apigw.ROUTES:
        handlers.load(endpoint.endpoint.name)  # import every handler now: fail at start, not at first call

    server = LocalGateway((args.host, args.port), args.read_timeout)
    base = f"http://{args.host}:{server.server_address[1]}"
    print(f"Ingest API listening on {base}", flush=True)
    print(f"AWS endpoint (DynamoDB, S3): {os.environ['AWS_ENDPOINT_URL']}", flush=True)
    if not os.environ.get("INGEST_API_KEY"):
        print(f"API key for tenant 'local' (shown once): {key}", flush=True)
    for route in apigw.ROUTES:
        print(f"  {route.endpoint.method:6} {base}{route.endpoint.path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if moto:
            moto.stop()


if __name__ == "__main__":
    sys.exit(main())
