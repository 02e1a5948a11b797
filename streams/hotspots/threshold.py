"""Threshold rules on the hot path: episodes.evaluate's decisions, without building anything.

Most events of a busy group land while its episode is open, in windows long over the threshold
(docs/hotspot-speed.md). For a threshold rule every window's limit is the same integer, so a
window is over when its count reaches it and *crosses* (goes over with this event) exactly when
its count equals it. The windows holding the event's bucket are then read by one sliding sum over
the bucket counts, kept in a few locals (the largest count, whether one crossed, whether one from
the episode's start on is over) instead of lists of (start, count, limit) and a set of announced
windows. Only a crossing, at most once per window, builds the short list of crossed windows.

The outcome and every stored byte are those of :func:`streams.hotspots.episodes.evaluate`, which
still decides the rest: SPC rules, and an event that may fire a new episode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas.alert import FIRING, RESOLVED
from streams.hotspots.buckets import (
    ANNOUNCED,
    BUCKETS,
    EPISODE,
    EPISODE_ORGANISATIONS,
    PEAK,
    WINDOW_START,
    organisations_in,
)
from streams.hotspots.episodes import alert, evaluate
from streams.hotspots.limits import WindowLimits
from streams.hotspots.plans import RulePlan
from streams.hotspots.rules import Rule, Window

NO_ALERTS: tuple[dict[str, Any], ...] = ()  # the usual answer, shared rather than a new list each event


def live_over_threshold(buckets: Mapping[int, int], watermark: int, window: Window, threshold: int) -> bool:
    """Whether a window live at ``watermark`` (one holding it) has reached ``threshold``."""
    step, n = window.step_s, window.buckets_per_window
    first = watermark - watermark % step - (n - 1) * step
    get = buckets.get
    count = 0
    for k in range(n):
        count += get(first + k * step, 0)
    if count >= threshold:
        return True
    for k in range(1, n):
        count += get(first + (k + n - 1) * step, 0) - get(first + (k - 1) * step, 0)
        if count >= threshold:
            return True
    return False


def any_live_over(rule: Rule, buckets: Mapping[int, int], origin: int | None, watermark: int) -> bool:
    """WindowLimits.any_live_over, by the sliding sum alone for a threshold rule."""
    if rule.threshold is not None:
        return live_over_threshold(buckets, watermark, rule.window, rule.threshold)
    return WindowLimits(rule, buckets, origin).any_live_over(watermark)


def evaluate_fast(
    plan: RulePlan,
    group: tuple[str, ...],
    value: dict[str, Any],
    bucket: int,
    organisation: str,
    watermark: int,
    origin: int | None,
    now: float,
) -> Sequence[dict[str, Any]]:
    """:func:`episodes.evaluate`, decided in place for a threshold rule unless a new episode may fire."""
    threshold = plan.threshold
    rule = plan.rule
    if threshold is None:
        return evaluate(rule, group, value, bucket, organisation, watermark, origin, now)
    episode = value[EPISODE]
    step, n = plan.step, plan.per_window
    first = bucket - (n - 1) * step
    get = value[BUCKETS].get
    # The windows holding this bucket start at first, first + step, ..., bucket: one sliding sum,
    # each bucket read at most twice, everything in locals.
    count = 0
    end = first
    for _ in range(n):
        count += get(end, 0)
        end += step
    top = 0  # the largest count of a window over the threshold (the episode's peak so far)
    crossed: list[int] | None = None  # windows that reached the threshold with this event
    latest = None  # the latest start of a window over the threshold
    start = first
    while True:
        if count >= threshold:
            latest = start
            if count > top:
                top = count
            if count == threshold:
                if crossed is None:
                    crossed = []
                crossed.append(start)
        if start == bucket:
            break
        count += get(end, 0) - get(start, 0)
        end += step
        start += step
    if episode is None:
        if top == 0:  # the usual case: no episode, no window holding this bucket over
            value.setdefault(ANNOUNCED, [])
            return NO_ALERTS
        return evaluate(rule, group, value, bucket, organisation, watermark, origin, now)
    # A window from the episode's start on is over (the latest over one is): the event's
    # organisation counts.
    over = latest is not None and latest >= episode[WINDOW_START]
    announced = value.setdefault(ANNOUNCED, [])
    crossed_here: list[int] = []
    if crossed is not None:
        # Windows that went over with this event and never fired before (a window belongs to at
        # most one episode), live ones first as episodes.evaluate lists them.
        live: list[int] = []
        past: list[int] = []
        for start in crossed:
            if start not in announced:
                (live if start <= watermark < start + plan.size else past).append(start)
        announced.extend(live + past)
        crossed_here = [start for start in live + past if start >= episode[WINDOW_START]]
    if top > episode[PEAK]:
        episode[PEAK] = top  # the resolved message reports the peak
    known = episode.get(EPISODE_ORGANISATIONS)
    if known is None:
        known = []
    grown = known
    if crossed_here:
        found = organisations_in(rule, value, crossed_here)
        if over and organisation:
            found.add(organisation)
        if found - set(known):
            grown = sorted(found.union(known))
    elif over and organisation and organisation not in known:
        grown = sorted({organisation}.union(known))
    episode[EPISODE_ORGANISATIONS] = grown
    # The watermark is at or after this bucket. A window just read that is over and still holds
    # the watermark is live and over; when the watermark lies in this bucket, all live ones were read.
    watermark_bucket = watermark - watermark % step
    if watermark_bucket == bucket:
        live_over = top > 0
    elif latest is not None and latest >= watermark_bucket - (n - 1) * step:
        live_over = True
    else:
        live_over = live_over_threshold(value[BUCKETS], watermark, rule.window, threshold)
    if not live_over:
        value[EPISODE] = None
        return [alert(rule, group, episode, RESOLVED, now)]
    if len(grown) > len(known):
        # Another organisation's events now count: announce the episode again (docs/tenancy.md).
        return [alert(rule, group, episode, FIRING, now)]
    return NO_ALERTS
