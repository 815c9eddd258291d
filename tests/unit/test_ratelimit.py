"""Rate-limit arithmetic: fixed one-minute windows, sharded counters, headers on every answer,
Retry-After once over."""

import random
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings, strategies as st

from ingest.auth import DEFAULT_RATE_LIMIT, MAX_RATE_LIMIT, Principal
from ingest.errors import TooManyRequests, Unavailable
from ingest.ratelimit import (
    PURGE_AFTER_SECONDS,
    SHARD_CAPACITY,
    WINDOW_SECONDS,
    Quota,
    RateLimiter,
    shard_count,
    shares,
)


class Counters:
    """Counts like DynamoDB's ADD would (atomically, one value per caller), and records every call."""

    def __init__(self):
        self.counts: Counter = Counter()  # (prefix, window, shard) -> hits
        self.spent: dict[tuple[str, int, int], int] = {}
        self.calls: list[tuple[str, int, int]] = []  # count_request's (prefix, window, purge_at)
        self.operations: Counter = Counter()  # DynamoDB calls by name
        self._lock = threading.Lock()

    def count_request(self, prefix, window, purge_at, deadline, *, shard=0):
        with self._lock:
            self.calls.append((prefix, window, purge_at))
            self.operations["UpdateItem"] += 1
            self.counts[(prefix, window, shard)] += 1
            return self.counts[(prefix, window, shard)], self.spent.get((prefix, window, shard))

    def read_counts(self, prefix, window, shards, deadline):
        with self._lock:
            self.operations["BatchGetItem"] += 1
            return [self.counts[(prefix, window, shard)] for shard in range(shards)]

    def mark_spent(self, prefix, window, shards, limit, purge_at, deadline):
        with self._lock:
            self.operations["UpdateItem"] += shards
            for shard in range(shards):
                self.spent[(prefix, window, shard)] = limit

    def shards_used(self, prefix):
        return {shard: hits for (p, _, shard), hits in self.counts.items() if p == prefix}


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(1_700_000_040 + seconds, UTC)  # 1_700_000_040 is a minute boundary


def test_the_request_after_the_limit_is_refused_with_retry_after_until_the_window_ends():
    counters = Counters()
    limiter = RateLimiter(counters)
    principal = Principal("acme", "ABCDEFGH", rate_limit=3)
    quotas = [limiter.consume(principal, at(20.2), None) for _ in range(4)]
    assert [q.remaining for q in quotas] == [2, 1, 0, 0]
    assert [q.exceeded for q in quotas] == [False, False, False, True]
    for quota in quotas[:3]:
        quota.enforce()
        assert "Retry-After" not in quota.headers()
    with pytest.raises(TooManyRequests) as caught:
        quotas[3].enforce()
    assert caught.value.status == 429 and caught.value.retry_after_seconds == 40
    assert quotas[3].headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "40",  # 39.8 s left, rounded up
        "RateLimit-Policy": "3;w=60",
        "Retry-After": "40",
    }


def test_a_new_minute_is_a_new_window_and_counters_purge_after_it():
    counters = Counters()
    limiter = RateLimiter(counters)
    principal = Principal("acme", "ABCDEFGH", rate_limit=1)
    assert not limiter.consume(principal, at(59.999), None).exceeded
    assert limiter.consume(principal, at(59.999), None).exceeded
    fresh = limiter.consume(principal, at(60), None)
    assert not fresh.exceeded and fresh.reset_seconds == 60
    (_, first_window, purge_at), *_, (_, next_window, _) = counters.calls
    assert next_window == first_window + 1
    assert purge_at == (first_window + 1) * WINDOW_SECONDS + PURGE_AFTER_SECONDS


def test_keys_are_counted_apart():
    counters = Counters()
    limiter = RateLimiter(counters)
    a, b = Principal("t", "AAAAAAAA", rate_limit=1), Principal("t", "BBBBBBBB", rate_limit=1)
    assert not limiter.consume(a, at(1), None).exceeded
    assert not limiter.consume(b, at(1), None).exceeded
    assert limiter.consume(a, at(1), None).exceeded


def test_reset_is_never_zero():
    assert RateLimiter(Counters()).consume(Principal("t", "AAAAAAAA"), at(59.9999), None).reset_seconds == 1
    assert Quota(limit=5, used=9, reset_seconds=1).remaining == 0


def test_the_openapi_document_shows_429_and_the_headers_on_every_route():
    from ingest import catalog
    from ingest.openapi import build_document

    document = build_document()
    for endpoint in catalog.ENDPOINTS:
        responses = document["paths"][endpoint.path][endpoint.method.lower()]["responses"]
        if endpoint.public and not endpoint.keyless:  # the documents: no key, no limit, no RateLimit-* headers
            assert "429" not in responses and "headers" not in responses["200"], endpoint.name
            continue
        assert "Retry-After" in responses["429"]["headers"], endpoint.name
        assert "RateLimit-Remaining" in responses[str(endpoint.success_status)]["headers"], endpoint.name
        if endpoint.keyless:  # no key to refuse: the route's own bound, for every caller together
            assert "401" not in responses and "403" not in responses, endpoint.name
        else:
            assert "headers" not in responses["401"]


# --- sharded counters ---------------------------------------------------------------------------


def test_the_shard_count_follows_the_limit_and_small_keys_keep_one_counter():
    assert shard_count(DEFAULT_RATE_LIMIT) == 1
    assert [shard_count(n) for n in (1, SHARD_CAPACITY, SHARD_CAPACITY + 1, 60_000, 60_001)] == [1, 1, 2, 2, 3]
    assert shard_count(MAX_RATE_LIMIT) == 34  # one BatchGetItem (100 keys) reads them all


@pytest.mark.parametrize("limit", [1, 7, 999, 1_000, 29_999, 30_000, 30_001, 90_001, 123_457, MAX_RATE_LIMIT])
def test_shares_sum_to_the_limit_and_each_stays_under_a_shard_capacity(limit):
    split = shares(limit, shard_count(limit))
    assert sum(split) == limit and max(split) - min(split) <= 1
    assert max(split) <= SHARD_CAPACITY  # ~500 writes/s per counter item at the full limit


def test_a_default_key_counts_on_one_item_with_one_call_per_request():
    counters = Counters()
    limiter = RateLimiter(counters, rng=random.Random(1))
    principal = Principal("acme", "ABCDEFGH")
    quotas = [limiter.consume(principal, at(5), None) for _ in range(DEFAULT_RATE_LIMIT + 1)]
    assert counters.shards_used("ABCDEFGH") == {0: DEFAULT_RATE_LIMIT + 1}
    assert counters.operations == {"UpdateItem": DEFAULT_RATE_LIMIT + 1}
    assert [q.remaining for q in quotas[:3]] == [999, 998, 997]  # exact, as before sharding
    assert [q.exceeded for q in quotas].index(True) == DEFAULT_RATE_LIMIT


def test_a_sharded_key_spreads_its_counts_and_admits_exactly_its_limit():
    """Ten shards of 10 (capacity 10): random picks fill some shards first; requests landing on a
    full shard spill to one with room, so the 101st request, and only it, is the first refused."""
    counters = Counters()
    limiter = RateLimiter(counters, shard_capacity=10, rng=random.Random(7))
    principal = Principal("acme", "ABCDEFGH", rate_limit=100)
    quotas = [limiter.consume(principal, at(5), None) for _ in range(130)]
    exceeded = [q.exceeded for q in quotas]
    assert exceeded == [False] * 100 + [True] * 30
    assert len(counters.shards_used("ABCDEFGH")) == 10
    assert all(q.remaining == 0 for q in quotas[100:])
    assert quotas[0].remaining >= 80 and quotas[99].remaining == 0


def test_once_every_shard_is_full_a_refusal_costs_one_call_again():
    counters = Counters()
    limiter = RateLimiter(counters, shard_capacity=10, rng=random.Random(3))
    principal = Principal("acme", "ABCDEFGH", rate_limit=40)  # four shards
    while not limiter.consume(principal, at(5), None).exceeded:
        pass
    limiter.consume(principal, at(5), None)  # may still read (a concurrent spill could have left room)
    before = counters.operations.copy()
    for _ in range(50):
        assert limiter.consume(principal, at(5), None).exceeded
    assert counters.operations - before == {"UpdateItem": 50}


def test_a_raised_limit_ignores_the_spent_mark_of_the_old_one():
    counters = Counters()
    limiter = RateLimiter(counters, shard_capacity=10, rng=random.Random(5))
    low, high = Principal("t", "AAAAAAAA", rate_limit=20), Principal("t", "AAAAAAAA", rate_limit=30)
    assert sum(not limiter.consume(low, at(5), None).exceeded for _ in range(40)) == 20
    assert sum(not limiter.consume(high, at(5), None).exceeded for _ in range(40)) == 10


def test_concurrent_callers_never_get_past_a_sharded_limit():
    """Many threads at once on one fake counter set (atomic ADDs): spills race, and whatever the
    interleaving no more than the limit is admitted; early refusals only come from lost spills."""
    counters = Counters()
    principal = Principal("acme", "ABCDEFGH", rate_limit=300)
    admitted = Counter()

    def caller(seed):
        limiter = RateLimiter(counters, shard_capacity=25, rng=random.Random(seed))  # 12 shards
        for _ in range(50):
            admitted[seed] += not limiter.consume(principal, at(5), None).exceeded

    threads = [threading.Thread(target=caller, args=(seed,)) for seed in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 300 - 12 <= sum(admitted.values()) <= 300  # at most one lost spill per caller in flight


class FirstShardThenSecond(random.Random):
    def randrange(self, *args):
        return 0

    def choices(self, population, weights=None, k=1):
        return [1]


def test_a_spill_that_loses_its_room_to_a_concurrent_request_is_refused_not_admitted():
    class Racing(Counters):
        """Between this caller's read and its spill, another request takes the room it saw."""

        def read_counts(self, prefix, window, shards, deadline):
            counts = super().read_counts(prefix, window, shards, deadline)
            self.counts[(prefix, window, 1)] += 1
            return counts

    counters = Racing()
    window = int(at(5).timestamp() // WINDOW_SECONDS)
    counters.counts.update({("ABCDEFGH", window, 0): 10, ("ABCDEFGH", window, 1): 9})  # one request of room left
    limiter = RateLimiter(counters, shard_capacity=10, rng=FirstShardThenSecond())
    quota = limiter.consume(Principal("acme", "ABCDEFGH", rate_limit=20), at(5), None)
    assert quota.exceeded and quota.remaining == 0
    assert counters.operations == {"UpdateItem": 2, "BatchGetItem": 1}


def test_a_spill_to_a_shard_with_room_is_admitted_with_an_exact_remaining():
    counters = Counters()
    window = int(at(5).timestamp() // WINDOW_SECONDS)
    counters.counts.update({("ABCDEFGH", window, 0): 10, ("ABCDEFGH", window, 1): 6})
    limiter = RateLimiter(counters, shard_capacity=10, rng=FirstShardThenSecond())
    quota = limiter.consume(Principal("acme", "ABCDEFGH", rate_limit=20), at(5), None)
    assert not quota.exceeded and quota.remaining == 3  # 4 of room seen, this request took one
    assert counters.shards_used("ABCDEFGH") == {0: 11, 1: 7}


def test_cost_per_request_of_a_sharded_key_at_its_limit():
    """A key at 60,001/min (three shards) sending evenly at 110 % of its limit: admissions are exact,
    and extra calls come only from requests landing on a full shard near the end of the budget."""
    counters = Counters()
    limiter = RateLimiter(counters, rng=random.Random(11))
    limit = 60_001
    principal = Principal("acme", "ABCDEFGH", rate_limit=limit)
    exceeded = [limiter.consume(principal, at(5), None).exceeded for _ in range(limit + limit // 10)]
    assert exceeded.index(True) == limit and sum(exceeded) == limit // 10
    extra = counters.operations["UpdateItem"] + counters.operations["BatchGetItem"] - len(exceeded)
    assert extra < 0.01 * len(exceeded)


@settings(max_examples=100, deadline=None, database=None)
@given(limit=st.integers(1, 400), capacity=st.integers(1, 120), seed=st.integers(0, 2**32), extra=st.integers(1, 30))
def test_sequential_requests_are_admitted_exactly_up_to_the_limit_for_any_limit_and_shard_capacity(
        limit, capacity, seed, extra):
    counters = Counters()
    limiter = RateLimiter(counters, shard_capacity=capacity, rng=random.Random(seed))
    principal = Principal("acme", "ABCDEFGH", rate_limit=limit)
    quotas = [limiter.consume(principal, at(5), None) for _ in range(limit + extra)]
    assert [q.exceeded for q in quotas] == [False] * limit + [True] * extra
    assert all(0 <= q.remaining <= limit for q in quotas) and quotas[limit - 1].remaining == 0
    assert len(counters.shards_used("ABCDEFGH")) <= shard_count(limit, capacity)


def test_a_refusal_stands_when_the_spent_mark_cannot_be_written():
    class Unmarkable(Counters):
        def mark_spent(self, *args):
            raise Unavailable("DynamoDB did not answer")

    counters = Unmarkable()
    limiter = RateLimiter(counters, shard_capacity=10, rng=random.Random(4))
    principal = Principal("acme", "ABCDEFGH", rate_limit=20)
    assert [limiter.consume(principal, at(5), None).exceeded for _ in range(25)] == [False] * 20 + [True] * 5


# --- issue 14: a count started beside the key lookup ----------------------------------------------


class Started(Counters):
    def count_request_started(self, prefix, window, purge_at, deadline, *, shard=0):
        answer = self.count_request(prefix, window, purge_at, deadline, shard=shard)
        return lambda: answer


def test_a_started_count_is_the_requests_only_count_and_the_limit_still_holds():
    counters = Started()
    limiter = RateLimiter(counters, rng=random.Random(7))  # one shard, as for every key up to 30,000/min
    principal = Principal("acme", "ABCDEFGH", rate_limit=5)
    answers = [limiter.consume(principal, at(5), None, limiter.start("ABCDEFGH", at(5), None)) for _ in range(7)]
    assert [quota.exceeded for quota in answers] == [False] * 5 + [True] * 2
    assert counters.operations["UpdateItem"] == 7  # one ADD per request, never a second


def test_a_started_count_on_a_shard_the_key_no_longer_has_is_counted_again_on_one_it_has():
    counters = Started()
    limiter = RateLimiter(counters, shard_capacity=10, rng=random.Random(3))
    wide = Principal("acme", "ABCDEFGH", rate_limit=40)  # four shards
    for _ in range(20):
        limiter.consume(wide, at(5), None, limiter.start("ABCDEFGH", at(5), None))
    narrow = Principal("acme", "ABCDEFGH", rate_limit=10)  # lowered: one shard
    before = counters.operations["UpdateItem"]
    started = limiter.start("ABCDEFGH", at(6), None)  # picked under the limit last read: 40
    quota = limiter.consume(narrow, at(6), None, started)
    extra = counters.operations["UpdateItem"] - before
    assert extra == (1 if started.shard == 0 else 2)
    window = int(at(6).timestamp() // WINDOW_SECONDS)
    assert quota.used == counters.counts[("ABCDEFGH", window, 0)]


def test_a_started_count_of_another_key_or_window_is_not_taken():
    counters = Started()
    limiter = RateLimiter(counters, rng=random.Random(1))
    principal = Principal("acme", "ABCDEFGH", rate_limit=5)
    other = limiter.start("ZZZZZZZZ", at(5), None)
    limiter.consume(principal, at(5), None, other)
    window = int(at(5).timestamp() // WINDOW_SECONDS)
    assert counters.counts[("ABCDEFGH", window, 0)] == 1 and counters.counts[("ZZZZZZZZ", window, 0)] == 1
