"""The one backoff policy (runtime/backoff.py): exponential, capped, fully jittered.

Moved here from the connector runtime's and the Alertmanager pusher's tests when their two
copies became this one.
"""

from __future__ import annotations

import random

from runtime.backoff import Backoff


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert backoff.next_delay(at_least=30.0) == 30.0
    backoff.reset()
    assert backoff.attempt == 0


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    backoff = Backoff(base_s=0.5, cap_s=8, rng=random.Random(1))
    first = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(8, 0.5 * 2**i) for i in range(12)]
    assert all(0 <= d <= c for d, c in zip(first, ceilings, strict=True))
    assert len(set(first)) == len(first)  # jittered, not in lock step
