"""Waiting on a condition, never a sleep standing in for one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, message: str = "condition", interval: float = 0.05
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    Fails the test after `timeout` seconds with `message`, so a condition never stands in for a sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {message}")
        time.sleep(interval)
