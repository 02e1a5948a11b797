"""When a window is over its rule's limit: the one place a threshold rule and an SPC rule differ.

Threshold: a window fires when its count reaches the threshold. SPC (c-chart): a window's limit is
``mean + sigma*sqrt(mean)`` of its previous ``baseline`` non-overlapping windows (``start - k*size``;
see windows.history_starts); only history windows starting at or after the partition's first event
count as observed, before ``min_history`` of them exist the rule does not fire, and a window fires
when its count exceeds the limit and reaches ``min_count``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from streams.hotspots.buckets import BucketPrefix
from streams.hotspots.rules import Rule
from streams.hotspots.windows import bucket_start, counts_containing


class WindowLimits:
    """Limits of the windows of one key's buckets, as they are now (build one per look)."""

    __slots__ = ("_prefix", "buckets", "floor", "origin", "rule")

    def __init__(self, rule: Rule, buckets: Mapping[int, int], origin: int | None) -> None:
        self.rule = rule
        self.buckets = buckets
        self.origin = origin  # the partition's first event time, None before it
        # No window below this count can be over: the cheap test made before any limit is worked out.
        self.floor = rule.threshold if rule.threshold is not None else rule.spc.min_count  # type: ignore[union-attr]
        self._prefix: BucketPrefix | None = None

    def limit(self, start: int) -> float | None:
        """The count the window at ``start`` must reach (threshold) or exceed (SPC); None = cannot fire yet.

        SPC: the observed history windows (``start - k*size`` for k = 1.., those starting at or
        after the origin) are non-overlapping and adjacent, so their total is the sum of the
        buckets in one span; a prefix sum answers that with two bisections instead of summing
        ``baseline * size/step`` buckets for each candidate window.
        """
        rule = self.rule
        if rule.threshold is not None:
            return float(rule.threshold)
        spc = rule.spc
        assert spc is not None
        size = rule.window.size_s
        origin = bucket_start(self.origin if self.origin is not None else start, rule.window.step_s)
        observed = min(spc.baseline, max(0, (start - origin) // size))
        if observed < spc.min_history or observed == 0:
            return None
        if self._prefix is None:
            self._prefix = BucketPrefix(self.buckets)
        mean = self._prefix.total(start - observed * size, start) / observed
        return mean + spc.sigma * math.sqrt(mean)

    def over(self, count: int, limit: float | None) -> bool:
        """Whether ``count`` in a window with ``limit`` (from :meth:`limit`) is over it."""
        if limit is None:
            return False
        if self.rule.threshold is not None:
            return count >= limit
        assert self.rule.spc is not None
        return count >= self.rule.spc.min_count and count > limit

    def windows_over(
        self, bucket: int, counts: list[tuple[int, int]] | None = None
    ) -> Iterator[tuple[int, int, float]]:
        """(start, count, limit) of each window holding ``bucket`` that is over its limit.

        ``counts`` is :func:`counts_containing` of ``bucket``, when the caller has it already.
        """
        if counts is None:
            counts = counts_containing(self.buckets, bucket, self.rule.window)
        for start, count in counts:
            if count < self.floor:
                continue  # cheap test first: most windows are nowhere near their limit
            limit = self.limit(start)
            if self.over(count, limit):
                assert limit is not None
                yield start, count, limit

    def any_live_over(self, watermark: int, counts: list[tuple[int, int]] | None = None) -> bool:
        """Whether a window live at ``watermark`` is over its limit (an episode stays open).

        ``counts`` is :func:`counts_containing` of ``watermark``, when the caller has it already.
        """
        if counts is None:
            counts = counts_containing(self.buckets, watermark, self.rule.window)
        floor = self.floor
        return any(count >= floor and self.over(count, self.limit(start)) for start, count in counts)
