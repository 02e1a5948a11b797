"""What the engine remembers per (rule, group) between events (streams/hotspots/group_slots.py):
pruning is skipped only for the very value it stored, with the marker it stored; anything else is
pruned to the horizon as before."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson

from streams.hotspots.buckets import ANNOUNCED, BUCKETS, MARKER, ORGANISATIONS, SAMPLES, horizon, new_value
from streams.hotspots.engine import HotspotEngine
from streams.hotspots.group_slots import GroupSlot, prune, prune_since
from tests.support.hotspot_oracle import ONE_RULE, T0, event, run

KEY = f"0|burst|{orjson.dumps(['RXX', 'Ward 1']).decode()}"


def test_a_slot_vouches_only_for_the_value_and_marker_it_stored() -> None:
    slot = GroupSlot(KEY)
    value = new_value()
    value[MARKER] = 8
    assert slot.pruned_below(value) is None
    slot.stored(value, 1200)
    assert slot.pruned_below(value) == 1200
    assert slot.pruned_below(copy.deepcopy(value)) is None  # restored, or read back from the store
    value[MARKER] = 9  # another writer applied an input to it
    assert slot.pruned_below(value) is None


def _engine_an_hour_in() -> tuple[HotspotEngine, dict[str, Any]]:
    state: dict[str, Any] = {}
    engine = HotspotEngine(ONE_RULE, state)
    run(engine, [("e", 0, event(0, T0 + 3600)), ("e", 1, event(1, T0 + 3610))])
    assert engine.watermark is not None
    oldest = horizon(ONE_RULE.rules[0], engine.watermark)
    assert min(state[KEY][BUCKETS]) >= oldest > T0
    return engine, state


def test_a_value_changed_by_another_writer_is_pruned_again() -> None:
    engine, state = _engine_an_hour_in()
    value = state[KEY]
    value[BUCKETS][T0] = 1  # the same object, changed behind the engine's back...
    value[MARKER] += 1  # ...by an input the engine did not apply (a tick's odd position)
    run(engine, [("e", 2, event(2, T0 + 3620))])
    assert T0 not in state[KEY][BUCKETS]
    assert sum(state[KEY][BUCKETS].values()) == 3


def test_a_restored_value_is_pruned_again() -> None:
    engine, state = _engine_an_hour_in()
    restored = copy.deepcopy(state[KEY])
    restored[BUCKETS][T0] = 1
    state[KEY] = restored  # same marker, another object: as read back after a restart
    run(engine, [("e", 2, event(2, T0 + 3620))])
    assert T0 not in state[KEY][BUCKETS]
    assert sum(state[KEY][BUCKETS].values()) == 3


def test_pruning_from_the_slots_horizon_equals_pruning_in_full() -> None:
    """prune_since looks up only the buckets between the slot's horizon and the new one; for any
    value holding nothing older than the slot's horizon it leaves the very bytes prune does."""
    rng = random.Random(11)
    step = 60
    for _ in range(500):
        pruned_to = T0 + step * rng.randrange(-3, 3) + rng.choice((0, 0, 17))
        starts = sorted(
            {
                pruned_to - pruned_to % step + step * rng.randrange(0 if pruned_to % step == 0 else 1, 40)
                for _ in range(rng.randrange(1, 30))
            }
        )
        rng.shuffle(starts)
        value = new_value()
        value[BUCKETS] = {start: rng.randrange(1, 5) for start in starts}
        value[ORGANISATIONS] = {start: ["QKK"] for start in starts if rng.random() < 0.7}
        value[SAMPLES] = [[f"e{i}", rng.choice(starts)] for i in range(rng.randrange(0, 11))]
        value[ANNOUNCED] = sorted(rng.sample(starts, k=rng.randrange(0, len(starts) + 1)))
        if rng.random() < 0.3:
            rng.shuffle(value[ANNOUNCED])  # late events fire older windows after newer ones
        oldest = pruned_to + step * rng.choice((0, 1, 1, 2, 5, 100))
        full, since = copy.deepcopy(value), copy.deepcopy(value)
        prune(full, oldest)
        prune_since(since, pruned_to, oldest, step)
        assert orjson.dumps(since, option=orjson.OPT_NON_STR_KEYS) == orjson.dumps(
            full, option=orjson.OPT_NON_STR_KEYS
        )
