"""Rule evaluation for one (rule, group) key after an event: fire, grow, resolve episodes.

With no episode open, no live window of the group is over its limit (counts only grow and the
watermark only moves forward, so the only windows that can newly become live with events in them
are the ones holding the newest event). Hence an event either takes a live window over (fire),
takes a past window over (fire and resolve at once, the late-event case in docs/contracts.md) or
neither. An open episode absorbs further crossings, grows its organisations (announced again, same
``alert_id``) and resolves when no live window is over its limit (streams/hotspots/engine.py has
the whole design).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.alert import FIRING, RESOLVED
from streams.hotspots.alerts import build_alert
from streams.hotspots.buckets import (
    ANNOUNCED,
    BUCKETS,
    EPISODE,
    EPISODE_ORGANISATIONS,
    FIRED_AT,
    LIMIT,
    PEAK,
    SAMPLE_IDS,
    SAMPLES,
    WINDOW_START,
    organisations_in,
)
from streams.hotspots.limits import WindowLimits
from streams.hotspots.rules import Rule
from streams.hotspots.windows import counts_containing, is_live


def evaluate(
    rule: Rule,
    group: tuple[str, ...],
    value: dict[str, Any],
    bucket: int,
    organisation: str,
    watermark: int,
    origin: int | None,
    now: float,
) -> list[dict[str, Any]]:
    """The alerts an event counted in ``bucket`` of this key causes; updates ``value`` in place."""
    window = rule.window
    limits = WindowLimits(rule, value[BUCKETS], origin)
    counts = counts_containing(value[BUCKETS], bucket, window)
    if value[EPISODE] is None and max(count for _, count in counts) < limits.floor:
        # The usual case, decided without building anything: no episode is open and no window
        # holding this bucket is near its limit.
        value.setdefault(ANNOUNCED, [])
        return []
    crossed_live: list[tuple[int, int, float]] = []
    crossed_past: list[tuple[int, int, float]] = []
    over = False  # whether a window holding this bucket is over the limit (from the episode's start)
    start_of_episode = value[EPISODE][WINDOW_START] if value[EPISODE] is not None else None
    peak = 0
    announced = set(value.setdefault(ANNOUNCED, []))
    for start, count, limit in limits.windows_over(bucket, counts):
        over = over or (start_of_episode is not None and start >= start_of_episode)
        peak = max(peak, count)
        if limits.over(count - 1, limit) or start in announced:
            # Over already, or over once before (an SPC limit can move back and forth with
            # late history): a window belongs to at most one episode.
            continue
        target = crossed_live if is_live(start, window, watermark) else crossed_past
        target.append((start, count, limit))

    value[ANNOUNCED].extend(start for start, _, _ in crossed_live + crossed_past)
    episode = value[EPISODE]
    if episode is not None:
        episode[PEAK] = max(episode[PEAK], peak)  # the resolved message reports the peak
        # The event's organisation when it lands in an over-limit window of this episode (not
        # one before its start: that belongs to an earlier episode), and every organisation of
        # a window that went over with it. Windows over already were counted when they
        # crossed, and each event since by its own organisation: nothing to re-read.
        known = episode.get(EPISODE_ORGANISATIONS, [])
        found = {organisation} if over and organisation else set()
        crossed_here = [
            start for start, _, _ in crossed_live + crossed_past if start >= episode[WINDOW_START]
        ]
        if crossed_here:
            found |= organisations_in(rule, value, crossed_here)
        grown = sorted(found.union(known)) if found - set(known) else known
        episode[EPISODE_ORGANISATIONS] = grown
        # The windows live at the watermark are those holding this bucket when both are in it.
        same = watermark - watermark % window.step_s == bucket
        if not limits.any_live_over(watermark, counts if same else None):
            value[EPISODE] = None
            return [alert(rule, group, episode, RESOLVED, now)]
        if len(grown) > len(known):
            # Another organisation's events now count: announce the episode again, so its
            # people hear about it while it fires (docs/tenancy.md).
            return [alert(rule, group, episode, FIRING, now)]
        return []
    crossed = crossed_live or crossed_past
    if not crossed:
        return []
    start, _, limit = crossed[0]  # earliest window that crossed: the episode's start
    peak = max(count for _, count, _ in crossed)  # only windows of this episode's kind
    episode = {
        WINDOW_START: start,
        PEAK: peak,
        LIMIT: limit,
        FIRED_AT: now,
        SAMPLE_IDS: [s[0] for s in value[SAMPLES] if start <= s[1] < start + window.size_s],
        EPISODE_ORGANISATIONS: sorted(organisations_in(rule, value, [s for s, _, _ in crossed])),
    }
    fired = alert(rule, group, episode, FIRING, now)
    if crossed_live:
        value[EPISODE] = episode
        return [fired]
    return [fired, alert(rule, group, episode, RESOLVED, now)]


def alert(
    rule: Rule, group: tuple[str, ...], episode: Mapping[str, Any], status: str, now: float
) -> dict[str, Any]:
    """The Alert v1 transition of an episode."""
    start = int(episode[WINDOW_START])
    return build_alert(
        rule_id=rule.id,
        status=status,
        group=dict(zip(rule.group_by, group, strict=True)),
        window_start=start,
        window_end=start + rule.window.size_s,
        count=episode[PEAK],
        threshold=episode[LIMIT],
        severity=rule.severity,
        description=rule.description,
        fired_at=episode[FIRED_AT],
        # ``now`` is this process's wall clock; the episode may have been fired by a worker
        # whose clock ran ahead (the partition has moved since). An episode never resolves
        # before it fired: not in the alerts topic, ClickHouse, the dashboards or Alertmanager.
        resolved_at=max(now, episode[FIRED_AT]) if status == RESOLVED else None,
        sample_event_ids=episode[SAMPLE_IDS],
        organisations=episode.get(EPISODE_ORGANISATIONS, ()),
    )
