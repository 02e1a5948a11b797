"""runtime/heap.py: the start-up heap frozen, young collections rare, cycles still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from runtime.heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_start_up_objects_are_frozen_and_only_the_young_threshold_changes(restored_gc: None) -> None:
    survivor = [object() for _ in range(10)]  # alive at start-up, as the worker's app is
    _, middle, oldest = gc.get_threshold()
    settle_heap()
    assert gc.get_freeze_count() > len(survivor)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)
    settle_heap()  # a second call changes nothing that matters
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)


def test_cyclic_garbage_made_after_start_up_is_still_collected_automatically(restored_gc: None) -> None:
    settle_heap()
    dead = _cycle()
    assert dead() is not None  # reference counting alone cannot free a cycle
    kept: list[list[int]] = []
    for _ in range(3 * YOUNG_THRESHOLD):  # net allocations of containers, as a stage makes them
        kept.append([])
        if dead() is None:
            break
    assert dead() is None, "the collector never ran on its own"
