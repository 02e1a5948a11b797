"""The hotspot engine shows exactly what the engine before the third speed round showed.

tests/support/hotspot_sidebyside.py drives it through many seeds × rule sets with re-sent events,
ticks, hostile fields, organisations joining episodes and crashes that store none or half of a
batch, and hashes each batch's alerts, stored bytes and stats; the digests of the engine as it was
(main at 63652f2) are pinned in tests/data/hotspot_engine_digests.json. A speed change that alters
one alert, one stored byte or one counter fails here, naming the scenario.
"""

from __future__ import annotations

import json

import pytest

from tests.support.hotspot_sidebyside import DIGESTS, run_scenario, scenarios

PINNED = json.loads(DIGESTS.read_text())


def test_every_scenario_is_pinned() -> None:
    assert sorted(name for name, *_ in scenarios()) == sorted(PINNED)


@pytest.mark.parametrize("scenario", scenarios(), ids=[name for name, *_ in scenarios()])
def test_same_alerts_state_and_stats_as_the_pinned_engine(scenario: tuple) -> None:
    name, rules, inputs, seed, mode = scenario
    assert run_scenario(rules(), inputs(), seed, mode) == PINNED[name]
