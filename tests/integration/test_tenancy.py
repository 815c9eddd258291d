"""Two tenants sending identical events (same ids) never touch each other's items or rejects.

Runs over every catalog endpoint that stores events and has sample events, so a family added later
is covered without a change here.
"""

from __future__ import annotations

import json
import uuid

import pytest

from cli.keys import KeyAdmin
from tests.conftest import EVENTS
from tests.integration.keys_support import credential, keyed_sample, one_endpoint_per_family, succeeded, with_headers

ENDPOINTS = one_endpoint_per_family()


def items_of(store, tenants: tuple[str, str]) -> dict[str, list[dict]]:
    """Every events-table item of these tenants (a test may Scan; the service never does)."""
    found: dict[str, list[dict]] = {tenant: [] for tenant in tenants}
    paginator = store.dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=store.settings.events_table,
        FilterExpression="tenant IN (:a, :b)",
        ExpressionAttributeValues={":a": {"S": tenants[0]}, ":b": {"S": tenants[1]}},
        ProjectionExpression="pk, sk, tenant, payload",
        ConsistentRead=True,
    ):
        for item in page["Items"]:
            found[item["tenant"]["S"]].append(item)
    return found


def without_tenant(item: dict, tenant: str) -> tuple[str, str]:
    pk = item["pk"]["S"]
    assert pk.startswith(f"{tenant}#"), pk  # the tenant leads every partition key
    return pk.removeprefix(f"{tenant}#"), item["sk"]["S"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_identical_events_from_two_tenants_stay_apart(store, invoke, endpoint):
    admin = KeyAdmin(store)
    suffix = uuid.uuid4().hex[:10]
    (key_a, _), (key_b, _) = admin.create(f"a-{suffix}", ["*"]), admin.create(f"b-{suffix}", ["*"])
    tenants = (f"a-{suffix}", f"b-{suffix}")

    first_a = invoke(endpoint.name, keyed_sample(endpoint, key_a))
    after_a = items_of(store, tenants)
    assert succeeded(first_a[0]) and after_a[tenants[0]] and not after_a[tenants[1]]

    # Same body, same ids, other tenant: stored in full, not reported as a duplicate of A's.
    first_b = invoke(endpoint.name, keyed_sample(endpoint, key_b))
    assert first_b[0] == first_a[0]
    assert _duplicates(first_b[2]) == _duplicates(first_a[2])
    both = items_of(store, tenants)
    a_items = sorted(without_tenant(item, tenants[0]) for item in both[tenants[0]])
    b_items = sorted(without_tenant(item, tenants[1]) for item in both[tenants[1]])
    # The same streams and as many items, each under its own tenant (sort keys may hold ids the
    # server generates, so they need not be equal).
    assert [pk for pk, _ in a_items] == [pk for pk, _ in b_items]
    assert both[tenants[0]] == after_a[tenants[0]]  # B's write neither overwrote nor touched A's items

    # A sends again: whatever its dedup rule does to A's items, B's stay exactly as they were.
    assert succeeded(invoke(endpoint.name, keyed_sample(endpoint, key_a))[0])
    assert items_of(store, tenants)[tenants[1]] == both[tenants[1]]


def _duplicates(body) -> int:
    """How many events an answer reports as duplicates (0 for dialects that do not say)."""
    return json.dumps(body).lower().count("duplicate")


def invalid_sample(endpoint) -> dict | None:
    samples = sorted((EVENTS / endpoint.name).glob("invalid_*.json"))
    return json.loads(samples[0].read_text()) if samples else None


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if invalid_sample(e)], ids=lambda e: e.name)
def test_rejects_are_kept_under_the_senders_tenant_only(store, invoke, endpoint):
    admin = KeyAdmin(store)
    suffix = uuid.uuid4().hex[:10]
    tenants = (f"a-{suffix}", f"b-{suffix}")
    request_ids = {}
    for tenant in tenants:
        key, _ = admin.create(tenant, ["*"])
        status, headers, _ = invoke(endpoint.name, with_headers(invalid_sample(endpoint), credential(endpoint, key)))
        assert status == 400 or succeeded(status)  # partial acceptance answers 2xx and rejects the rest
        request_ids[tenant] = headers["X-Request-Id"]
    bucket = store.settings.rejects_bucket
    for tenant in tenants:
        other = next(t for t in tenants if t != tenant)
        listed = store.s3.list_objects_v2(Bucket=bucket, Prefix=f"rejects/tenant={tenant}/").get("Contents", [])
        keys = [obj["Key"] for obj in listed]
        assert any(request_ids[tenant] in key for key in keys), keys
        assert not any(request_ids[other] in key for key in keys)
        for key in keys:
            if key.endswith(".json") and request_ids[tenant] in key:
                assert json.loads(store.s3.get_object(Bucket=bucket, Key=key)["Body"].read())["tenant"] == tenant
