"""What a family declares: its routes, auth scheme, write policy, dialect and the rest, as plain data.

Each family package (`ingest/families/<family>/`) exports one `FamilySpec` named `SPEC`; the catalog
(`ingest.catalog`) builds the service's routes from the packages named in `ingest.registry`. This
module is the vocabulary of those declarations and names no family: everything a generic module
(pipeline, auth, OpenAPI, infra, local server, CLI) needs to know about a family, it reads here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.family import Family


class RouteKind(StrEnum):
    """What a route does; the pipeline dispatches on it."""

    INGEST = "ingest"  # the body carries events: validate, keep rejects, dedup-write, one outcome each
    READ = "read"  # read back one stored event (the generic step in ingest.manage, configured by the family)
    DELETE = "delete"  # delete stored events by ids or time range (ingest.manage)
    PING = "ping"  # answers once the key is checked, touches no event
    BATCH_SIZE = "batch_size"  # how many events a client should send per request
    OPENAPI = "openapi"  # the service's own documents: no key
    DOCS = "docs"
    # List the tenant's stored events of a time range, a page at a time, with a signed cursor
    # (the generic step ingest.manage.query_events, configured by the family). AWS: Query on the
    # events table's event-time index, BatchGetItem and GetItem on the table (read only), and
    # GetSecretValue on the cursor secret (INGEST_CURSOR_SECRET_ID).
    QUERY = "query"
    # A family's streams as named resources (datasets, say): the family answers (Family.serve).
    # AWS access, events table only: GetItem/Query (stream and shard records), PutItem/UpdateItem
    # (stream records), Query Select=COUNT on the event-time index (live counts), and for a stream
    # delete a consistent Query of the table's keys, then BatchWriteItem deletes (events and record).
    STREAMS = "streams"

    @property
    def has_body(self) -> bool:
        """Routes whose request carries a body worth capping (413 in the dialect)."""
        return self in (RouteKind.INGEST, RouteKind.DELETE, RouteKind.STREAMS)

    @property
    def finds_stored(self) -> bool:
        """Routes that answer 404 when nothing of the tenant matches."""
        return self in (RouteKind.READ, RouteKind.DELETE, RouteKind.STREAMS)


class WritePolicy(StrEnum):
    """What a second event with the same dedup key does."""

    OVERWRITE = "overwrite"  # newer wins, still one item
    KEEP_FIRST = "keep_first"  # the stored event stays; the new one is reported as a duplicate
    # Keep-first events, plus a keyed window item the family opens or refreshes before the write
    # (Family.store_outcome): the same problem while it is open gets the same id.
    PROBLEM_WINDOW = "problem_window"

    @property
    def overwrites(self) -> bool:
        return self is WritePolicy.OVERWRITE


@dataclass(frozen=True, slots=True)
class AuthScheme:
    """How a family's clients present their key.

    `header` is the documented header name (matched case-insensitively); with a `word`, the
    header's value is `<word> <key>` (the word matched case-insensitively), else the value is the
    key itself. `security_scheme` is the OpenAPI Security Scheme Object the document shows."""

    name: str  # the OpenAPI securitySchemes entry, and the authorizer's name
    header: str
    word: str | None = None
    security_scheme: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def in_header(cls, name: str, header: str, word: str | None = None) -> AuthScheme:
        """The usual shapes: the key alone in `header` (an OpenAPI apiKey scheme), or `<word> <key>`
        (`Bearer` is OpenAPI's http bearer scheme; any other word an apiKey scheme on the header)."""
        shape = "`<8-char prefix>.<48-char base64 payload>`"
        if word is None:
            scheme = {"type": "apiKey", "in": "header", "name": header,
                      "description": f"{shape}; the header name is case-insensitive."}
        elif word.lower() == "bearer":
            scheme = {"type": "http", "scheme": "bearer", "description": f"`{header}: {word} <key>`."}
        else:
            scheme = {"type": "apiKey", "in": "header", "name": header,
                      "description": f"`{header}: {word} <key>` (scheme matched case-insensitively)."}
        return cls(name, header, word, scheme)

    @property
    def header_key(self) -> str:
        return self.header.lower()

    @property
    def identity_source(self) -> str:
        """The API Gateway REQUEST authorizer's identity source: answers are cached per its value."""
        return f"method.request.header.{self.header}"


@dataclass(frozen=True, slots=True)
class Limits:
    max_events: int = 1
    # Cap on the decoded body (after gzip). API Gateway allows 10 MB and Lambda 6 MB for the
    # whole invocation payload, so every endpoint stays well below both.
    max_body_bytes: int = 1024 * 1024
    # Cap on the body as received, when it must be lower than the decoded cap: Lambda's 6 MB payload
    # limit counts the body base64-encoded (binary media types), so a gzip route may inflate to more
    # than it can receive. None: the same as max_body_bytes.
    max_wire_bytes: int | None = None

    @property
    def wire_cap(self) -> int:
        return self.max_wire_bytes or self.max_body_bytes


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a family, as its package declares it.

    `impl` is the family object that parses, validates and renders this route (an `ingest.family.Family`
    configured for it); the pipeline binds a copy of it per endpoint. `spec` is filled in by the
    catalog: a route always knows its family."""

    name: str  # folder under functions/, Lambda logical name, metric dimension
    method: str
    path: str  # API Gateway resource path, e.g. /v1/{dataset}
    kind: RouteKind
    impl: Family = field(repr=False, compare=False)
    limits: Limits = field(default_factory=Limits)
    summary: str = ""
    operation_id: str | None = None  # kept from the original API where it has one
    success_status: int = 200
    # Other methods on the same path that the route's function answers with 405 in the family's
    # dialect (the original API does); the local server and the API route them to the same handler.
    refused_methods: tuple[str, ...] = ()
    # --- routes of a keyed family that differ from its other routes (SDK telemetry) ---------------
    # Called without any key, by design of the family's client (the usage SDK reports a key it
    # refused to use): no authorizer, no key check, `security: []`. What it stores goes under the
    # operator's own partition (ingest.layout.KEYLESS_TENANT), never a tenant's; the handler bounds
    # all callers together to `keyless_rate_limit` requests a minute, and the stage throttles the
    # method (`edge_throttle`).
    keyless: bool = False
    keyless_rate_limit: int = 600
    # API Gateway stage throttling of this one method (requests per second, burst), tighter than
    # the stage's own; None: the stage's.
    edge_throttle: tuple[float, int] | None = None
    # How long this route's items live, in days, when shorter than the family's retention (a report
    # about a client's health is worth less than its events); None: the family's.
    retention_days: int | None = None
    # The one stream every item of the route goes to, when the route is an SDK's telemetry rather
    # than events: `python -m cli telemetry list` reads these streams.
    telemetry_stream: str | None = None
    spec: FamilySpec | None = field(default=None, repr=False, compare=False)

    # --- what the family declares, seen from the route --------------------------------------------

    @property
    def family(self) -> str:
        return self._spec.name

    @property
    def auth(self) -> AuthScheme | None:
        """None: a route without a key: the service's own documents (a public family, no rate limit)
        or a keyless route of a keyed family (`keyless`). No authorizer either way."""
        return None if self.keyless else self._spec.auth

    @property
    def public(self) -> bool:
        """No key is asked for (no authorizer, `security: []`): documents and keyless routes."""
        return self.auth is None

    @property
    def write_policy(self) -> WritePolicy:
        return self._spec.write_policy

    @property
    def handler_dir(self) -> str:
        return f"functions/{self.name}"

    @property
    def _spec(self) -> FamilySpec:
        if self.spec is None:
            raise ValueError(f"route {self.name!r} is not in a FamilySpec (declare it in its family's routes)")
        return self.spec


# What the pipeline, the OpenAPI document and the CLI call a catalog route.
Endpoint = Route

# Request headers kept with a reject unless a family says otherwise (never the credentials).
DEFAULT_KEPT_HEADERS = ("content-type", "content-encoding", "user-agent")


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One API family, declared once by its package."""

    name: str  # the storage family, the scope name keys are limited to, the OpenAPI tag
    title: str  # how documents name it
    auth: AuthScheme | None
    write_policy: WritePolicy
    routes: tuple[Route, ...]
    # The body of every error answer (the dialect's error model), for the OpenAPI rows every route
    # shares: 401, 403, 404, 413, 429, 500. Route-specific rows (success, 400) come from the route.
    error_model: Any = None
    error_media_type: str = "application/json"
    # The family's wording for those shared rows, where it says more than the generic one.
    error_descriptions: Mapping[int, str] = field(default_factory=dict)
    # The path parameter a key's scope may name (`<family>:<value>` or `<family>:<prefix>*`).
    scope_resource: str | None = None
    # The event field the server fills with a generated id when the client sent none.
    generated_id_field: str | None = None
    # Request headers worth keeping with a reject (never the credentials).
    kept_headers: tuple[str, ...] = DEFAULT_KEPT_HEADERS

    def __post_init__(self) -> None:
        names = [route.name for route in self.routes]
        if len(set(names)) != len(names):
            raise ValueError(f"family {self.name!r} declares a route name twice: {names}")
        # Every route knows its family: the routes are re-made with `spec` set (frozen dataclasses).
        object.__setattr__(self, "routes", tuple(replace(route, spec=self) for route in self.routes))

    def route(self, name: str) -> Route:
        for route in self.routes:
            if route.name == name:
                return route
        raise KeyError(f"family {self.name!r} has no route {name!r}")
