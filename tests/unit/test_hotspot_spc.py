"""SPC (c-chart) hotspot rules: minimum history, the limit, min_count, and empty history hours."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.alert import FIRING
from streams.hotspots.engine import HotspotEngine
from streams.hotspots.rules import parse_rules
from streams.hotspots.windows import bucket_start, iso_z
from tests.support.hotspot_oracle import (
    T0,
    event,
    run,
)

# ------------------------------------------------------------------------------- SPC

SPC = parse_rules(
    {
        "rules": [
            {
                "id": "spc",
                "group_by": ["provider"],
                "window": {"size": "1h"},
                "spc": {"baseline": 4, "sigma": 3, "min_count": 3, "min_history": 3},
                "allowed_lateness": "1d",
            }
        ]
    }
)


def feed_hours(engine: HotspotEngine, per_hour: list[int], start_offset: int = 0) -> list[dict[str, Any]]:
    inputs = []
    offset = start_offset
    for hour, n in enumerate(per_hour):
        for k in range(n):
            inputs.append(("e", offset, event(offset, T0 + hour * 3600 + k)))
            offset += 1
    return run(engine, inputs, now=1.0)


def test_spc_needs_minimum_history() -> None:
    # A big first and second hour: no history yet, so no alert however big.
    assert feed_hours(HotspotEngine(SPC, {}), [20, 30]) == []


def test_spc_fires_above_c_chart_limit() -> None:
    engine = HotspotEngine(SPC, {})
    # hours 0..3: 1, 2, 1, 0 → the hour-4 window's baseline mean is 1, limit 1 + 3*1 = 4.
    alerts = feed_hours(engine, [1, 2, 1, 0, 5])
    assert [a["status"] for a in alerts] == [FIRING]
    assert alerts[0]["count"] == 5 and alerts[0]["threshold"] == 4
    assert alerts[0]["window_start"] == iso_z(bucket_start(T0 + 4 * 3600, 3600))


def test_spc_not_above_limit_and_min_count() -> None:
    assert feed_hours(HotspotEngine(SPC, {}), [1, 2, 1, 0, 4]) == []  # 4 is not > 4
    # Mean 0.25: limit 1.75, 2 is above it but min_count 3 holds it back.
    assert feed_hours(HotspotEngine(SPC, {}), [1, 0, 0, 0, 2]) == []


def test_spc_zero_history_hours_count_after_origin() -> None:
    engine = HotspotEngine(SPC, {})
    # Origin at hour 0 (one event), hours 1-3 empty: 3 observed zero windows + hour 0 → mean 0.25.
    alerts = feed_hours(engine, [1, 0, 0, 0, 3])
    assert [a["status"] for a in alerts] == [FIRING]
    assert alerts[0]["threshold"] == pytest.approx(0.25 + 3 * 0.5)
