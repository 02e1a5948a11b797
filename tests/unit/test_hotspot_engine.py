"""The hotspot engine against a brute-force recount (tests/support/hotspot_oracle.py): counts,
organisations, redeliveries, crashes with partly stored state, re-sent events, forgotten ids and
the changelog after a replay."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from schemas.alert import FIRING
from streams.hotspots.engine import HotspotEngine, StagedState
from streams.hotspots.windows import epoch_seconds
from tests.support.hotspot_oracle import (
    ONE_RULE,
    RULES,
    T0,
    Input,
    assert_counts_match,
    assert_episode_shape,
    brute_force,
    counted_organisations,
    episode_log,
    essence,
    event,
    random_inputs,
    run,
    with_resends,
)

# ------------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("seed", range(8))
def test_counts_equal_brute_force(seed: int) -> None:
    inputs = random_inputs(seed)
    engine = HotspotEngine(RULES, {})
    alerts = run(engine, inputs)
    assert assert_counts_match(engine, brute_force(RULES, inputs)) > 50
    assert engine.stats.too_late > 0 and engine.stats.late > 0
    assert_episode_shape(alerts)
    assert any(a["status"] == FIRING for a in alerts)


@pytest.mark.parametrize("seed", range(8))
def test_organisations_are_those_whose_events_counted(seed: int) -> None:
    """Against the brute force: an episode's first message names at least every organisation with
    an event counted in its window, and no message names one without an event counted in the
    group from the episode's start on. Threshold rules only: an SPC limit depends on history."""
    inputs = with_resends(random_inputs(500 + seed), seed)
    engine = HotspotEngine(RULES, {})
    fired_at: dict[str, int] = {}
    checked = 0
    for index, item in enumerate(inputs):
        counted_so_far = None  # the brute force over inputs[: index + 1], once for this item's alerts
        for alert in run(engine, [item]):
            rule = RULES.by_id[alert["rule_id"]]
            if rule.threshold is None:
                continue
            group = tuple(alert["group"][name] for name in rule.group_by)
            start, end = epoch_seconds(alert["window_start"]), epoch_seconds(alert["window_end"])
            if counted_so_far is None:
                counted_so_far = counted_organisations(RULES, inputs[: index + 1])
            counted = counted_so_far[(rule.id, group)]
            since_start = {org for t, org in counted if t >= start and org}
            assert set(alert["organisations"]) <= since_start, alert
            if alert["alert_id"] not in fired_at:
                fired_at[alert["alert_id"]] = index
                assert {org for t, org in counted if start <= t < end and org} <= set(alert["organisations"])
                checked += 1
    assert checked > 5
    assert_episode_shape([a for a in run(HotspotEngine(RULES, {}), inputs)])


@pytest.mark.parametrize("seed", range(6))
def test_redelivered_inputs_are_not_counted_twice(seed: int) -> None:
    """At-least-once: blocks of inputs arrive again (a restart from an older committed offset)."""
    rng = random.Random(100 + seed)
    inputs = random_inputs(seed, n=400)
    delivered: list[Input] = []
    i = 0
    while i < len(inputs):
        j = min(len(inputs), i + rng.randrange(5, 60))
        delivered += inputs[i:j]
        if rng.random() < 0.5:
            delivered += inputs[rng.randrange(max(0, i - 30), j) : j]  # redelivery
        i = j
    state: dict[str, Any] = {}
    engine = HotspotEngine(RULES, state)
    clean = HotspotEngine(RULES, {})
    alerts = run(engine, delivered)
    clean_alerts = run(clean, inputs)
    assert assert_counts_match(engine, brute_force(RULES, inputs)) > 30
    assert engine.stats.replayed > 0
    # Redelivery never fires an episode twice, and finds exactly the clean run's episodes.
    assert episode_log(alerts) == episode_log(clean_alerts)


@pytest.mark.parametrize("seed", range(10))
def test_crash_with_partially_stored_state_recovers_exact(seed: int) -> None:
    """Model of kill -9 with Faust + RocksDB at-least-once.

    The source offset is committed only after the producer is flushed, so every key is stored at
    least as of the commit point c; RocksDB may hold newer versions of some keys, and recovery may
    put others back to an older changelog version. So after the crash each key independently has
    some version between c and the crash point k. The input from c on is delivered again.
    """
    rng = random.Random(seed)
    inputs = random_inputs(1000 + seed, n=500)
    crashes = sorted(rng.sample(range(50, len(inputs) - 10), 3))
    state: dict[str, Any] = {}
    snapshots: list[dict[str, Any]] = []
    engine = HotspotEngine(RULES, state)
    all_alerts: list[dict[str, Any]] = []
    position = 0
    for crash in crashes:
        while position < crash:
            all_alerts += run(engine, [inputs[position]])
            snapshots.append(copy.deepcopy(engine.state))
            position += 1
        commit = rng.randrange(max(1, crash - 40), crash)
        # snapshots[j] is the state after input j; "as of the commit" is snapshots[commit - 1].
        keys = set().union(*(snapshots[j].keys() for j in range(commit - 1, crash)))
        recovered: dict[str, Any] = {}
        for key in keys:
            version = snapshots[rng.randrange(commit - 1, crash)]
            if key in version:
                recovered[key] = copy.deepcopy(version[key])
        engine = HotspotEngine(RULES, recovered)  # a new process: no memory of ticks taken
        snapshots = snapshots[:commit]
        position = commit
    all_alerts += run(engine, inputs[position:])

    clean = HotspotEngine(RULES, {})
    clean_alerts = run(clean, inputs)
    assert assert_counts_match(engine, brute_force(RULES, inputs)) > 30
    # Every episode of the clean run is announced, none twice under a different id, and each id
    # carries the same window, count and limit as in the clean run.
    assert set(episode_log(all_alerts)) == set(episode_log(clean_alerts))

    assert essence(all_alerts) == essence(clean_alerts)


@pytest.mark.parametrize("seed", range(6))
def test_resent_events_count_once(seed: int) -> None:
    inputs = with_resends(random_inputs(200 + seed), seed)
    engine = HotspotEngine(RULES, {})
    alerts = run(engine, inputs)
    assert assert_counts_match(engine, brute_force(RULES, inputs)) > 50
    assert engine.stats.duplicates > 10
    assert_episode_shape(alerts)


def next_offset(inputs: list[Input], index: int) -> int:
    """The committed offset (next to read) of a consumer that has processed inputs[:index]."""
    return next((p for kind, p, _ in inputs[index:] if kind == "e"), inputs[-1][1] + 1)


@pytest.mark.parametrize("seed", range(12))
def test_resends_and_forgetting_ids_stay_exact_across_crashes(seed: int) -> None:
    """The crash model above, in batches as the worker runs: re-sent events, one chunk of event-id
    records per batch, ids forgotten by the committed offset known at each batch's end.

    Batch sizes are random, so a replay batches differently from the run it repeats; commits fall
    on batch boundaries; after a crash each key has some version between the commit and the crash.
    Exact counts and episodes need forgetting never to remove a record a replay could still meet.
    """
    rng = random.Random(seed)
    inputs = with_resends(random_inputs(3000 + seed, n=500), seed)
    crashes = sorted(rng.sample(range(60, len(inputs) - 10), 3))
    snapshots: dict[int, dict[str, Any]] = {0: {}}  # state after inputs[:i], at batch boundaries
    engine = HotspotEngine(RULES, {})
    all_alerts: list[dict[str, Any]] = []
    commit, position, forgotten = 0, 0, 0
    while position < len(inputs):
        batch = inputs[position : position + rng.randrange(1, 12)]
        staged = StagedState(engine.state)
        engine.state = staged
        for kind, at, payload in batch:
            if kind == "e":
                all_alerts += engine.on_event(payload, at, 0.0)
            else:
                all_alerts += engine.on_tick(payload, at, 0.0)
        engine.end_batch(next_offset(inputs, commit) if commit else None)
        staged.commit()
        engine.state = staged.base
        position += len(batch)
        snapshots[position] = copy.deepcopy(engine.state)
        if rng.random() < 0.3:
            commit = rng.choice([b for b in snapshots if b >= commit])
        if crashes and position >= crashes[0]:
            crashes.pop(0)
            versions = [snapshots[b] for b in snapshots if commit <= b <= position]
            recovered: dict[str, Any] = {}
            for key in set().union(*(version.keys() for version in versions)):
                version = rng.choice(versions)
                if key in version:
                    recovered[key] = copy.deepcopy(version[key])
            forgotten += engine.stats.seen_forgotten
            engine = HotspotEngine(RULES, recovered)  # a new process: no memory of ticks or ids
            snapshots = {b: v for b, v in snapshots.items() if b <= commit}
            position = commit

    clean = HotspotEngine(RULES, {})
    clean_alerts = run(clean, inputs)
    assert assert_counts_match(engine, brute_force(RULES, inputs)) > 30
    assert forgotten + engine.stats.seen_forgotten > 0  # forgetting did run

    assert essence(all_alerts) == essence(clean_alerts)


def test_a_resent_event_does_not_make_a_burst() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    first = [event(i, T0 + 10 * i) for i in range(3)]
    resent = [("e", 3 + i, first[i % 3]) for i in range(4)]  # the same three events, again
    alerts = run(engine, [("e", i, e) for i, e in enumerate(first)] + resent)
    assert alerts == [] and engine.stats.duplicates == 4
    fourth = run(engine, [("e", 7, event(7, T0 + 50))])
    assert [(a["status"], a["count"]) for a in fourth] == [(FIRING, 4)]
    assert set(fourth[0]["sample_event_ids"]) == {"e0", "e1", "e2", "e7"}


@pytest.mark.parametrize(
    "when", [None, 1_780_000_300, 17.5, ["2026-05-29T10:00:00Z"], {}, True, "", "29/05/2026"]
)
def test_an_event_without_a_readable_time_is_skipped_not_fatal(when: Any) -> None:
    """Hostile input is normal input: a time that is not ISO 8601 text is counted as unparseable
    (the worker's metric), and the partition carries on."""
    engine = HotspotEngine(ONE_RULE, {})
    bad = event(0, T0) | {"occurred_at": when}
    alerts = run(engine, [("e", 0, bad)] + [("e", i, event(i, T0 + 10 * i)) for i in range(1, 5)])
    assert engine.stats.unparseable == 1 and engine.stats.events == 4
    assert [alert["count"] for alert in alerts] == [4]


def test_ids_are_forgotten_only_once_no_replay_could_count_them() -> None:
    engine = HotspotEngine(ONE_RULE, {})  # allowed lateness 30 m; window 10 m, step 1 m
    run(engine, [("e", i, event(i, T0 + 60 * i)) for i in range(100)])  # 100 minutes of events
    assert engine.seen_count() == 100
    # Committed offset 50: a replay starts there, judged against a watermark of at least T0 + 49 m
    # (offset 49's event), so events before T0 + 19 m are too late for the 30 m rule wherever they
    # arrive again.
    assert engine.expire_seen(50) == 19
    assert engine.seen_count() == 81
    assert engine.expire_seen(50) == 0  # nothing new is due
    # A duplicate of a forgotten event is beyond the allowed lateness: refused as too late.
    run(engine, [("e", 100, event(5, T0 + 60 * 5))])
    assert engine.stats.too_late == 1 and engine.stats.duplicates == 0
    # A duplicate of a remembered one is recognised.
    run(engine, [("e", 101, event(90, T0 + 60 * 90))])
    assert engine.stats.duplicates == 1
    # A new engine on the same state (a restart) finds what is left by one scan.
    restarted = HotspotEngine(ONE_RULE, engine.state)
    assert restarted.expire_seen(102) == 50  # watermark T0 + 99 m: ids from T0 + 69 m on stay
    assert restarted.seen_count() == 31


class ChangelogDict(dict):
    """A dict that also keeps the log of writes, as Faust sends each table write to a changelog."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.log: list[tuple[str, Any]] = []

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.log.append((key, copy.deepcopy(value)))


@pytest.mark.parametrize("seed", range(5))
def test_replay_brings_the_changelog_up_to_date(seed: int) -> None:
    """RocksDB keeps writes the changelog never got (kill -9 before the producer flushed).

    The replayed inputs are skipped for those keys (already applied), so unless the engine writes
    them again the changelog stays behind for good, and a restore on another worker loses counts.
    """
    rng = random.Random(seed)
    inputs = random_inputs(2000 + seed, n=400)
    local = ChangelogDict()
    run(HotspotEngine(RULES, local), inputs[:300])
    commit = rng.randrange(200, 300)
    # The changelog got every write up to the commit (flushed before committing) and a random
    # part of the rest; local RocksDB has all of them.
    writes_before_commit = len(changelog_of(inputs[:commit]))
    shipped = local.log[: rng.randrange(writes_before_commit, len(local.log))]
    restarted = ChangelogDict(copy.deepcopy(dict(local)))
    run(HotspotEngine(RULES, restarted), inputs[commit:300])  # the replay, and nothing after it
    changelog: dict[str, Any] = {}
    for key, value in shipped + restarted.log:
        changelog[key] = value
    assert changelog == dict(restarted)
    restored_elsewhere = HotspotEngine(RULES, changelog)
    assert assert_counts_match(restored_elsewhere, brute_force(RULES, inputs[:300])) > 10


def changelog_of(inputs: list[Input]) -> list[tuple[str, Any]]:
    state = ChangelogDict()
    run(HotspotEngine(RULES, state), inputs)
    return state.log
