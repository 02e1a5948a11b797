"""The hotspot state machine for one partition of ``feedback.tagged`` — pure, no Kafka.

Input: TaggedEvent dicts with their offset, and clock ticks; output: Alert v1 transitions. All
state lives in a ``MutableMapping`` of JSON-serialisable values handed in by the caller (a dict
in tests, a changelogged Faust table in the worker), so the same code is tested here and run there.

Why it is exact under at-least-once delivery (docs/faust.md):

* **Positions.** Every input has a position in the partition's own order: ``2*offset`` for the
  event at ``offset``, ``2*after+1`` for a clock tick taken when the partition had applied
  ``after``. Replays arrive in the same order, so positions replay identically.
* **Per-key markers.** Each (rule, group) value remembers the position it last applied (``m``).
  An input at or below it was already applied to that key and is skipped for it. A crash can
  persist any subset of keys (Faust writes RocksDB at once and the changelog later), but each key
  is always a state of its own history, and the markers make re-applying harmless.
* **Watermark history.** Lateness and liveness depend on the partition watermark *as it was*
  before each input, not as it is after a crash: the watermark is kept as a short list of
  ``[position, watermark]`` changes, and an input at position p uses the last change before p.
  The watermark is floored to the rules' granularity (gcd of all steps and sizes); window bounds
  are multiples of it, so liveness is decided exactly as with the raw value, and it changes
  rarely enough for the list to cover any replay (a warning is logged when it cannot).
* **Replays rewrite.** A key skipped on replay is written again unchanged: RocksDB may hold a
  write the changelog never got, and without this the changelog would stay behind for good.
* **Each event once.** (``organisation``, ``event_id``) is the idempotency key (docs/tenancy.md):
  two organisations may use the same id, and both events count. The same event can reach
  ``feedback.tagged`` twice at different offsets: the tagging stage re-delivers what it had not
  committed when it was killed, and sources re-send. The first input that counts an event records
  ``[position, event time]`` under its identity; a later input with it counts nowhere.
  Comparing positions keeps replays exact: the recorded input itself is re-applied key by key as
  above, everything after it is a duplicate. Records are stored one chunk per batch and forgotten
  only once no replay could count their events (streams/hotspots/dedup.py).
* **Organisations.** Each key keeps the organisations of its events per bucket, and an episode
  the organisations whose events lie in its over-limit windows: those of the windows that fired
  it; then, while it is open, of each event landing in a window over the limit from its start on,
  and of every window that goes over with an event. When that set
  grows the episode is announced again (same ``alert_id``, ``firing``, the longer list), and the
  resolution carries the whole list (docs/tenancy.md). Both live in the key's value, so the
  markers above make them exact across replays like the counts.
* **Effects after state.** The caller sends returned alerts and only then stores the new state
  (see :class:`StagedState`), so a crash in between rebuilds the same ``alert_id`` rather than
  losing the alert (the worker then finds it already on the topic and does not send it twice).

Episodes (docs/contracts.md; streams/hotspots/episodes.py): an open episode resolves when the
watermark moves past its last over-limit live window — checked whenever the watermark changes, by
events or by ticks, for the (few) open episodes listed in the partition's metadata. SPC (c-chart)
limits are worked out in streams/hotspots/limits.py.

The parts, one concern each: positions and the watermark log (watermarks.py), event-identity
de-duplication (dedup.py), the stored value of a (rule, group) key (buckets.py), window limits
(limits.py), rule evaluation and alerts (episodes.py; threshold.py on the hot path), event matching
(matching.py; each rule sorted out once in plans.py), what is remembered per key between events
(group_slots.py), resolving episodes when the watermark moves (sweep.py) and the staged state
(state.py). This module composes them and owns the order in which state is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from schemas.alert import RESOLVED
from schemas.identity import organisation_of
from streams.hotspots.buckets import (
    BUCKETS,
    EPISODE,
    MARKER,
    ORGANISATIONS,
    SAMPLES,
    SAMPLES_KEPT,
    BucketPrefix,
    horizon,
    int_buckets,
    new_value,
    window_counts_in,
)
from streams.hotspots.dedup import SeenEvents
from streams.hotspots.episodes import alert
from streams.hotspots.group_slots import GroupSlots, prune, prune_since
from streams.hotspots.matching import event_domains, matching_groups
from streams.hotspots.plans import RulePlan
from streams.hotspots.rules import Rule, RuleSet
from streams.hotspots.state import StagedState
from streams.hotspots.stats import EngineStats
from streams.hotspots.sweep import rewrite_on_replay, sweep
from streams.hotspots.threshold import any_live_over, evaluate_fast
from streams.hotspots.watermarks import (
    WATERMARK_HISTORY,
    MetaCache,
    PartitionMeta,
    event_position,
    tick_position,
)
from streams.hotspots.windows import bucket_start, epoch_seconds

# Re-exported: the worker, the tests and the benchmarks import these from here.
__all__ = [
    "SAMPLES_KEPT",
    "WATERMARK_HISTORY",
    "BucketPrefix",
    "EngineStats",
    "HotspotEngine",
    "StagedState",
    "event_domains",
    "event_position",
    "int_buckets",
    "matching_groups",
    "tick_position",
]

log = logging.getLogger(__name__)


class HotspotEngine:
    """Counts, rules and episodes for one partition; see the module docstring for the design."""

    def __init__(
        self,
        rules: RuleSet,
        state: MutableMapping[str, Any],
        *,
        partition: int = 0,
        history: int = WATERMARK_HISTORY,
    ) -> None:
        self.rules = rules
        self.state = state
        self.partition = partition
        self.granularity = rules.granularity_s
        self.history = history
        self.stats = EngineStats()
        # Last offset applied by this process (not state: a tick is only meaningful to the
        # process that took it, see on_tick).
        self.progress: int | None = None
        self._meta_key = f"{partition}|meta"
        self._prefix = f"{partition}|"
        self._seen = SeenEvents(partition)
        self._meta_cache = MetaCache()
        # Per rule, sorted out once: its matcher and lateness (docs: "rules matched by
        # pre-computed predicates"); and each group's key string, built once per group.
        self._plans = [RulePlan(rule) for rule in rules.rules]
        self._needs_domains = any(plan.matcher.needs_domains for plan in self._plans)
        self._slots = GroupSlots(self._prefix)

    def forget_cached(self) -> None:
        """Drop what this engine caches of its state (the caller's batch was not stored)."""
        self._meta_cache.forget()
        self._slots.forget()

    def _load_meta(self) -> PartitionMeta:
        return self._meta_cache.load(self.state.get(self._meta_key))

    def _store_meta(self, meta: PartitionMeta) -> None:
        self.state[self._meta_key] = self._meta_cache.dump(meta)

    # ---------------------------------------------------------------- inputs

    def on_event(self, event: Mapping[str, Any], offset: int, now: float) -> list[dict[str, Any]]:
        """Apply one TaggedEvent at ``offset``; returns the alert transitions it caused."""
        try:
            return self._on_event(event, offset, now)
        except BaseException:
            self.forget_cached()  # an input that fails half-way leaves nothing cached
            raise

    def _on_event(self, event: Mapping[str, Any], offset: int, now: float) -> list[dict[str, Any]]:
        position = event_position(offset)
        self.progress = offset
        stats = self.stats
        occurred = event.get("occurred_at")
        if not isinstance(occurred, str):
            stats.unparseable += 1  # missing, or not text (JSON null, a number): never a time
            return []
        try:
            t = epoch_seconds(occurred)
        except ValueError:
            stats.unparseable += 1
            return []
        stats.events += 1
        meta = self._meta_cache.load(self.state.get(self._meta_key))
        changes = meta.changes
        # ``last``: the position at which ``before`` took effect. When this input follows every
        # remembered change (the usual case), a key applied since then was evaluated at ``before``.
        last, before = changes[-1] if changes else (-1, None)
        settled = last if changes and position > last else None
        if position <= last:
            before, exact = meta.watermark_before(position)
            if not exact:
                stats.history_overflow += 1
                log.warning(
                    "partition %s: replay at offset %s is older than the watermark history; "
                    "lateness decided against the oldest remembered watermark",
                    self.partition,
                    offset,
                )
        if meta.origin is None:
            meta.origin, meta.dirty = t, True
        after = t - t % self.granularity  # bucket_start: the watermark this event would set
        moved = before is None or after > before
        if moved:
            if position > last:
                meta.record(position, after, self.history)
        else:
            after = before

        event_id = event.get("event_id", "")
        if type(event_id) is not str:
            event_id = str(event_id)
        org = organisation_of(event)
        domains = event_domains(event) if self._needs_domains else None  # once per event
        targets: list[tuple[RulePlan, Sequence[tuple[str, ...]]]] = []
        for plan in self._plans:
            groups = plan.matcher.groups(event, domains)
            if not groups:
                continue
            if before is not None and t < before - plan.lateness:
                stats.too_late += 1
                continue
            targets.append((plan, groups))
        if targets and self._seen.counted_before(self.state, org, event_id, position, t):
            stats.duplicates += 1
            targets = []
        if targets and before is not None and t < before:
            stats.late += 1
        alerts: list[dict[str, Any]] = []
        for plan, groups in targets:
            for group in groups:
                self._apply(
                    plan, group, t, event_id, org, position, before, after, meta, now, settled, alerts
                )
        if moved and before is not None:
            alerts.extend(sweep(self.rules, self.state, meta, position, after, now))
        if meta.dirty:
            self._store_meta(meta)
        if alerts:
            stats.alerts += len(alerts)
        return alerts

    def on_tick(self, clock_watermark: float, after_offset: int, now: float) -> list[dict[str, Any]]:
        """Advance a quiet partition's watermark to ``clock_watermark`` (epoch seconds).

        ``after_offset`` is the last offset the partition had applied when the tick was taken.
        A tick that is behind what has been applied since (or that would move nothing) is
        dropped, so a tick never changes the watermark an already-applied event was judged by.
        """
        if self.progress is not None and after_offset != self.progress:
            return []  # taken before events this process has applied since: stale
        with self._meta_cache.guard():
            return self._on_tick(clock_watermark, after_offset, now)

    def _on_tick(self, clock_watermark: float, after_offset: int, now: float) -> list[dict[str, Any]]:
        position = tick_position(after_offset)
        meta = self._load_meta()
        current = meta.watermark
        target = bucket_start(int(clock_watermark), self.granularity)
        if current is None or target <= current or position < meta.last_position:
            return []
        if position == meta.last_position:
            meta.move_last(target)  # another tick while still quiet: same place in order
        else:
            meta.record(position, target, self.history)
        alerts = sweep(self.rules, self.state, meta, position, target, now)
        self._store_meta(meta)
        self.stats.alerts += len(alerts)
        return alerts

    @property
    def watermark(self) -> int | None:
        return self._load_meta().watermark

    def open_episode_rules(self) -> list[str]:
        """The rule id of each episode open (firing) on this partition."""
        return list(self._load_meta().open.values())

    # ---------------------------------------------------------------- each event once

    def end_batch(self, committed_offset: int | None) -> None:
        """Store this batch's event-id records as one chunk, then forget what no replay can need.

        Call once per batch, on the staged state, before it is stored: the chunk must be stored
        with the counts it accounts for. ``committed_offset`` as for :meth:`expire_seen`.
        """
        self._seen.store_batch(self.state)
        self.expire_seen(committed_offset)

    def expire_seen(self, committed_offset: int | None) -> int:
        """Forget the ids no replay from ``committed_offset`` could count; returns how many (see
        SeenEvents.expire_at_commit for why the committed offset, not the current watermark)."""
        forgotten = self._seen.expire_at_commit(
            self.state, self._load_meta(), committed_offset, self.rules.max_lateness_s
        )
        self.stats.seen_forgotten += forgotten
        return forgotten

    def seen_count(self) -> int:
        """Event identities this partition currently remembers (tests, dumps)."""
        return self._seen.count(self.state)

    # ---------------------------------------------------------------- state per group

    def _apply(
        self,
        plan: RulePlan,
        group: tuple[str, ...],
        t: int,
        event_id: str,
        organisation: str,
        position: int,
        before: int | None,
        watermark: int,
        meta: PartitionMeta,
        now: float,
        settled: int | None,
        alerts: list[dict[str, Any]],
    ) -> None:
        """Count the event in one (rule, group) key; its alert transitions are added to ``alerts``."""
        rule = plan.rule
        slot = self._slots.get(plan.id, group)
        key = slot.key
        value = self.state.get(key)
        if value is not None and position <= value[MARKER]:
            self.stats.replayed += 1
            rewrite_on_replay(self.state, key, value, meta)
            meta.sync_open(key, plan.id, value.get(EPISODE) is not None)
            return
        if value is None:
            value = new_value()
        pruned_to = slot.pruned_below(value)
        if pruned_to is None:  # not as this engine left it: keys may be JSON strings
            value[BUCKETS] = int_buckets(value[BUCKETS])
            value[ORGANISATIONS] = int_buckets(value.get(ORGANISATIONS) or {})
        buckets = value[BUCKETS]
        episode = value[EPISODE]
        # Normally a no-op: the sweep at the last watermark change already resolved such an
        # episode. After a crash that sweep's effect may be missing for this key (its value is
        # older than the metadata), so the episode is closed here, where it would have been.
        # Skipped when the key was applied at or after the watermark became ``before``: that
        # application (or the sweep) left the episode open only with a live window over at it.
        if (
            episode is not None
            and before is not None
            and (settled is None or value[MARKER] < settled)
            and not any_live_over(rule, buckets, meta.origin, before)
        ):
            value[EPISODE] = None
            alerts.append(alert(rule, group, episode, RESOLVED, now))
        step = plan.step
        bucket = t - t % step
        buckets[bucket] = buckets.get(bucket, 0) + 1
        if organisation:
            organisations = value[ORGANISATIONS].setdefault(bucket, [])
            if organisation not in organisations:
                organisations.append(organisation)
        samples = value[SAMPLES]
        samples.append([event_id, bucket])
        if len(samples) > SAMPLES_KEPT:
            del samples[:-SAMPLES_KEPT]
        oldest = self._slots.horizon(rule, watermark)
        alerts += evaluate_fast(plan, group, value, bucket, organisation, watermark, meta.origin, now)
        # Everything this event added lies in windows holding its bucket; with the value pruned to
        # ``oldest`` already (group_slots.py), there is nothing to drop.
        if pruned_to is None or bucket - plan.size + step < oldest:
            prune(value, oldest)
        elif pruned_to < oldest:
            prune_since(value, pruned_to, oldest, step)
        value[MARKER] = position
        self.state[key] = value
        slot.stored(value, oldest)
        meta.sync_open(key, plan.id, value[EPISODE] is not None)

    def _horizon(self, rule: Rule, watermark: int) -> int:  # tests: see buckets.horizon
        return horizon(rule, watermark)

    def window_counts(self, rule_id: str) -> dict[tuple[tuple[str, ...], int], int]:
        """Every non-zero window count this partition still holds for a rule (tests, dumps)."""
        rule = self.rules.by_id[rule_id]
        return window_counts_in(self.state, f"{self._prefix}{rule.id}|", rule)
