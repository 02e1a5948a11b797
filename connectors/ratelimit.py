"""Token buckets, written once for both directions a connector limits rates in.

- :class:`RequestPacer` keeps a connector's *own* requests under a source's documented limit
  (Care Opinion: 5 requests/s): ``await pacer.acquire()`` waits for a token rather than learning
  the limit from 429s.
- :class:`CallerRateLimit` limits the requests *others* make to the HTTP ingest API, one bucket
  per caller; it never waits, it answers how long the caller should wait (the 429's
  ``Retry-After``, in whole seconds by :func:`retry_after_header`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from connectors.exceptions import ConnectorConfigError

Clock = Callable[[], float]


class TokenBucket:
    """At most ``rate`` takes per second sustained and ``burst`` at once, refilled continuously."""

    def __init__(self, rate: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ConnectorConfigError(f"rate limit {rate}/s with burst {burst}: need rate > 0, burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def take(self) -> float:
        """Spend one token: 0 when there was one, else the seconds until one is available."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def is_full(self) -> bool:
        """Whether the bucket has refilled completely (a caller that has gone quiet)."""
        self._refill()
        return self._tokens >= self.burst


class RequestPacer:
    """Paces a connector's own requests: ``acquire`` waits until the next one may go."""

    def __init__(self, rate: float, burst: int | None = None, clock: Clock = time.monotonic) -> None:
        self.bucket = TokenBucket(rate, burst if burst is not None else max(1, int(rate)), clock=clock)
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.bucket.take()) > 0:
                await asyncio.sleep(wait)


class CallerRateLimit:
    """One token bucket per caller (keyed by token digest), for the ingest API's 429s.

    Buckets that have refilled to full are dropped once there are many, so the table holds only
    recent callers however many tokens exist.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Clock = time.monotonic, max_callers: int = 10_000
    ) -> None:
        TokenBucket(rate, burst, clock=clock)  # refuse a bad rate now, not at the first request
        self.rate = rate
        self.burst = burst
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> float:
        """Spend one request for ``key``: 0 when allowed, else the seconds until one is available."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, clock=self._clock)
        wait = bucket.take()
        if wait == 0.0 and len(self._buckets) > self.max_callers:
            for quiet in [k for k, b in self._buckets.items() if b.is_full()]:
                del self._buckets[quiet]
        return wait


def retry_after_header(seconds: float) -> str:
    """HTTP `Retry-After` takes whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(seconds)))
