"""`make serve`: the whole service on 127.0.0.1:$PORT, with DynamoDB and S3 from embedded moto.

A real HTTP server turns each request into the API Gateway REST proxy event the deployed API would
send, and calls the very same handler. Routes come from the catalog. When AWS_ENDPOINT_URL is set,
that endpoint is used instead of the embedded emulator.
"""

from __future__ import annotations

import argparse
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from local.environment import apply_local_defaults

apply_local_defaults()

from ingest.settings import get_settings  # noqa: E402  (after the environment is set)
from local import apigw, emulator, handlers  # noqa: E402
from local.context import LocalContext  # noqa: E402

# What API Gateway (REST) answers for a method/path it has no route for.
NO_ROUTE = orjson.dumps({"message": "Missing Authentication Token"})
READ_TIMEOUT = 30.0  # seconds the socket waits for a client: a stalled one gets its connection closed


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "IngestApiLocal"

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # the socket's: no client holds a thread forever
        super().setup()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        matched = apigw.match(self.command, self.path)
        if matched is None:
            self._reply(HTTPStatus.FORBIDDEN, {"Content-Type": "application/json"}, NO_ROUTE)
            return
        endpoint, path_params = matched
        event = apigw.to_event(
            endpoint, path_params, self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        context = LocalContext(function_name=endpoint.name, aws_request_id=event["requestContext"]["requestId"])
        response = handlers.load(endpoint.name)(event, context)
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        self._reply(response["statusCode"], headers, apigw.response_body(response))

    def _reply(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args) -> None:  # the handlers log one JSON line per request
        pass


class LocalGateway(ThreadingHTTPServer):
    # The listen backlog (the stdlib's is 5): a burst of clients waits here for its thread instead
    # of having SYNs dropped (a 1 s retry) or connections reset.
    request_queue_size = 128

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
