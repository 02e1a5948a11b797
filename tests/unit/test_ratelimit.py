"""The one token bucket under both rate limits: pacing our requests and limiting callers'."""

from __future__ import annotations

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.ratelimit import CallerRateLimit, TokenBucket


def test_bucket_waits_exactly_until_the_next_token() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=4.0, burst=2, clock=lambda: now[0])
    assert bucket.take() == 0.0 and bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.25)
    now[0] = 0.25
    assert bucket.take() == 0.0
    assert not bucket.is_full()
    now[0] = 1.0
    assert bucket.is_full()


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_bad_rate_is_refused_when_configured(rate: float, burst: int) -> None:
    with pytest.raises(ConnectorConfigError, match="rate limit"):
        CallerRateLimit(rate, burst)


def test_quiet_callers_are_forgotten_once_there_are_many() -> None:
    now = [0.0]
    limit = CallerRateLimit(rate=1.0, burst=1, clock=lambda: now[0], max_callers=3)
    for caller in "abc":
        assert limit.take(caller) == 0.0
    assert limit.take("a") == pytest.approx(1.0)  # still limited: its bucket is remembered
    now[0] = 5.0  # every bucket has refilled
    assert limit.take("d") == 0.0  # the fourth caller: the quiet ones are dropped
    assert set(limit._buckets) == {"d"}
