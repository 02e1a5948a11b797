"""The ingest API's per-caller rate limit and the `Retry-After` it answers with.

The limit itself is :class:`connectors.ratelimit.CallerRateLimit` (a token bucket per caller,
keyed by token digest): `rate` requests a second sustained and `burst` at once.
"""

from __future__ import annotations

import math

from connectors.ratelimit import CallerRateLimit

__all__ = ["CallerRateLimit", "retry_after_header"]


def retry_after_header(seconds: float) -> str:
    """HTTP `Retry-After` takes whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(seconds)))
