"""Each rule sorted out once for the per-event path: its matcher, lateness and window arithmetic.

The engine applies every event to every rule; reading ``rule.window.step_s`` and computing
``size // step`` per event (a property call each time) was a measurable part of its cost
(docs/hotspot-speed.md). A plan holds them as plain attributes of one object per rule.
"""

from __future__ import annotations

from streams.hotspots.matching import RuleMatcher
from streams.hotspots.rules import Rule


class RulePlan:
    """One rule's constants for the hot path (the rule itself stays the source of truth)."""

    __slots__ = ("id", "lateness", "matcher", "per_window", "rule", "size", "step", "threshold")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.id = rule.id
        self.matcher = RuleMatcher(rule)
        self.lateness = rule.allowed_lateness_s
        self.step = rule.window.step_s
        self.size = rule.window.size_s
        self.per_window = rule.window.buckets_per_window  # windows holding one bucket
        self.threshold = rule.threshold  # None for an SPC rule
