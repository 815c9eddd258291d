"""Per-key rate limits: fixed one-minute windows counted in DynamoDB, on sharded counters.

Every request of a key adds one to a counter item of the current minute with a single atomic
UpdateItem (ADD, returning the new count), so counts are exact across any number of concurrent
Lambdas (and the local server's threads), and the same code runs locally against moto and deployed
against DynamoDB. Nothing is kept in process memory.

**Shards.** One item takes about 1,000 writes/s (a partition's limit): a single counter would throttle
a key allowed more than ~60,000 requests a minute (503s instead of 429s, and its other traffic
starved). A key's window is therefore split into `shard_count(limit) = ceil(limit / 30,000)` counter
items, each at most ~500 writes/s at the full limit, leaving headroom for refused traffic and
retries. A key at the default 1,000/min has exactly one counter, the same item and the same single
call as before sharding; the largest limit (1,000,000/min) has 34.

**The rule: every shard owns a share; a request on a full shard spills to one with room.** Shard i
owns `shares(limit)[i]` (limit // shards, the remainder spread one each over the first shards: the
shares sum exactly to the limit). A request ADDs to a random shard and is admitted when the count it
gets back is within that shard's share (one call, the common case). On a full shard it reads every
shard (one consistent BatchGetItem) and, if some have room, ADDs once to one of them (picked at
random, weighted by room, so concurrent spillers do not all race for the same item), admitted when
that count is within the share. When the read finds every shard full, the window is spent for good
(counts only grow): the request marks every shard `spent` (one UpdateItem each, once per window), and
every later request of the minute is refused by its own ADD's answer, one call again.

**Error bound.**
* Never more than the limit per window, whatever the concurrency: an admission is a distinct count
  value within its shard's share on some shard (ADD hands each caller its own value), and the shares
  sum to the limit. A spill's ADD that lands past the share admits nothing.
* Early refusals (429 while the window still has room) only happen to a request whose spill lost a
  race: between its read and its ADD, concurrent requests took the room it saw. So a key is refused
  early by at most its requests in flight at the very end of its budget; sequential callers, and every
  single-shard key, see the limit exactly (the 1,001st request at 1,000/min, not the 1,000th).
* A limit change mid-minute applies on the next request, to the counts of the new shard set (counts
  on shards beyond it are not seen): lowering it and raising it again within one minute can admit up
  to the old limit's counts on the dropped shards more in that minute. A `spent` mark records the
  limit it was set under and is ignored once the limit is raised.

**Cost.** One UpdateItem per request, as before sharding, except for a sharded key's requests that land
on a full shard (+1 BatchGetItem of every shard, +1 UpdateItem when one has room): with an even spread,
under 1 % extra calls per request (docs/keys.md has the measurements); none for a single-shard key.

`RateLimit-Remaining` is exact for single-shard keys and after a spill (a snapshot of every shard);
otherwise it is this shard's room scaled to the whole key (an unbiased estimate: random picks spread
requests evenly, within a few square roots of a share). Fixed windows allow a burst of up to twice the
limit across a minute boundary; that is what the headers announce (`RateLimit-Policy: <limit>;w=60`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from ingest.auth import DEFAULT_RATE_LIMIT, Principal
from ingest.errors import TooManyRequests, Unavailable

WINDOW_SECONDS = 60
# Counters stay a while past their minute (DynamoDB's TTL deletes within ~48 h anyway).
PURGE_AFTER_SECONDS = 3_600
# Requests per minute one counter item takes: 500 writes/s, half a partition's 1,000, so a key at its
# full limit plus as many refused requests again still stays under it.
SHARD_CAPACITY = 30_000


def shard_count(limit: int, capacity: int = SHARD_CAPACITY) -> int:
    """How many counter items a key with this limit (requests per minute) counts on."""
    return max(1, math.ceil(limit / capacity))


def shares(limit: int, shards: int) -> list[int]:
    """Each shard's share of the limit; they sum exactly to it."""
    base, extra = divmod(limit, shards)
    return [base + (1 if shard < extra else 0) for shard in range(shards)]


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    used: int  # requests counted in this window, this one included (estimated for a sharded key)
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


@dataclass(frozen=True, slots=True)
class StartedCount:
    """A request's first ADD, started before its key record was read (RateLimiter.start)."""

    prefix: str
    window: int
    shard: int
    answer: object  # () -> (hits, spent_at), waiting under the request's deadline


# Keys whose limit a process remembers (to pick a shard before the key record is read).
_LIMITS_KEPT = 10_000


class RateLimiter:
    """The rule above. `counters` is an ingest.store.Store (count_request, read_counts, mark_spent,
    count_request_started); `shard_capacity` and `rng` are there for tests."""

    def __init__(self, counters, *, shard_capacity: int = SHARD_CAPACITY, rng: random.Random | None = None) -> None:
        self._counters = counters
        self._capacity = shard_capacity
        self._random = rng or random.Random()
        self._limits: dict[str, int] = {}  # prefix -> the limit its key record had when last read here

    @staticmethod
    def _window(now: datetime) -> tuple[int, int, int]:
        """The window of a moment, when its counters purge, and the seconds until it ends."""
        epoch = now.timestamp()
        window = int(epoch // WINDOW_SECONDS)
        window_end = (window + 1) * WINDOW_SECONDS
        # Whole seconds, rounded up, never 0: a client that waits this long lands in the next window.
        return window, window_end + PURGE_AFTER_SECONDS, max(1, math.ceil(window_end - epoch))

    def start(self, prefix: str, now: datetime, deadline) -> StartedCount:
        """Start this request's ADD now, beside the key lookup, on a shard picked under the limit
        this process last read for the key (the default for a key not seen yet). Only for a key the
        edge authorizer has already let through: counting before the handler's own check must never
        charge a key for a request that does not hold it. `consume` then uses the answer when the
        shard is one of the key's (it is, unless the limit was lowered since), else counts anew."""
        window, purge_at, _ = self._window(now)
        shards = shard_count(self._limits.get(prefix, DEFAULT_RATE_LIMIT), self._capacity)
        shard = self._random.randrange(shards)
        answer = self._counters.count_request_started(prefix, window, purge_at, deadline, shard=shard)
        return StartedCount(prefix, window, shard, answer)

    def consume(self, principal: Principal, now: datetime, deadline, started: StartedCount | None = None) -> Quota:
        """Count this request against the key's current minute (or take the count `start` began)."""
        window, purge_at, reset_seconds = self._window(now)
        if len(self._limits) >= _LIMITS_KEPT:
            self._limits.clear()
        self._limits[principal.key_prefix] = principal.rate_limit
        if started is not None and (started.prefix, started.window) != (principal.key_prefix, window):
            started = None
        used = self._used(principal.key_prefix, principal.rate_limit, window, purge_at, deadline, started)
        return Quota(principal.rate_limit, used, reset_seconds)

    def _used(self, prefix: str, limit: int, window: int, purge_at: int, deadline,
              started: StartedCount | None = None) -> int:
        """This request's count in the window: ≤ limit when admitted, limit + 1 (or more) when refused."""
        shards = shard_count(limit, self._capacity)
        share = shares(limit, shards)
        if started is not None and started.shard < shards:
            # Any shard of the key is a valid first pick: the ADD already made is this request's count.
            shard = started.shard
            hits, spent_at = started.answer()
        else:
            # (A started ADD on a shard the key no longer has counted where nobody looks: harmless.)
            shard = self._random.randrange(shards)
            hits, spent_at = self._counters.count_request(prefix, window, purge_at, deadline, shard=shard)
        if hits <= share[shard]:
            # This shard's room, scaled to the key: exact with one shard, an estimate with several.
            return limit - (share[shard] - hits) * limit // share[shard]
        if shards == 1:
            return hits
        if spent_at is not None and spent_at >= limit:
            return limit + 1
        counts = self._counters.read_counts(prefix, window, shards, deadline)
        room = [max(0, share[i] - counts[i]) for i in range(shards)]
        if not any(room):
            try:
                self._counters.mark_spent(prefix, window, shards, limit, purge_at, deadline)
            except Unavailable:  # the mark only spares later refusals a read: this one is a 429 without it
                pass
            return limit + 1
        target = self._random.choices(range(shards), weights=room)[0]
        spilled, _ = self._counters.count_request(prefix, window, purge_at, deadline, shard=target)
        if spilled > share[target]:  # lost the room to a concurrent request
            return limit + 1
        return limit - (sum(room) - room[target] + share[target] - spilled)
