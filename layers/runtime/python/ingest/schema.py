"""Storage definitions shared by the CDK stack and the local emulator bootstrap.

Both ``infra/storage.py`` and ``local/emulator.py`` build their tables from these specs, so the
local service runs against exactly the key schema that gets deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest import layout


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: str  # DynamoDB scalar type: S, N or B


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    partition: Attribute
    sort: Attribute | None = None
    # Non-key attributes the index carries (INCLUDE); None: every attribute (ALL). The table's and
    # the index's keys are always projected.
    include: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_id: str
    partition: Attribute
    sort: Attribute | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()


PK = Attribute("pk", "S")
SK = Attribute("sk", "S")

# pk = <tenant>#<family>#<stream>[#<shard>], sk = the dedup key (ingest.layout): the item key *is*
# the dedup key, so a duplicate can never become a second item, and dedup lasts exactly as long as
# the item.
EVENTS = TableSpec(
    logical_id="Events",
    partition=PK,
    sort=SK,
    ttl_attribute=layout.EXPIRES_AT,
    # The event-time index carries the keys, event_time and expires_at only (readers judge liveness
    # and count on it; payloads are read from the table by key): an event's index entry is well
    # under 1 KB, so it costs one write unit, not a second copy of the payload.
    indexes=(
        Index(layout.EVENT_TIME_INDEX, PK, Attribute(layout.EVENT_TIME, "N"), include=layout.EVENT_TIME_INDEX_INCLUDE),
    ),
)

# Two kinds of item share this table:
# - a key record, pk = the key's 8-character prefix (the secret is kept only as a SHA-256 hash),
#   with tenant, name, scopes, rate_limit, created_at, expires_at, revoked_at;
# - a rate counter, pk = rate#<prefix>#<minute> (shard 0) or rate#<prefix>#<minute>#<shard> (the
#   other shards of a key whose limit needs several: ingest.ratelimit.shard_count), bumped by one
#   atomic ADD per request, `spent` once every shard is full; its `purge_at` (epoch seconds) lets the
#   TTL remove it once its minute is long past.
KEYS = TableSpec(logical_id="Keys", partition=PK, ttl_attribute="purge_at")

TABLES = (EVENTS, KEYS)


def projection_of(index: Index) -> dict:
    """The index's Projection in DynamoDB's wire format."""
    if index.include is None:
        return {"ProjectionType": "ALL"}
    if not index.include:
        return {"ProjectionType": "KEYS_ONLY"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}


def create_table_kwargs(spec: TableSpec, table_name: str) -> dict:
    """boto3 ``create_table`` arguments for a spec (on-demand, as deployed)."""
    attributes = {spec.partition.name: spec.partition}
    key_schema = [{"AttributeName": spec.partition.name, "KeyType": "HASH"}]
    if spec.sort:
        attributes[spec.sort.name] = spec.sort
        key_schema.append({"AttributeName": spec.sort.name, "KeyType": "RANGE"})
    indexes = []
    for index in spec.indexes:
        attributes[index.partition.name] = index.partition
        index_keys = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
        if index.sort:
            attributes[index.sort.name] = index.sort
            index_keys.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
        indexes.append({"IndexName": index.name, "KeySchema": index_keys, "Projection": projection_of(index)})
    kwargs = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": key_schema,
        "AttributeDefinitions": [{"AttributeName": a.name, "AttributeType": a.type} for a in attributes.values()],
    }
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    return kwargs
