"""Requests of each family, how to read their answers, and how to find their events in storage.

Every event a scenario sends carries a marker (`m<i>` for a valid event, `bad-<i>` for an invalid
one) in a field its family keeps in the stored payload, so an item can be traced back to the event
it came from whatever key the service gave it (a generated id, a hash). Each event's bytes are put
into the body as they are (`json.dumps` with its spaces), so a reject can be checked byte for byte.

Storage is always read from moto directly (the session's `store`), never through the proxy.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import orjson

from tests.conftest import partition_items, payload, reject_keys

BATCH = 30  # events of a batch scenario: two BatchWriteItem chunks (25 + 5), so a batch can fail half way
USAGE_TIME = "2024-03-01T12:00:00Z"


@dataclass
class Sent:
    index: int
    marker: str
    event: object  # as the client meant it
    raw: bytes  # its bytes exactly as they are in the body
    valid: bool


@dataclass
class Built:
    """One request as a client sends it (and re-sends it, byte for byte, on a retry)."""

    endpoint: str
    body: bytes
    headers: dict[str, str]
    path: str | None
    events: list[Sent]

    @property
    def valid_markers(self) -> list[str]:
        return [sent.marker for sent in self.events if sent.valid]

    @property
    def has_rejects(self) -> bool:
        return any(not sent.valid for sent in self.events)


@dataclass
class Ack:
    """What an answer says became of each event (indices into the request's events)."""

    stored: set[int] = field(default_factory=set)
    duplicate: set[int] = field(default_factory=set)
    rejected: set[int] = field(default_factory=set)

    @property
    def acknowledged(self) -> set[int]:
        return self.stored | self.duplicate


def join(pieces: list[bytes], before: bytes = b"[", after: bytes = b"]") -> bytes:
    return before + b", ".join(pieces) + after


def now_ms() -> int:
    return int(time.time() * 1000)


class Scenario:
    name: str
    endpoint: str
    all_or_nothing: bool
    batch: bool  # more than one event per request (two write chunks)

    def build(self, key: str, tenant: str, rejects: bool = False) -> Built:
        raise NotImplementedError

    def partitions(self, tenant: str, built: Built) -> list[str]:
        raise NotImplementedError

    def marker_of(self, stored: dict) -> str:
        raise NotImplementedError

    def ack(self, status: int, body: object, built: Built) -> Ack:
        raise NotImplementedError

    def dialect_5xx(self, status: int, body: object) -> bool:
        """Whether a 5xx body is the family's own error shape."""
        raise NotImplementedError

    def extra_checks(self, store, tenant: str, built: Built, status: int, body: object) -> list[str]:
        """Family-specific checks of a 2xx answer against storage; returns what is wrong."""
        return []

    # --- storage, read from moto directly ---

    def items(self, store, tenant: str, built: Built) -> list[dict]:
        return [item for pk in self.partitions(tenant, built)
                for item in partition_items(store.dynamodb, pk, store.settings.events_table)]

    def stored_markers(self, store, tenant: str, built: Built) -> Counter:
        return Counter(self.marker_of(payload(item)) for item in self.items(store, tenant, built))

    def __repr__(self) -> str:
        return self.name


# --- DataHub: all-or-nothing, overwrite by id ----------------------------------------------------------


class DataHub(Scenario):
    endpoint = "datahub_events"
    all_or_nothing = True
    batch = True
    provider = "faults"

    def __init__(self, ids: bool) -> None:
        self.ids = ids
        self.name = "datahub_with_ids" if ids else "datahub_without_ids"

    def build(self, key, tenant, rejects=False):
        events = []
        for index in range(BATCH):
            invalid = rejects and index in (3, 17)
            marker = f"bad-{index}" if invalid else f"m{index}"
            event = {"provider": self.provider, "time": "not a time" if invalid else "2024-03-10T23:00:00Z",
                     "dimensions": [{"type": "label", "key": "marker", "value": marker}],
                     "metrics": [{"type": "cost", "value": index + 0.5}]}
            if self.ids:
                event = {"id": f"ev-{index}", **event}
            raw = json.dumps(event).encode()
            events.append(Sent(index, marker, event, raw, not invalid))
        body = join([sent.raw for sent in events], b'{"events": [', b"]}")
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        return Built(self.endpoint, body, headers, None, events)

    def partitions(self, tenant, built):
        return [f"{tenant}#datahub#{self.provider}"]

    def marker_of(self, stored):
        return stored["dimensions"][0]["value"]

    def ack(self, status, body, built):
        everything = {sent.index for sent in built.events}
        if status == 201:
            return Ack(stored=everything)
        if status == 400:
            return Ack(rejected=everything)
        return Ack()

    def dialect_5xx(self, status, body):
        return isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str)

    def extra_checks(self, store, tenant, built, status, body):
        """With ids: each id's item holds that id's event (the id is the sort key)."""
        if status != 201 or not self.ids:
            return []
        by_id = {item["sk"]["S"]: self.marker_of(payload(item)) for item in self.items(store, tenant, built)}
        return [f"id {sent.event['id']} does not hold its own event" for sent in built.events
                if by_id.get(sent.event["id"]) != sent.marker]


# --- usage: keep-first on the canonical event's SHA-256, per-event outcomes -------------------------------


class Usage(Scenario):
    endpoint_single = "usage_s3"
    endpoint_batch = "usage_s3_batch"
    all_or_nothing = False

    def __init__(self, batch: bool) -> None:
        self.batch = batch
        self.name = "usage_s3_batch" if batch else "usage_s3_single"
        self.endpoint = self.endpoint_batch if batch else self.endpoint_single

    @staticmethod
    def event(marker: str, invalid: bool = False) -> dict:
        return {"action": "GetObject", "timestamp": USAGE_TIME, "provider": "aws", "bucket": "faults",
                "objectKey": marker, "bytes": -1 if invalid else 100}

    def build(self, key, tenant, rejects=False):
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        if not self.batch:
            marker = "bad-0" if rejects else "m0"
            event = self.event(marker, invalid=rejects)
            raw = json.dumps(event, indent=1).encode()  # a client's own formatting
            return Built(self.endpoint, raw, headers, None, [Sent(0, marker, event, raw, not rejects)])
        events = []
        count = BATCH + 2 if rejects else BATCH
        for index in range(count):
            invalid = rejects and index in (3, 17)
            marker = f"bad-{index}" if invalid else f"m{index}"
            event = self.event(marker, invalid)
            events.append(Sent(index, marker, event, json.dumps(event).encode(), not invalid))
        return Built(self.endpoint, join([sent.raw for sent in events]), headers, None, events)

    def partitions(self, tenant, built):
        return [f"{tenant}#usage#s3"]

    def marker_of(self, stored):
        return stored["objectKey"]

    def ack(self, status, body, built):
        if not self.batch:
            if status == 200:
                duplicate = "duplicate" in body["message"]
                return Ack(stored=set() if duplicate else {0}, duplicate={0} if duplicate else set())
            return Ack(rejected={0}) if status == 400 else Ack()
        if status == 200:
            ack = Ack()
            for result in body["events"]:
                getattr(ack, result["status"]).add(result["index"])  # stored, duplicate or rejected
            return ack
        return Ack(rejected={sent.index for sent in built.events}) if status == 400 else Ack()

    def dialect_5xx(self, status, body):
        return isinstance(body, dict) and set(body) == {"message"} and isinstance(body["message"], str)

    def extra_checks(self, store, tenant, built, status, body):
        """The batch answer's counts agree with its per-event outcomes."""
        if status != 200 or not self.batch:
            return []
        ack = self.ack(status, body, built)
        counts = {"stored": len(ack.stored), "duplicates": len(ack.duplicate), "rejected": len(ack.rejected)}
        wrong = {name: (body[name], count) for name, count in counts.items() if body[name] != count}
        return [f"the counts disagree with the per-event outcomes: {wrong}"] if wrong else []


# --- logs: partial acceptance, keep-first on id / requestId+hash / hash --------------------------------------


class Logs(Scenario):
    name = "logs_batch"
    endpoint = "logs_events"
    all_or_nothing = False
    batch = True

    def build(self, key, tenant, rejects=False):
        dataset = "faults"
        events = []
        count = BATCH + 2 if rejects else BATCH
        for index in range(count):
            invalid = rejects and index in (3, 17)
            if invalid:  # not an object: rejected on its own, the others stored
                marker = f"bad-{index}"
                event: object = [marker, index, {"nested": True}]
            else:
                marker = f"m{index}"
                event = {"message": marker, "level": "info"}
                if index % 3 == 0:
                    event["id"] = f"log-{index}"
                elif index % 3 == 1:
                    event["requestId"] = "req-faults"
            events.append(Sent(index, marker, event, json.dumps(event).encode(), not invalid))
        headers = {"x-api-key": key, "Content-Type": "application/json", "x-service": "faults"}
        return Built(self.endpoint, join([sent.raw for sent in events]), headers, f"/v1/{dataset}", events)

    def partitions(self, tenant, built):
        return [f"{tenant}#logs#faults"]

    def marker_of(self, stored):
        return stored["message"]

    def ack(self, status, body, built):
        everything = {sent.index for sent in built.events}
        if status == 202:  # the dialect does not tell stored from duplicate
            return Ack(stored=everything)
        if status == 400 and "invalid" in body:
            rejected = {entry["index"] for entry in body["invalid"]}
            return Ack(stored=everything - rejected, rejected=rejected)
        return Ack(rejected=everything) if status == 400 else Ack()

    def dialect_5xx(self, status, body):
        # The reference's 500 body; 503 (storage unavailable, budget spent) in the same shape.
        return body == {"message": {500: "Internal Error", 503: "Service Unavailable"}.get(status)}


# --- ops: one event; info keep-first, problems through a conditional window ------------------------------------


class Ops(Scenario):
    endpoint = "ops_events"
    all_or_nothing = True
    batch = False

    def __init__(self, problem: bool) -> None:
        self.problem = problem
        self.name = "ops_problem" if problem else "ops_info"
        self.stream = "ERROR_EVENT" if problem else "CUSTOM_INFO"

    def build(self, key, tenant, rejects=False):
        marker = "bad-0" if rejects else "m0"
        start = now_ms() - 60_000
        entity = f"SERVICE-{uuid.uuid4().hex[:16].upper()}"
        if self.problem:
            event = {"eventType": "ERROR_EVENT", "attachRules": {"entityIds": [entity]}, "source": "faults",
                     "title": marker, "description": "5xx above 2%", "start": start,
                     "timeoutMinutes": 0 if rejects else 30}
        else:
            event = {"eventType": "CUSTOM_INFO", "attachRules": {"entityIds": [entity]}, "source": "faults",
                     "title": marker, "description": "nightly batch finished", "start": start,
                     "end": start - 1 if rejects else start + 30_000}
        raw = json.dumps(event, indent=2).encode()
        headers = {"Authorization": f"Api-Token {key}", "Content-Type": "application/json"}
        return Built(self.endpoint, raw, headers, None, [Sent(0, marker, event, raw, not rejects)])

    def partitions(self, tenant, built):
        return [f"{tenant}#ops#{self.stream}"]

    def problems(self, store, tenant) -> list[dict]:
        return partition_items(store.dynamodb, f"{tenant}#ops#problem", store.settings.events_table)

    def marker_of(self, stored):
        return stored["title"]

    def ack(self, status, body, built):
        if status == 200:
            return Ack(stored={0})  # the dialect does not tell stored from duplicate
        return Ack(rejected={0}) if status == 400 else Ack()

    def dialect_5xx(self, status, body):
        return (isinstance(body, dict) and set(body) == {"error"} and body["error"].get("code") == status
                and isinstance(body["error"].get("message"), str))

    def extra_checks(self, store, tenant, built, status, body):
        if status != 200:
            return []
        items = self.items(store, tenant, built)
        problems = []
        if self.problem:
            [correlation_id] = body["storedCorrelationIds"]
            if not any(item.get("correlation_id", {}).get("S") == correlation_id
                       and item["sk"]["S"].startswith(f"problem#{correlation_id}#") for item in items):
                problems.append(f"no stored event carries the answered correlation id {correlation_id}")
            if [item["correlation_id"]["S"] for item in self.problems(store, tenant)] != [correlation_id]:
                problems.append(f"the problem item is not the one answered ({correlation_id})")
        else:
            [event_id] = body["storedEventIds"]
            if not any(item.get("event_id", {}).get("S") == str(event_id) for item in items):
                problems.append(f"no stored event has the answered id {event_id}")
        return problems


SCENARIOS = {scenario.name: scenario for scenario in (
    DataHub(ids=True), DataHub(ids=False), Usage(batch=True), Usage(batch=False), Logs(), Ops(problem=False),
    Ops(problem=True),
)}


# --- rejects in S3 -----------------------------------------------------------------------------------------


def reject_objects(store, tenant: str, endpoint: str, request_id: str) -> dict[str, bytes]:
    """Every object the rejects bucket holds for one request (read from moto directly)."""
    prefix = f"rejects/tenant={tenant}/endpoint={endpoint}/"
    keys = reject_keys(store.s3, store.settings.rejects_bucket, prefix, request_id)
    return {key: store.get_object(key) for key in keys}


def how_kept(objects: dict[str, bytes], sent: Sent) -> str | None:
    """"raw" when the event's bytes are kept byte for byte (in a whole body, or where the
    metadata says its bytes sit in the events object), "re-serialized" when only an equal JSON value
    of it is (the older format: base64 under the metadata's "events"), None when it is not kept."""
    if any(sent.raw in data for key, data in objects.items() if key.endswith(".body")):
        return "raw"
    for key, data in objects.items():
        if not key.endswith(".json"):
            continue
        meta = json.loads(data)
        for entry in meta.get("events", []):
            if entry.get("index") != sent.index:
                continue
            if "raw" not in entry:
                events = objects.get(meta.get("events_key"), b"")
                kept = events[entry["start"]:entry["end"]]
                if kept == sent.raw:
                    return "raw"
                return "re-serialized" if kept and orjson.loads(kept) == sent.event else None
            kept = base64.b64decode(entry["raw"])
            if sent.raw in kept:
                return "raw"
            if orjson.loads(kept) == sent.event:
                return "re-serialized"
    return None
