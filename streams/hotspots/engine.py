"""The hotspot state machine for one partition of ``feedback.tagged`` — pure, no Kafka.

Input: TaggedEvent dicts with their offset, and clock ticks; output: Alert v1 transitions. All
state lives in a ``MutableMapping`` of JSON-serialisable values handed in by the caller (a dict
in tests, a changelogged Faust table in the worker), so the same code is tested here and run there.

Why it is exact under at-least-once delivery (FAUST-NOTES.md):

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
  above, everything after it is a duplicate. The records of one batch are stored as one *chunk*
  key named by its first and last position (:meth:`HotspotEngine.end_batch`): one changelog write
  per batch, not per event, and a replay that batches differently writes new chunks beside the old
  rather than over them (a replay with the same bounds writes the same content). Lookups use an
  in-memory index built from the chunks when the engine starts. Chunks are forgotten only once
  every event in them is too late for every rule at any input a crash could replay, so a
  duplicate arriving after that is refused by lateness, exactly as it would have been by its id.
  Chunks written before identities included the organisation (``#seen|``, keyed by bare id) are
  still read, and matched by id alone, until they expire: an upgrade never counts a re-delivered
  event twice.
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

Episodes (CONTRACTS.md): with no episode open, no live window of the group is over its limit
(counts only grow and the watermark only moves forward, so the only windows that can newly
become live with events in them are the ones holding the newest event). Hence an event either
takes a live window over (fire), takes a past window over (fire and resolve at once, the contract's
late-event case) or neither. An open episode absorbs further crossings and resolves when the
watermark moves past its last over-limit live window — checked whenever the watermark changes,
by events or by ticks, for the (few) open episodes listed in the partition's metadata.

SPC (c-chart): a window's limit is ``mean + sigma*sqrt(mean)`` of its previous ``baseline``
non-overlapping windows (``start - k*size``; see windows.history_starts). Only history windows
starting at or after the partition's first event count as observed; before ``min_history`` of
them exist the rule does not fire, and the mean is taken over the observed ones.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from schemas.alert import FIRING, RESOLVED
from schemas.identity import event_identity, organisation_of
from streams.hotspots.alerts import build_alert
from streams.hotspots.rules import Rule, RuleSet
from streams.hotspots.windows import (
    bucket_start,
    counts_containing,
    epoch_seconds,
    is_live,
    window_count,
    windows_containing,
)

log = logging.getLogger(__name__)

V = TypeVar("V")

WATERMARK_HISTORY = 256
SAMPLES_KEPT = 10


def event_position(offset: int) -> int:
    return 2 * offset


def tick_position(after_offset: int) -> int:
    return 2 * after_offset + 1


@dataclass
class EngineStats:
    """Counters for metrics; the worker turns them into Prometheus counters."""

    events: int = 0
    replayed: int = 0  # (event, key) applications skipped because the key already had them
    late: int = 0  # counted although behind the watermark
    too_late: int = 0  # (event, rule) pairs refused: beyond allowed lateness
    duplicates: int = 0  # events not counted again: their (organisation, event_id) was counted before
    seen_forgotten: int = 0  # event ids dropped from state once no duplicate could count
    unparseable: int = 0
    alerts: int = 0
    history_overflow: int = 0


class StagedState(MutableMapping[str, Any]):
    """Reads through to ``base``; writes are held until :meth:`commit`.

    Lets the caller deliver an input's alerts before its state is stored: if the process dies in
    between, the input is replayed and the alert re-sent (same id) instead of lost.
    """

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self.staged: dict[str, Any] = {}
        self._deleted: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key in self.staged:
            return self.staged[key]
        if key in self._deleted:
            raise KeyError(key)
        return self.base[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.staged:
            return self.staged[key]
        if key in self._deleted:
            return default
        return self.base.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._deleted.discard(key)
        self.staged[key] = value

    def __delitem__(self, key: str) -> None:
        self.staged.pop(key, None)
        self._deleted.add(key)

    def __iter__(self) -> Iterator[str]:
        seen = set(self.staged)
        yield from self.staged
        for key in self.base:
            if key not in seen and key not in self._deleted:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def commit(self) -> None:
        for key, value in self.staged.items():
            self.base[key] = value
        for key in self._deleted:
            if key in self.base:
                del self.base[key]
        self.staged.clear()
        self._deleted.clear()


@dataclass
class _Meta:
    """Per-partition metadata: watermark changes, first event time, open episodes."""

    changes: list[list[int]] = field(default_factory=list)  # [[position, watermark], ...]
    origin: int | None = None
    open: dict[str, str] = field(default_factory=dict)  # group key → rule id
    dirty: bool = False

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> _Meta:
        if not raw:
            return cls()
        return cls(changes=[list(c) for c in raw["w"]], origin=raw["o"], open=dict(raw["open"]))

    def dump(self) -> dict[str, Any]:
        return {"w": self.changes, "o": self.origin, "open": self.open}

    def watermark_before(self, position: int) -> tuple[int | None, bool]:
        """Watermark in force just before ``position``; second item False when history ran out."""
        if not self.changes:
            return None, True
        index = bisect.bisect_left(self.changes, position, key=lambda change: change[0])
        if index == 0:
            # Everything we remember happened at or after this position: a replay older than
            # the history. The oldest value is the best we have (and never too small).
            return self.changes[0][1], False
        return self.changes[index - 1][1], True

    @property
    def last_position(self) -> int:
        return self.changes[-1][0] if self.changes else -1

    @property
    def watermark(self) -> int | None:
        return self.changes[-1][1] if self.changes else None


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
        # Rule ids are [a-z0-9-]+, so no group key can start with these.
        self._seen_prefix = f"{partition}|#ids|"
        self._legacy_prefix = f"{partition}|#seen|"  # chunks keyed by bare event_id (read only)
        # event identity → position that counted it (bare ids of legacy chunks apart), and (newest
        # event time, key) of each stored chunk: built by one scan of the state when first needed,
        # then kept up to date.
        self._seen: dict[str, int] | None = None
        self._legacy: dict[str, int] = {}
        self._chunks: list[tuple[int, str]] = []
        self._batch_seen: dict[str, list[int]] = {}  # recorded since the last end_batch
        self._expired_below: int | None = None

    # ---------------------------------------------------------------- inputs

    def on_event(self, event: Mapping[str, Any], offset: int, now: float) -> list[dict[str, Any]]:
        """Apply one TaggedEvent at ``offset``; returns the alert transitions it caused."""
        position = event_position(offset)
        self.progress = offset
        try:
            t = epoch_seconds(event["occurred_at"])
        except (KeyError, TypeError, ValueError):
            self.stats.unparseable += 1
            return []
        self.stats.events += 1
        meta = _Meta.load(self.state.get(self._meta_key))
        before, exact = meta.watermark_before(position)
        if not exact:
            self.stats.history_overflow += 1
            log.warning(
                "partition %s: replay at offset %s is older than the watermark history; "
                "lateness decided against the oldest remembered watermark",
                self.partition,
                offset,
            )
        if meta.origin is None:
            meta.origin, meta.dirty = t, True
        candidate = bucket_start(t, self.granularity)
        after = candidate if before is None else max(before, candidate)
        alerts: list[dict[str, Any]] = []
        if (before is None or after > before) and position > meta.last_position:
            meta.changes.append([position, after])
            del meta.changes[: -self.history]
            meta.dirty = True

        event_id = str(event.get("event_id", ""))
        organisation = organisation_of(event)
        domains = event_domains(event)  # once per event, not once per rule
        targets: list[tuple[Rule, Sequence[tuple[str, ...]]]] = []
        for rule in self.rules.rules:
            groups = matching_groups(rule, event, domains)
            if not groups:
                continue
            if before is not None and t < before - rule.allowed_lateness_s:
                self.stats.too_late += 1
                continue
            targets.append((rule, groups))
        if targets and self._counted_before(organisation, event_id, position, t):
            self.stats.duplicates += 1
            targets = []
        if targets and before is not None and t < before:
            self.stats.late += 1
        for rule, groups in targets:
            for group in groups:
                alerts.extend(
                    self._apply(rule, group, t, event_id, organisation, position, before, after, meta, now)
                )

        if before is not None and after > before:
            alerts.extend(self._sweep(meta, position, after, now))
        if meta.dirty:
            self.state[self._meta_key] = meta.dump()
        self.stats.alerts += len(alerts)
        return alerts

    def on_tick(self, clock_watermark: float, after_offset: int, now: float) -> list[dict[str, Any]]:
        """Advance a quiet partition's watermark to ``clock_watermark`` (epoch seconds).

        ``after_offset`` is the last offset the partition had applied when the tick was taken.
        A tick that is behind what has been applied since (or that would move nothing) is
        dropped, so a tick never changes the watermark an already-applied event was judged by.
        """
        if self.progress is not None and after_offset != self.progress:
            return []  # taken before events this process has applied since: stale
        position = tick_position(after_offset)
        meta = _Meta.load(self.state.get(self._meta_key))
        current = meta.watermark
        target = bucket_start(int(clock_watermark), self.granularity)
        if current is None or target <= current or position < meta.last_position:
            return []
        if position == meta.last_position:
            meta.changes[-1][1] = target  # another tick while still quiet: same place in order
        else:
            meta.changes.append([position, target])
            del meta.changes[: -self.history]
        meta.dirty = True
        alerts = self._sweep(meta, position, target, now)
        self.state[self._meta_key] = meta.dump()
        self.stats.alerts += len(alerts)
        return alerts

    @property
    def watermark(self) -> int | None:
        return _Meta.load(self.state.get(self._meta_key)).watermark

    def open_episode_rules(self) -> list[str]:
        """The rule id of each episode open (firing) on this partition."""
        return list(_Meta.load(self.state.get(self._meta_key)).open.values())

    # ---------------------------------------------------------------- each event once

    def _counted_before(self, organisation: str, event_id: str, position: int, t: int) -> bool:
        """True when an earlier input counted this event; otherwise record this one as counting it.

        Recording again on a replay of the recording input puts it in this batch's chunk too,
        which the changelog may need (see _rewrite_on_replay). An event without an id cannot be
        recognised and counts.
        """
        if not event_id:
            return False
        seen = self._seen_index()
        identity = event_identity(organisation, event_id)
        first = seen.get(identity)
        if first is None and self._legacy:
            first = self._legacy.get(event_id)
        if first is not None and first < position:
            return True
        seen[identity] = position
        self._batch_seen[identity] = [position, t]
        return False

    def end_batch(self, committed_offset: int | None) -> None:
        """Store this batch's event-id records as one chunk, then forget what no replay can need.

        Call once per batch, on the staged state, before it is stored: the chunk must be stored
        with the counts it accounts for. ``committed_offset`` as for :meth:`expire_seen`.
        """
        if self._batch_seen:
            positions = [position for position, _ in self._batch_seen.values()]
            key = f"{self._seen_prefix}{min(positions)}-{max(positions)}"
            self.state[key] = self._batch_seen
            heapq.heappush(self._chunks, (max(t for _, t in self._batch_seen.values()), key))
            self._batch_seen = {}
        self.expire_seen(committed_offset)

    def expire_seen(self, committed_offset: int | None) -> int:
        """Forget the ids no duplicate could count for any more; returns how many were forgotten.

        ``committed_offset`` is the partition's committed consumer offset (the next to read): a
        crash replays from there, and each replayed event is judged against a watermark no lower
        than the one in force at that offset. An event older than that watermark less the longest
        allowed lateness is too late for every rule wherever it arrives again, so its id has done
        its job. Forgetting by the current watermark instead would let a replayed duplicate from
        before the watermark moved find its id gone and count. Cheap when nothing is due.
        """
        if committed_offset is None or committed_offset <= 0:
            return 0
        meta = _Meta.load(self.state.get(self._meta_key))
        watermark, exact = meta.watermark_before(event_position(committed_offset))
        if watermark is None or not exact:
            return 0  # the commit point is older than the remembered history: wait
        threshold = watermark - self.rules.max_lateness_s
        if self._expired_below is not None and threshold <= self._expired_below:
            return 0
        seen = self._seen_index()
        forgotten = 0
        while self._chunks and self._chunks[0][0] < threshold:
            _, key = heapq.heappop(self._chunks)
            chunk = self.state.get(key)
            if chunk is None:
                continue  # forgotten already
            del self.state[key]
            index = self._legacy if key.startswith(self._legacy_prefix) else seen
            for identity, (position, _) in chunk.items():
                # Another chunk may hold the same record (a replay batched differently); its
                # event is as old, so whichever goes first, a duplicate is too late anyway.
                if index.get(identity) == position:
                    del index[identity]
                    forgotten += 1
        self._expired_below = threshold
        self.stats.seen_forgotten += forgotten
        return forgotten

    def _seen_index(self) -> dict[str, int]:
        """The id index, from one scan of the state per engine (i.e. per assignment)."""
        if self._seen is None:
            seen: dict[str, int] = {}
            for key in list(self.state):
                if key.startswith(self._seen_prefix):
                    index = seen
                elif key.startswith(self._legacy_prefix):
                    index = self._legacy
                else:
                    continue
                chunk = self.state.get(key) or {}
                for identity, (position, _) in chunk.items():
                    if identity not in index or position < index[identity]:
                        index[identity] = position
                if chunk:
                    self._chunks.append((max(t for _, t in chunk.values()), key))
            heapq.heapify(self._chunks)
            self._seen = seen
        return self._seen

    def seen_count(self) -> int:
        """Event identities this partition currently remembers (tests, dumps)."""
        return len(self._seen_index()) + len(self._legacy)

    # ---------------------------------------------------------------- state per group

    def group_key(self, rule: Rule, group: tuple[str, ...]) -> str:
        return f"{self._prefix}{rule.id}|{orjson.dumps(group).decode()}"

    def _apply(
        self,
        rule: Rule,
        group: tuple[str, ...],
        t: int,
        event_id: str,
        organisation: str,
        position: int,
        before: int | None,
        watermark: int,
        meta: _Meta,
        now: float,
    ) -> list[dict[str, Any]]:
        key = self.group_key(rule, group)
        value = self.state.get(key)
        if value is not None and position <= value["m"]:
            self.stats.replayed += 1
            self._rewrite_on_replay(key, value, meta)
            self._sync_open(meta, key, rule, value)
            return []
        if value is None:
            value = {"m": -1, "b": {}, "s": [], "ep": None, "f": []}
        buckets = value["b"] = int_buckets(value["b"])
        alerts: list[dict[str, Any]] = []
        episode = value["ep"]
        # Normally a no-op: the sweep at the last watermark change already resolved such an
        # episode. After a crash that sweep's effect may be missing for this key (its value is
        # older than the metadata), so the episode is closed here, where it would have been.
        if (
            episode is not None
            and before is not None
            and not self._any_live_over(rule, buckets, before, meta)
        ):
            value["ep"] = None
            alerts.append(self._alert(rule, group, episode, RESOLVED, now))
        bucket = bucket_start(t, rule.window.step_s)
        buckets[bucket] = buckets.get(bucket, 0) + 1
        organisations = value["g"] = int_buckets(value.get("g") or {})
        if organisation and organisation not in organisations.setdefault(bucket, []):
            organisations[bucket].append(organisation)
        samples = value["s"]
        samples.append([event_id, bucket])
        del samples[:-SAMPLES_KEPT]
        horizon = self._horizon(rule, watermark)
        alerts += self._evaluate(
            rule, group, buckets, samples, value, bucket, organisation, watermark, meta, now
        )
        if min(buckets) < horizon:  # pruning is rare (the watermark moved): skip the copy otherwise
            value["b"] = {k: v for k, v in buckets.items() if k >= horizon}
            value["g"] = {k: v for k, v in organisations.items() if k >= horizon}
        value["s"] = [s for s in samples if s[1] >= horizon]
        value["f"] = [start for start in value["f"] if start >= horizon]
        value["m"] = position
        self.state[key] = value
        self._sync_open(meta, key, rule, value)
        return alerts

    def _rewrite_on_replay(self, key: str, value: Any, meta: _Meta) -> None:
        """Store an already-applied key again, unchanged.

        A replay means the process died after some writes reached local RocksDB but maybe not the
        changelog. Skipping the input would leave the changelog behind for good (the input is
        committed after the replay), and a restore elsewhere would lose it; writing the current
        value again sends it to the changelog. Only happens on replays, so it costs nothing normally.
        """
        self.state[key] = value
        meta.dirty = True

    def _horizon(self, rule: Rule, watermark: int) -> int:
        """Oldest bucket still needed: windows a late event can reach, plus their SPC history."""
        window = rule.window
        oldest_start = bucket_start(watermark - rule.allowed_lateness_s, window.step_s) - window.size_s
        return oldest_start + window.step_s - rule.history_s()

    def _sync_open(self, meta: _Meta, key: str, rule: Rule, value: Mapping[str, Any]) -> None:
        is_open = value.get("ep") is not None
        if is_open and meta.open.get(key) != rule.id:
            meta.open[key] = rule.id
            meta.dirty = True
        elif not is_open and key in meta.open:
            del meta.open[key]
            meta.dirty = True

    # ---------------------------------------------------------------- rules and episodes

    def _limit(
        self,
        rule: Rule,
        buckets: Mapping[int, int],
        start: int,
        meta: _Meta,
        prefix: BucketPrefix | None = None,
    ) -> float | None:
        """The count a window must reach (threshold) or exceed (SPC); None = cannot fire yet.

        SPC: the observed history windows (``start - k*size`` for k = 1.., those starting at or
        after the origin) are non-overlapping and adjacent, so their total is the sum of the
        buckets in one span; ``prefix`` answers that with two bisections instead of summing
        ``baseline * size/step`` buckets for each candidate window.
        """
        if rule.threshold is not None:
            return float(rule.threshold)
        spc = rule.spc
        assert spc is not None
        size = rule.window.size_s
        origin = bucket_start(meta.origin if meta.origin is not None else start, rule.window.step_s)
        observed = min(spc.baseline, max(0, (start - origin) // size))
        if observed < spc.min_history or observed == 0:
            return None
        if prefix is None:
            prefix = BucketPrefix(buckets)
        mean = prefix.total(start - observed * size, start) / observed
        return mean + spc.sigma * math.sqrt(mean)

    def _over(self, rule: Rule, count: int, limit: float | None) -> bool:
        if limit is None:
            return False
        if rule.threshold is not None:
            return count >= limit
        assert rule.spc is not None
        return count >= rule.spc.min_count and count > limit

    def _evaluate(
        self,
        rule: Rule,
        group: tuple[str, ...],
        buckets: Mapping[int, int],
        samples: list[list[Any]],
        value: dict[str, Any],
        bucket: int,
        organisation: str,
        watermark: int,
        meta: _Meta,
        now: float,
    ) -> list[dict[str, Any]]:
        window = rule.window
        crossed_live: list[tuple[int, int, float]] = []
        crossed_past: list[tuple[int, int, float]] = []
        over = False  # whether a window holding this bucket is over the limit (from the episode's start)
        start_of_episode = value["ep"]["ws"] if value["ep"] is not None else None
        peak = 0
        announced = set(value.setdefault("f", []))
        floor = rule.threshold if rule.threshold is not None else rule.spc.min_count  # type: ignore[union-attr]
        prefix: BucketPrefix | None = None
        for start, count in counts_containing(buckets, bucket, window):
            if count < floor:
                continue  # cheap test first: most windows are nowhere near their limit
            if prefix is None and rule.spc is not None:
                prefix = BucketPrefix(buckets)
            limit = self._limit(rule, buckets, start, meta, prefix)
            if not self._over(rule, count, limit):
                continue
            over = over or (start_of_episode is not None and start >= start_of_episode)
            peak = max(peak, count)
            if self._over(rule, count - 1, limit) or start in announced:
                # Over already, or over once before (an SPC limit can move back and forth with
                # late history): a window belongs to at most one episode.
                continue
            assert limit is not None
            target = crossed_live if is_live(start, window, watermark) else crossed_past
            target.append((start, count, limit))

        value["f"].extend(start for start, _, _ in crossed_live + crossed_past)
        episode = value["ep"]
        if episode is not None:
            episode["c"] = max(episode["c"], peak)  # the resolved message reports the peak
            # The event's organisation when it lands in an over-limit window of this episode (not
            # one before its start: that belongs to an earlier episode), and every organisation of
            # a window that went over with it. Windows over already were counted when they
            # crossed, and each event since by its own organisation: nothing to re-read.
            known = episode.get("o", [])
            found = {organisation} if over and organisation else set()
            crossed_here = [start for start, _, _ in crossed_live + crossed_past if start >= episode["ws"]]
            if crossed_here:
                found |= self._organisations(rule, value, crossed_here)
            grown = sorted(found.union(known)) if found - set(known) else known
            episode["o"] = grown
            if not self._any_live_over(rule, buckets, watermark, meta):
                value["ep"] = None
                return [self._alert(rule, group, episode, RESOLVED, now)]
            if len(grown) > len(known):
                # Another organisation's events now count: announce the episode again, so its
                # people hear about it while it fires (docs/tenancy.md).
                return [self._alert(rule, group, episode, FIRING, now)]
            return []
        crossed = crossed_live or crossed_past
        if not crossed:
            return []
        start, _, limit = crossed[0]  # earliest window that crossed: the episode's start
        peak = max(count for _, count, _ in crossed)  # only windows of this episode's kind
        episode = {
            "ws": start,
            "c": peak,
            "th": limit,
            "fa": now,
            "ids": [s[0] for s in samples if start <= s[1] < start + window.size_s],
            "o": sorted(self._organisations(rule, value, [s for s, _, _ in crossed])),
        }
        fired = self._alert(rule, group, episode, FIRING, now)
        if crossed_live:
            value["ep"] = episode
            return [fired]
        return [fired, self._alert(rule, group, episode, RESOLVED, now)]

    def _organisations(self, rule: Rule, value: Mapping[str, Any], starts: Sequence[int]) -> set[str]:
        """Organisations of the events in the windows starting at ``starts``.

        The windows all hold one bucket, so together they span one run of buckets: at most
        ``2*size/step - 1`` of them are read, however long the key's history.
        """
        window = rule.window
        organisations: Mapping[int, list[str]] = value.get("g") or {}
        found: set[str] = set()
        for bucket in range(min(starts), max(starts) + window.size_s, window.step_s):
            found.update(organisations.get(bucket, ()))
        return found

    def _any_live_over(self, rule: Rule, buckets: Mapping[int, int], watermark: int, meta: _Meta) -> bool:
        floor = rule.threshold if rule.threshold is not None else rule.spc.min_count  # type: ignore[union-attr]
        prefix: BucketPrefix | None = None
        for start, count in counts_containing(buckets, watermark, rule.window):
            if count < floor:
                continue
            if prefix is None and rule.spc is not None:
                prefix = BucketPrefix(buckets)
            if self._over(rule, count, self._limit(rule, buckets, start, meta, prefix)):
                return True
        return False

    def _sweep(self, meta: _Meta, position: int, watermark: int, now: float) -> list[dict[str, Any]]:
        """After the watermark moved: resolve open episodes with no live window over the limit."""
        alerts: list[dict[str, Any]] = []
        for key, rule_id in sorted(meta.open.items()):
            rule = self.rules.by_id.get(rule_id)
            value = self.state.get(key)
            if rule is None or value is None:
                # The rule was removed from the file (or the key is gone): nothing to resolve.
                del meta.open[key]
                meta.dirty = True
                continue
            if position <= value["m"]:
                self._rewrite_on_replay(key, value, meta)
                self._sync_open(meta, key, rule, value)
                continue
            episode = value["ep"]
            if episode is None:
                self._sync_open(meta, key, rule, value)
                continue
            buckets = int_buckets(value["b"])
            if self._any_live_over(rule, buckets, watermark, meta):
                continue
            group = tuple(orjson.loads(key.split("|", 2)[2]))
            value["ep"] = None
            value["m"] = position
            self.state[key] = value
            self._sync_open(meta, key, rule, value)
            alerts.append(self._alert(rule, group, episode, RESOLVED, now))
        return alerts

    def _alert(
        self, rule: Rule, group: tuple[str, ...], episode: Mapping[str, Any], status: str, now: float
    ) -> dict[str, Any]:
        start = int(episode["ws"])
        return build_alert(
            rule_id=rule.id,
            status=status,
            group=dict(zip(rule.group_by, group, strict=True)),
            window_start=start,
            window_end=start + rule.window.size_s,
            count=episode["c"],
            threshold=episode["th"],
            severity=rule.severity,
            description=rule.description,
            fired_at=episode["fa"],
            # ``now`` is this process's wall clock; the episode may have been fired by a worker
            # whose clock ran ahead (the partition has moved since). An episode never resolves
            # before it fired: not in the alerts topic, ClickHouse, the dashboards or Alertmanager.
            resolved_at=max(now, episode["fa"]) if status == RESOLVED else None,
            sample_event_ids=episode["ids"],
            organisations=episode.get("o", ()),
        )

    # ---------------------------------------------------------------- inspection

    def window_counts(self, rule_id: str) -> dict[tuple[tuple[str, ...], int], int]:
        """Every non-zero window count this partition still holds for a rule (tests, dumps)."""
        rule = self.rules.by_id[rule_id]
        prefix = f"{self._prefix}{rule.id}|"
        counts: dict[tuple[tuple[str, ...], int], int] = {}
        for key in list(self.state):
            if not key.startswith(prefix):
                continue
            group = tuple(orjson.loads(key[len(prefix) :]))
            buckets = int_buckets(self.state[key]["b"])
            starts = {s for b in buckets for s in windows_containing(b, rule.window)}
            for start in starts:
                counts[(group, start)] = window_count(buckets, start, rule.window)
        return counts


class BucketPrefix:
    """Running totals over one key's buckets in time order: any span's count in O(log n)."""

    __slots__ = ("starts", "totals")

    def __init__(self, buckets: Mapping[int, int]) -> None:
        self.starts = sorted(buckets)
        running, totals = 0, [0]
        for start in self.starts:
            running += buckets[start]
            totals.append(running)
        self.totals = totals

    def total(self, low: int, high: int) -> int:
        """Sum of the buckets starting in [low, high)."""
        starts = self.starts
        return self.totals[bisect.bisect_left(starts, high)] - self.totals[bisect.bisect_left(starts, low)]


def int_buckets(raw: dict[Any, V]) -> dict[int, V]:
    """Bucket counts (or organisations) keyed by int start. JSON gives str keys; values staged by
    this process keep their int keys (TableState writes them with OPT_NON_STR_KEYS, the same JSON),
    so the copy is made once per key read from the store, not once per event."""
    if not raw or type(next(iter(raw))) is int:
        return raw
    return {int(k): v for k, v in raw.items()}


def event_domains(event: Mapping[str, Any]) -> list[str]:
    """The event's domains, strings only, each once, in order."""
    return list(dict.fromkeys(d for d in event.get("domains") or () if isinstance(d, str)))


def matching_groups(
    rule: Rule, event: Mapping[str, Any], domains: list[str] | None = None
) -> Sequence[tuple[str, ...]]:
    """The group tuples an event counts in for a rule (none when it does not match).

    An event with two domains counts once in each domain group; an event with no domain
    matches no domain-grouped rule; an event missing a group_by field cannot be attributed
    and is not counted for that rule. ``domains`` is :func:`event_domains` of the event, when
    the caller has it already.
    """
    if domains is None:
        domains = event_domains(event)
    for name, allowed in rule.when:
        if name == "domain":
            domains = [d for d in domains if d in allowed]
            if not domains:
                return ()
        elif event.get(name) not in allowed:
            return ()
    fixed: list[str | None] = []
    for name in rule.group_by:
        if name == "domain":
            fixed.append(None)
            continue
        value = event.get(name)
        if not isinstance(value, str) or not value:
            return ()
        fixed.append(value)
    if "domain" not in rule.group_by:
        return (tuple(fixed),)  # type: ignore[arg-type]
    return [tuple(d if v is None else v for v in fixed) for d in domains]
