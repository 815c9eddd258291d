"""Rate-limit arithmetic: fixed one-minute windows, headers on every answer, Retry-After once over."""

from datetime import UTC, datetime

import pytest

from ingest.auth import Principal
from ingest.errors import TooManyRequests
from ingest.ratelimit import PURGE_AFTER_SECONDS, WINDOW_SECONDS, Quota, RateLimiter


class Counters:
    """Counts like DynamoDB's ADD would, and records what it was asked."""

    def __init__(self):
        self.counts: dict[tuple[str, int], int] = {}
        self.calls: list[tuple[str, int, int]] = []

    def count_request(self, prefix, window, purge_at, deadline):
        self.calls.append((prefix, window, purge_at))
        self.counts[(prefix, window)] = self.counts.get((prefix, window), 0) + 1
        return self.counts[(prefix, window)]


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
        if endpoint.public:  # no key, no limit: no 429, no RateLimit-* headers
            assert "429" not in responses and "headers" not in responses["200"], endpoint.name
            continue
        assert "Retry-After" in responses["429"]["headers"], endpoint.name
        assert "RateLimit-Remaining" in responses[str(endpoint.success_status)]["headers"], endpoint.name
        assert "headers" not in responses["401"]
