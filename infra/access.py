"""What each kind of route may do in AWS: least privilege per endpoint, derived from the catalog.

A route's function gets exactly what its ``RouteKind`` (and, for ingest, its family's
``WritePolicy``) declares here, read from what ``ingest.store`` (the only module that calls AWS)
does on that kind's request path:

* every keyed route authenticates (one ``GetItem`` of a key record) and counts the request
  (``UpdateItem``/``BatchGetItem`` on ``rate#`` counter items only, ``RATE_COUNTERS``);
* ``INGEST`` records a stream's shard count (``PutItem``, ``GetItem`` when the put does not answer
  with the stored one), writes events (conditional ``PutItem``) and keeps rejects (one
  ``s3:PutObject`` per object: no multipart upload, so no ``s3:Abort*``);
* a ``PROBLEM_WINDOW`` family also opens or refreshes its window (conditional ``UpdateItem``); a
  duplicate's first-stored event comes back with its failed conditional put (``ALL_OLD``), so no read;
* ``READ`` reads the shard record and the event (``GetItem``) or queries a partition (``Query`` on
  the table by dedup-key prefix, on the event-time index by time);
* ``DELETE`` checks which ids are stored (``BatchGetItem``), deletes them (``BatchWriteItem`` of
  ``DeleteRequest`` items) and finds a time range on the index (``Query``);
* ``QUERY`` reads the shard records (``BatchGetItem``), the index (``Query``), the events
  (``BatchGetItem``, ``GetItem``) and the cursor secret (``secretsmanager:GetSecretValue``);
* ``STREAMS`` (a family's streams as resources) reads, creates, updates and deletes stream records
  and the stream's events (their shard records in one ``BatchGetItem``), and counts them on the index; the ingest and delete routes of such a
  family also touch the stream record (``UpdateItem``);
* ``PING``/``BATCH_SIZE`` touch nothing but the key check; the public documents nothing at all.

A kind missing from ``NEEDS`` fails synth with the fix: whoever adds a kind declares its access.
``tests/infra/test_policies.py`` checks every function's policy in the template equals this, and
runs every sample request through the handlers recording each AWS call against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ingest.spec import Endpoint, RouteKind, WritePolicy


class Resource(StrEnum):
    EVENTS_TABLE = "events table"
    EVENTS_INDEXES = "events table indexes"
    KEYS_TABLE = "keys table"  # key records (read by prefix)
    RATE_COUNTERS = "keys table rate# items"  # the per-key request counters, and nothing else
    REJECTS_OBJECTS = "rejects bucket objects"
    CURSOR_SECRET = "the query cursors' signing secret"


@dataclass(frozen=True, slots=True)
class Access:
    resource: Resource
    actions: frozenset[str]

    @classmethod
    def of(cls, resource: Resource, *actions: str) -> Access:
        return cls(resource, frozenset(actions))


# What every keyed route does before its kind's own work (ingest.auth, ingest.ratelimit).
KEY_CHECK = (
    Access.of(Resource.KEYS_TABLE, "dynamodb:GetItem"),
    Access.of(Resource.RATE_COUNTERS, "dynamodb:UpdateItem", "dynamodb:BatchGetItem"),
)

NEEDS: dict[RouteKind, tuple[Access, ...]] = {
    RouteKind.INGEST: (
        Access.of(Resource.EVENTS_TABLE, "dynamodb:PutItem", "dynamodb:GetItem"),
        Access.of(Resource.REJECTS_OBJECTS, "s3:PutObject"),
    ),
    RouteKind.READ: (
        Access.of(Resource.EVENTS_TABLE, "dynamodb:GetItem", "dynamodb:Query"),
        Access.of(Resource.EVENTS_INDEXES, "dynamodb:Query"),
    ),
    RouteKind.DELETE: (
        Access.of(Resource.EVENTS_TABLE, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"),
        Access.of(Resource.EVENTS_INDEXES, "dynamodb:Query"),
    ),
    # A query lists the partitions' shard records, reads keys and times off the event-time index,
    # fetches the events from the table, and signs/verifies its cursor with the secret.
    RouteKind.QUERY: (
        Access.of(Resource.EVENTS_TABLE, "dynamodb:GetItem", "dynamodb:BatchGetItem"),
        Access.of(Resource.EVENTS_INDEXES, "dynamodb:Query"),
        Access.of(Resource.CURSOR_SECRET, "secretsmanager:GetSecretValue"),
    ),
    # A family's streams as resources (DataHub datasets): stream records read, created, updated and
    # deleted with the stream's events; live counts are Select=COUNT queries on the index.
    RouteKind.STREAMS: (
        # BatchGetItem: the streams' shard records, read in one call for a whole listing.
        Access.of(Resource.EVENTS_TABLE, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                  "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"),
        Access.of(Resource.EVENTS_INDEXES, "dynamodb:Query"),
    ),
    RouteKind.PING: (),
    RouteKind.BATCH_SIZE: (),
    RouteKind.OPENAPI: (),
    RouteKind.DOCS: (),
}

# The key authorizer (ingest.authorizer): a key record by prefix, nothing else (no counters: a
# cached answer cannot count requests; the handlers do).
AUTHORIZER_NEEDS: tuple[Access, ...] = (Access.of(Resource.KEYS_TABLE, "dynamodb:GetItem"),)

# What an ingest route of a family with this write policy needs on top of NEEDS[INGEST].
INGEST_POLICY_NEEDS: dict[WritePolicy, tuple[Access, ...]] = {
    WritePolicy.PROBLEM_WINDOW: (Access.of(Resource.EVENTS_TABLE, "dynamodb:UpdateItem"),),
}


# A family that serves its streams as resources (it has a STREAMS route) keeps a record per stream:
# its ingest and delete routes touch it (lastUpdated, updatedBy) with an UpdateItem.
STREAM_RECORD_NEEDS: tuple[Access, ...] = (Access.of(Resource.EVENTS_TABLE, "dynamodb:UpdateItem"),)


def keeps_stream_records(endpoint: Endpoint) -> bool:
    return any(route.kind is RouteKind.STREAMS for route in endpoint.spec.routes) if endpoint.spec else False


def needs_of(endpoint: Endpoint) -> dict[Resource, frozenset[str]]:
    """Resource → the actions the endpoint's function may call on it; nothing else is granted."""
    if endpoint.kind not in NEEDS:
        raise ValueError(
            f"route {endpoint.name!r}: RouteKind.{endpoint.kind.name} declares no AWS access; add it to "
            "infra/access.py NEEDS (what its request path calls in ingest.store, and nothing more)"
        )
    declared: list[Access] = list(NEEDS[endpoint.kind])
    if endpoint.keyless:  # no key to check, but its handler still counts its callers (rate# items)
        declared += KEY_CHECK[1:]
        if not endpoint.impl.keeps_raw_rejects:  # its body may hold a key in clear: never kept raw
            declared = [access for access in declared if access.resource is not Resource.REJECTS_OBJECTS]
    elif not endpoint.public:
        declared += KEY_CHECK
    if endpoint.kind is RouteKind.INGEST:
        declared += INGEST_POLICY_NEEDS.get(endpoint.write_policy, ())
    if endpoint.kind in (RouteKind.INGEST, RouteKind.DELETE) and keeps_stream_records(endpoint):
        declared += STREAM_RECORD_NEEDS
    return merge(declared)


def merge(accesses: Iterable[Access]) -> dict[Resource, frozenset[str]]:
    merged: dict[Resource, set[str]] = {}
    for access in accesses:
        merged.setdefault(access.resource, set()).update(access.actions)
    return {resource: frozenset(actions) for resource, actions in merged.items() if actions}
