"""Per-key rate limits: fixed one-minute windows counted in DynamoDB.

Every request of a key adds one to the counter item of the current minute with a single atomic
UpdateItem (ADD, returning the new count). The count is therefore exact across any number of
concurrent Lambdas (and the local server's threads), and the same code runs locally against moto
and deployed against DynamoDB. Nothing is kept in process memory.

Fixed windows are the simplest exact scheme: a key may send up to its limit in the last seconds of
one minute and again in the first seconds of the next. That burst is bounded (2 × limit) and is
what the headers announce (`RateLimit-Policy: <limit>;w=60`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ingest.auth import Principal
from ingest.errors import TooManyRequests

WINDOW_SECONDS = 60
# Counters stay a while past their minute (DynamoDB's TTL deletes within ~48 h anyway).
PURGE_AFTER_SECONDS = 3_600


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    used: int  # requests counted in this window, this one included
    reset_seconds: int  # until the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        """RateLimit-* (IETF httpapi draft field names) on every answer; Retry-After once over."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers

    def enforce(self) -> None:
        if self.exceeded:
            raise TooManyRequests(
                f"Rate limit exceeded: this API key may send {self.limit} requests per minute. "
                f"Retry after {self.reset_seconds} seconds.",
                self.reset_seconds,
            )


class RateLimiter:
    def __init__(self, counters) -> None:  # counters: ingest.store.Store (anything with count_request)
        self._counters = counters

    def consume(self, principal: Principal, now: datetime, deadline) -> Quota:
        """Count this request against the key's current minute."""
        epoch = now.timestamp()
        window = int(epoch // WINDOW_SECONDS)
        window_end = (window + 1) * WINDOW_SECONDS
        used = self._counters.count_request(principal.key_prefix, window, window_end + PURGE_AFTER_SECONDS, deadline)
        # Whole seconds, rounded up, never 0: a client that waits this long lands in the next window.
        reset_seconds = max(1, math.ceil(window_end - epoch))
        return Quota(principal.rate_limit, used, reset_seconds)
