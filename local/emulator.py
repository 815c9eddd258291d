"""The embedded AWS endpoint (moto server mode) and the resources the stack would create."""

from __future__ import annotations

import os
import secrets
import threading

import boto3
from botocore.exceptions import ClientError

from ingest.auth import DEFAULT_RATE_LIMIT, generate_key, key_record
from ingest.schema import EVENTS, KEYS, TableSpec, create_table_kwargs
from ingest.settings import Settings
from ingest.store import Store

# The key written into every file under events/; registered by `make invoke` and by the tests.
SAMPLE_KEY = "SAMPLE01.aW5nZXN0LWFwaSBzYW1wbGUga2V5OiBldmVudHMvIG9ubHkh"
SAMPLE_TENANT = "sample"
# The listen backlog of every local server (the emulator, the gateway, the fault proxy): well above
# the connections one process may open at once (ingest.store.PARALLEL_CALLS) times a few processes.
LISTEN_BACKLOG = 1024


# DynamoDB applies each write to an item atomically (an ADD hands every caller its own count; of two
# racing conditional puts exactly one wins). moto does not: its item updates are plain Python run on
# werkzeug's request threads, so two concurrent UpdateItem ADDs can both answer the same count. The
# emulator therefore applies DynamoDB writes one at a time, as DynamoDB would for one item (reads still
# run concurrently). Without this, the rate limit and dedup races the tests prove hold only by luck.
_DYNAMODB_WRITES = frozenset(
    f"DynamoDB_20120810.{operation}"
    for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)


class _AtomicWrites:
    """WSGI middleware in front of moto: DynamoDB write calls hold one lock from request to answer."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET") not in _DYNAMODB_WRITES:
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))  # the whole answer, computed under the lock


def start_moto(host: str = "127.0.0.1", port: int = 4566):
    """Start moto's real HTTP endpoint in this process and point boto3 at it."""
    import logging

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import ThreadedWSGIServer, make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call drowns the request log
    # werkzeug listens with a backlog of 128; one process's burst of new connections can be PARALLEL_CALLS
    # (ingest.store) per client, and several clients at once: above it, connects time out.
    ThreadedWSGIServer.request_queue_size = LISTEN_BACKLOG

    class Emulator(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the writes made atomic
            app = _AtomicWrites(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Emulator(ip_address=host, port=port, verbose=False)
    server.start()
    _, actual_port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{actual_port}"
    return server


def _table_names(settings: Settings) -> dict[TableSpec, str]:
    return {EVENTS: settings.events_table, KEYS: settings.keys_table}


def bootstrap(settings: Settings) -> None:
    """Create the tables (from ingest.schema, as the stack does), the rejects bucket and the cursor
    secret. Idempotent."""
    dynamodb = boto3.client("dynamodb")
    for spec, name in _table_names(settings).items():
        try:
            dynamodb.create_table(**create_table_kwargs(spec, name))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
    s3 = boto3.client("s3")
    try:
        s3.create_bucket(Bucket=settings.rejects_bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    # The secret that signs query cursors; the stack generates its own at deploy. A random value
    # per emulator: cursors of an earlier `make serve` do not open.
    try:
        boto3.client("secretsmanager").create_secret(Name=settings.cursor_secret_id,
                                                     SecretString=secrets.token_urlsafe(48))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise


def register_key(
    settings: Settings, key: str | None, tenant: str, name: str = "", rate_limit: int = DEFAULT_RATE_LIMIT
) -> str:
    """Store a key (only its hash) for a tenant, allowed every family; creates one when key is None.
    Returns the key."""
    key = key or generate_key()
    Store(settings).put_key(key_record(key, tenant, name, rate_limit=rate_limit))
    return key
