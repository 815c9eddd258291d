"""Per-key rate limits through the real pipeline and moto's DynamoDB (atomic counters, not memory)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cli.keys import KeyAdmin
from ingest import catalog
from ingest.auth import DEFAULT_RATE_LIMIT
from ingest.pipeline import Pipeline
from ingest.store import Store
from tests.integration.keys_support import (
    credential,
    handle,
    keyed_sample,
    one_endpoint_per_family,
    succeeded,
    valid_sample,
)

DATAHUB = catalog.get("datahub_events")
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def frozen(moment: datetime):
    return lambda: moment


def mid_minute() -> datetime:
    """A fixed instant 20 s into a minute: every request of a test lands in one window."""
    return datetime.now(UTC).replace(second=20, microsecond=0)


def datahub_event(http_event, key: str, provider: str) -> dict:
    body = json.dumps({"events": [{"provider": provider, "time": "2024-03-10T23:00:00Z"}]}).encode()
    return http_event(DATAHUB.name, body, credential(DATAHUB, key))


def test_the_request_after_a_low_limit_gets_429_with_retry_after(store, settings, http_event):
    key, _ = KeyAdmin(store).create(tenant(), ["datahub"], rate_limit=3)
    pipeline = Pipeline(DATAHUB, settings, store, clock=frozen(mid_minute()))
    provider = f"p-{uuid.uuid4().hex[:8]}"
    answers = [handle(pipeline, datahub_event(http_event, key, provider)) for _ in range(4)]
    assert [a["statusCode"] for a in answers] == [201, 201, 201, 429]
    assert [a["headers"]["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer["headers"]["RateLimit-Limit"] == "3"
        assert answer["headers"]["RateLimit-Reset"] == "40"
        assert answer["headers"]["RateLimit-Policy"] == "3;w=60"
    assert "Retry-After" not in answers[2]["headers"]
    assert answers[3]["headers"]["Retry-After"] == "40"
    assert json.loads(answers[3]["body"]) == {
        "error": "Rate limit exceeded: this API key may send 3 requests per minute. Retry after 40 seconds."
    }


def cheapest_route():
    """A route that only authenticates and counts (a ping: two DynamoDB calls), else DataHub."""
    routes = [e for e in catalog.ENDPOINTS if getattr(e, "kind", "ingest") != "ingest" and valid_sample(e)]
    return routes[0] if routes else DATAHUB


def test_the_1001st_request_in_a_minute_gets_429_at_the_default_limit(store, settings, http_event):
    """A key's budget covers all its routes: 1,000 requests pass, the 1,001st (a DataHub batch) is
    refused. The 1,000 use the cheapest real route, so the test stays quick against moto."""
    route = cheapest_route()
    key, record = KeyAdmin(store).create(tenant(), ["datahub", route.family])
    assert record["rate_limit"] == DEFAULT_RATE_LIMIT == 1_000
    moment = mid_minute()
    cheap, datahub = (
        Pipeline(route, settings, store, clock=frozen(moment)),
        Pipeline(DATAHUB, settings, store, clock=frozen(moment)),
    )
    event = keyed_sample(route, key) if route is not DATAHUB else None
    provider = f"p-{uuid.uuid4().hex[:8]}"
    statuses = [handle(cheap, event or datahub_event(http_event, key, provider))["statusCode"] for _ in range(1_000)]
    assert all(succeeded(status) for status in statuses)
    answer = handle(datahub, datahub_event(http_event, key, provider))
    assert answer["statusCode"] == 429
    assert answer["headers"]["Retry-After"] == "40"
    assert answer["headers"]["RateLimit-Limit"] == "1000" and answer["headers"]["RateLimit-Remaining"] == "0"


def test_the_next_minute_is_a_fresh_window(store, settings, http_event):
    key, _ = KeyAdmin(store).create(tenant(), ["datahub"], rate_limit=1)
    start = mid_minute()
    provider = f"p-{uuid.uuid4().hex[:8]}"
    this_minute = Pipeline(DATAHUB, settings, store, clock=frozen(start))
    next_minute = Pipeline(DATAHUB, settings, store, clock=frozen(start + timedelta(minutes=1)))
    assert handle(this_minute, datahub_event(http_event, key, provider))["statusCode"] == 201
    assert handle(this_minute, datahub_event(http_event, key, provider))["statusCode"] == 429
    assert handle(next_minute, datahub_event(http_event, key, provider))["statusCode"] == 201


def test_concurrent_callers_never_get_past_the_limit(store, settings, http_event):
    """Many callers at once, like many Lambdas: the atomic counter admits exactly the limit."""
    limit, callers, per_caller = 25, 10, 6
    key, _ = KeyAdmin(store).create(tenant(), ["datahub"], rate_limit=limit)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    moment = mid_minute()
    statuses: list[int] = []
    lock = threading.Lock()

    def caller():
        pipeline = Pipeline(DATAHUB, settings, store, clock=frozen(moment))  # one "Lambda" each
        for _ in range(per_caller):
            status = pipeline.handle(datahub_event(http_event, key, provider))["statusCode"]
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from ingest.observability import metrics

    metrics.clear_metrics()
    assert sorted(statuses) == [201] * limit + [429] * (callers * per_caller - limit)


def test_a_limit_change_applies_on_the_next_request(store, settings, http_event):
    admin = KeyAdmin(store)
    key, record = admin.create(tenant(), ["datahub"], rate_limit=1)
    pipeline = Pipeline(DATAHUB, settings, store, clock=frozen(mid_minute()))
    provider = f"p-{uuid.uuid4().hex[:8]}"
    assert handle(pipeline, datahub_event(http_event, key, provider))["statusCode"] == 201
    assert handle(pipeline, datahub_event(http_event, key, provider))["statusCode"] == 429
    admin.update(record["prefix"], rate_limit=5)
    answer = handle(pipeline, datahub_event(http_event, key, provider))
    assert answer["statusCode"] == 201 and answer["headers"]["RateLimit-Remaining"] == "2"


def test_keys_of_one_tenant_have_their_own_budgets(store, settings, http_event):
    admin = KeyAdmin(store)
    owner = tenant()
    first, _ = admin.create(owner, ["datahub"], rate_limit=1)
    second, _ = admin.create(owner, ["datahub"], rate_limit=1)
    pipeline = Pipeline(DATAHUB, settings, store, clock=frozen(mid_minute()))
    provider = f"p-{uuid.uuid4().hex[:8]}"
    assert handle(pipeline, datahub_event(http_event, first, provider))["statusCode"] == 201
    assert handle(pipeline, datahub_event(http_event, first, provider))["statusCode"] == 429
    assert handle(pipeline, datahub_event(http_event, second, provider))["statusCode"] == 201


@pytest.mark.parametrize("endpoint", one_endpoint_per_family(), ids=lambda e: e.name)
def test_every_family_answers_429_in_its_dialect_and_carries_the_headers(store, settings, endpoint):
    key, _ = KeyAdmin(store).create(tenant(), [endpoint.family], rate_limit=1)
    # The present instant, frozen: families judge event times against it, and both requests must
    # land in one window.
    pipeline = Pipeline(endpoint, settings, store, clock=frozen(datetime.now(UTC)))
    first = handle(pipeline, keyed_sample(endpoint, key))
    second = handle(pipeline, keyed_sample(endpoint, key))
    assert succeeded(first["statusCode"]), first
    for header in RATE_HEADERS:
        assert header in first["headers"], header
    assert second["statusCode"] == 429, second
    assert int(second["headers"]["Retry-After"]) >= 1
    assert second["headers"]["RateLimit-Remaining"] == "0"
    assert "Rate limit exceeded" in second["body"]


# --- sharded counters (issue 11, item 10) ---------------------------------------------------------


def counter_items(store, prefix: str) -> dict[str, dict]:
    """The key's rate counters, read straight from the keys table: pk -> item."""
    pages = store.dynamodb.get_paginator("scan").paginate(
        TableName=store.settings.keys_table,
        FilterExpression="begins_with(pk, :counters)",
        ExpressionAttributeValues={":counters": {"S": f"rate#{prefix}#"}},
        ConsistentRead=True,
    )
    return {item["pk"]["S"]: item for page in pages for item in page["Items"]}


class CountingClient:
    """A DynamoDB client that counts the keys-table calls by operation (the rate limiter's cost)."""

    def __init__(self, client, keys_table: str):
        self._client, self._table, self.calls = client, keys_table, Counter()

    def __getattr__(self, name):
        operation = getattr(self._client, name)

        def call(**kwargs):
            if kwargs.get("TableName") == self._table or self._table in kwargs.get("RequestItems", {}):
                self.calls[name] += 1
            return operation(**kwargs)

        return call


def counting_store(store, settings) -> tuple[Store, CountingClient]:
    client = CountingClient(store.dynamodb, settings.keys_table)
    return Store(settings, dynamodb=client, s3=store.s3), client


def test_a_default_key_still_counts_on_one_counter_item(store, settings):
    route = cheapest_route()
    key, record = KeyAdmin(store).create(tenant(), ["datahub", route.family])
    counted, client = counting_store(store, settings)
    moment = mid_minute()  # one instant: a second call could fall in the next minute
    pipeline = Pipeline(route, settings, counted, clock=frozen(moment))
    event = keyed_sample(route, key)
    answers = [handle(pipeline, event) for _ in range(12)]
    assert client.calls == {"get_item": 12, "update_item": 12}  # the key, and one counter write: as before
    assert all(succeeded(answer["statusCode"]) for answer in answers)
    assert answers[-1]["headers"]["RateLimit-Remaining"] == str(DEFAULT_RATE_LIMIT - 12)
    window = int(moment.timestamp() // 60)
    items = counter_items(store, record["prefix"])
    assert list(items) == [f"rate#{record['prefix']}#{window}"]
    assert items[f"rate#{record['prefix']}#{window}"]["hits"] == {"N": "12"}


def test_a_high_limit_key_spreads_its_counts_over_several_items_and_still_gets_429_past_its_limit(store, settings):
    """90,001/min is four counter items (ceil(90,001 / 30,000)). The first requests land on several
    of them; then each item is set to two short of its share, as if the minute were nearly spent, and
    exactly the 8 requests of room left pass: the 9th gets 429, and the window is marked spent."""
    route = cheapest_route()
    limit = 90_001
    key, record = KeyAdmin(store).create(tenant(), ["datahub", route.family], rate_limit=limit)
    prefix, moment = record["prefix"], mid_minute()
    window = int(moment.timestamp() // 60)
    counted, client = counting_store(store, settings)
    pipeline = Pipeline(route, settings, counted, clock=frozen(moment))
    event = keyed_sample(route, key)
    assert all(succeeded(handle(pipeline, event)["statusCode"]) for _ in range(40))
    assert client.calls["update_item"] == 40 and client.calls["batch_get_item"] == 0  # no extra call

    items = counter_items(store, prefix)
    pks = [f"rate#{prefix}#{window}"] + [f"rate#{prefix}#{window}#{shard}" for shard in (1, 2, 3)]
    assert len(items) >= 2 and set(items) <= set(pks)  # random picks: all four, all but certainly
    assert sum(int(item["hits"]["N"]) for item in items.values()) == 40
    assert all(int(item["purge_at"]["N"]) == (window + 1) * 60 + 3_600 for item in items.values())  # TTL

    shares = [22_501, 22_500, 22_500, 22_500]
    for pk, share in zip(pks, shares):
        store.dynamodb.put_item(TableName=settings.keys_table, Item={
            "pk": {"S": pk}, "hits": {"N": str(share - 2)}, "purge_at": {"N": str((window + 1) * 60 + 3_600)}})
    answers = [handle(pipeline, event) for _ in range(10)]
    assert [succeeded(a["statusCode"]) for a in answers] == [True] * 8 + [False] * 2
    assert [a["statusCode"] for a in answers[8:]] == [429, 429]
    assert answers[7]["headers"]["RateLimit-Remaining"] == "0"
    assert answers[8]["headers"]["Retry-After"] == "40"
    assert answers[8]["headers"]["RateLimit-Limit"] == str(limit)
    stored = counter_items(store, prefix)
    assert set(stored) == set(pks)
    assert all(item.get("spent") == {"N": str(limit)} for item in stored.values())
    client.calls.clear()
    assert handle(pipeline, event)["statusCode"] == 429
    assert client.calls == {"get_item": 1, "update_item": 1}  # a spent minute refuses in one write


# --- issue 14: the count beside the key lookup, only for a key the edge authorizer let through ------


def vouched(event: dict, prefix: str) -> dict:
    """The event as API Gateway passes it on after the edge authorizer allowed this key."""
    return {**event, "requestContext": {**event["requestContext"],
                                        "authorizer": {"keyPrefix": prefix, "tenant": "x", "principalId": "x"}}}


def test_a_vouched_key_is_counted_beside_its_lookup_exactly_once_per_request(store, settings):
    route = cheapest_route()
    key, record = KeyAdmin(store).create(tenant(), ["datahub", route.family], rate_limit=5)
    counted, client = counting_store(store, settings)
    moment = mid_minute()  # one instant: a second call could fall in the next minute
    pipeline = Pipeline(route, settings, counted, clock=frozen(moment))
    event = vouched(keyed_sample(route, key), record["prefix"])
    answers = [handle(pipeline, event) for _ in range(6)]
    assert [succeeded(answer["statusCode"]) for answer in answers] == [True] * 5 + [False]
    assert answers[-1]["statusCode"] == 429
    assert client.calls == {"get_item": 6, "update_item": 6}
    window = int(moment.timestamp() // 60)
    assert counter_items(store, record["prefix"])[f"rate#{record['prefix']}#{window}"]["hits"] == {"N": "6"}


def test_a_context_naming_another_prefix_starts_no_count(store, settings):
    """The count starts early only for the very prefix the authorizer checked (API Gateway caches
    its answer per header value, so a request presenting another key never carries that context);
    otherwise it waits for the handler's own check."""
    route = cheapest_route()
    key, record = KeyAdmin(store).create(tenant(), ["datahub", route.family])
    other, other_record = KeyAdmin(store).create(tenant(), ["datahub", route.family])
    pipeline = Pipeline(route, settings, store, clock=frozen(mid_minute()))
    wrong = other[:9] + ("A" if other[9] != "A" else "B") + other[10:]  # the other prefix, a wrong secret
    assert handle(pipeline, vouched(keyed_sample(route, wrong), record["prefix"]))["statusCode"] == 401
    assert counter_items(store, other_record["prefix"]) == {}  # refused before any count
    assert succeeded(handle(pipeline, vouched(keyed_sample(route, other), record["prefix"]))["statusCode"])
    assert counter_items(store, record["prefix"]) == {}  # the vouched prefix was not the one presented
    assert len(counter_items(store, other_record["prefix"])) == 1  # the other key: counted after its check


def test_a_revoked_key_still_allowed_at_the_edge_is_refused_by_the_handler(store, settings):
    route = cheapest_route()
    admin = KeyAdmin(store)
    key, record = admin.create(tenant(), ["datahub", route.family])
    admin.revoke(record["prefix"])
    pipeline = Pipeline(route, settings, store, clock=frozen(mid_minute()))
    answer = handle(pipeline, vouched(keyed_sample(route, key), record["prefix"]))
    assert answer["statusCode"] == 401
