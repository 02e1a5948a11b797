"""The hotspot engine against a brute-force recount, and its episode semantics.

The brute force is deliberately naive: walk the partition in order, keep the watermark as a
plain max, decide lateness per rule, then count every window from the list of counted events.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pytest

from schemas.alert import FIRING, RESOLVED
from streams.hotspots.alerts import alert_id
from streams.hotspots.engine import HotspotEngine, StagedState, matching_groups
from streams.hotspots.rules import Rule, RuleSet, parse_rules
from streams.hotspots.windows import bucket_start, epoch_seconds, iso_z, windows_containing

T0 = 1_780_000_200  # a multiple of 600
SAFE, ACCESS, CLEAN = "safe_high_quality_care", "access_and_waiting", "clean_comfortable_place"

RULES = parse_rules(
    {
        "allowed_lateness": "5m",
        "rules": [
            {
                "id": "ward-hopping",
                "group_by": ["provider", "ward"],
                "window": {"size": "10m", "step": "1m"},
                "threshold": 4,
            },
            {
                "id": "incident-tumbling",
                "when": {"source": ["incident"]},
                "group_by": ["provider", "site", "ward"],
                "window": {"size": "5m"},
                "threshold": 2,
                "severity": "critical",
                "allowed_lateness": "2m",
            },
            {
                "id": "domain-hopping",
                "when": {"domain": [SAFE, ACCESS]},
                "group_by": ["provider", "domain"],
                "window": {"size": "4m", "step": "2m"},
                "threshold": 3,
            },
            {
                "id": "domain-spc",
                "group_by": ["provider", "domain"],
                "window": {"size": "2m"},
                "spc": {"baseline": 6, "sigma": 2, "min_count": 2, "min_history": 3},
            },
        ],
    },
    source="test-rules",
)


def event(
    offset: int,
    t: int,
    *,
    ward: str = "Ward 1",
    provider: str = "RXX",
    source: str = "complaint",
    domains: Iterable[str] = (SAFE,),
    site: str = "RXX01",
    organisation: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    record = {
        "event_id": event_id or f"e{offset}",
        "source": source,
        "occurred_at": iso_z(t),
        "provider": provider,
        "site": site,
        "ward": ward,
        "domains": list(domains),
        "text": "redacted",
    }
    if organisation is not None:
        record["organisation"] = organisation
    return record


Input = tuple[str, int, Any]  # ("e", offset, event) or ("t", after_offset, clock)


def run(engine: HotspotEngine, inputs: Iterable[Input], now: float = 0.0) -> list[dict[str, Any]]:
    """Feed inputs the way the worker does: stage state, deliver alerts, then store."""
    alerts: list[dict[str, Any]] = []
    base = engine.state
    for kind, position, payload in inputs:
        staged = StagedState(base)
        engine.state = staged
        if kind == "e":
            alerts += engine.on_event(payload, position, now)
        else:
            alerts += engine.on_tick(payload, position, now)
        engine.end_batch(None)
        staged.commit()
        engine.state = base
    return alerts


def counted_events(
    rules: RuleSet, inputs: Iterable[Input]
) -> Iterator[tuple[Rule, tuple[str, ...], int, Any]]:
    """(rule, group, event time, organisation) of every count, from first principles."""
    g = rules.granularity_s
    watermark: int | None = None
    seen: set[tuple[str, int]] = set()
    counted_ids: set[tuple[str, str]] = set()  # (organisation, event_id): an event counts once
    for kind, position, payload in inputs:
        if kind == "e" and (kind, position) in seen:
            continue  # a redelivery: the stream has applied it already
        # Ticks always apply (a plain max): a second tick while the partition stays quiet has the
        # position of the first, and a tick applied again changes nothing.
        seen.add((kind, position))
        if kind == "t":
            if watermark is not None and payload // g * g > watermark:
                watermark = payload // g * g
            continue
        t = epoch_seconds(payload["occurred_at"])
        targets = [
            (rule, groups)
            for rule in rules.rules
            if (groups := matching_groups(rule, payload))
            and not (watermark is not None and t < watermark - rule.allowed_lateness_s)
        ]
        if targets and payload.get("event_id"):
            identity = (payload.get("organisation") or "", payload["event_id"])
            if identity in counted_ids:
                targets = []  # counted before, at an earlier offset: a re-send or re-delivery
            counted_ids.add(identity)
        for rule, groups in targets:
            for group in groups:
                yield rule, group, t, payload.get("organisation")
        watermark = t // g * g if watermark is None else max(watermark, t // g * g)


def brute_force(rules: RuleSet, inputs: Iterable[Input]) -> dict[str, Counter]:
    """Per rule: Counter of (group, window start) → count, from first principles."""
    result: dict[str, Counter] = {rule.id: Counter() for rule in rules.rules}
    for rule, group, t, _ in counted_events(rules, inputs):
        for start in windows_containing(t, rule.window):
            result[rule.id][(group, start)] += 1
    return result


def counted_organisations(rules: RuleSet, inputs: list[Input]) -> dict[tuple[str, tuple[str, ...]], list]:
    """Per (rule id, group): the (event time, organisation) of every event the brute force counts."""
    out: dict[tuple[str, tuple[str, ...]], list] = defaultdict(list)
    for rule, group, t, organisation in counted_events(rules, inputs):
        out[(rule.id, group)].append((t, organisation))
    return out


def assert_counts_match(engine: HotspotEngine, expected: dict[str, Counter]) -> int:
    """Every window that can still change (and its history) holds exactly the brute-force count."""
    checked = 0
    watermark = engine.watermark
    assert watermark is not None
    for rule in engine.rules.rules:
        actual = engine.window_counts(rule.id)
        horizon = engine._horizon(rule, watermark)
        for (group, start), count in expected[rule.id].items():
            if start >= horizon:
                assert actual.get((group, start), 0) == count, (rule.id, group, iso_z(start))
                checked += 1
        for (group, start), count in actual.items():
            if start >= horizon:
                assert expected[rule.id].get((group, start), 0) == count, (rule.id, group, start)
    return checked


ORGANISATIONS = ["QKK", "QKK", "QWE", "QOP", None]


def random_inputs(seed: int, n: int = 600) -> list[Input]:
    """A partition's history: mostly in order, with out-of-order, late, too-late events and ticks."""
    rng = random.Random(seed)
    inputs: list[Input] = []
    clock = T0
    offset = 0
    ids_used: dict[str, set[str | None]] = {}
    for _ in range(n):
        roll = rng.random()
        if roll < 0.05 and offset:
            inputs.append(("t", offset - 1, clock + rng.randrange(0, 400)))
            clock += rng.randrange(0, 200)
            continue
        clock += rng.randrange(0, 20)
        if roll < 0.55:
            t = clock
        elif roll < 0.8:
            t = clock - rng.randrange(0, 120)  # out of order
        elif roll < 0.92:
            t = clock - rng.randrange(120, 300)  # late, within 5 m for some rules
        else:
            t = clock - rng.randrange(300, 900)  # too late
        domains = rng.sample([SAFE, ACCESS, CLEAN], k=rng.choice([0, 1, 1, 2, 3]))
        organisation = rng.choice(ORGANISATIONS)
        event_id = f"e{offset}"
        if offset and rng.random() < 0.1:
            # Source systems of different organisations number their events independently: now
            # and then one uses an id another organisation used already - a different event.
            other = f"e{rng.randrange(offset)}"
            free = [o for o in dict.fromkeys(ORGANISATIONS) if o not in ids_used.get(other, ())]
            if free:
                event_id, organisation = other, rng.choice(free)
        ids_used.setdefault(event_id, set()).add(organisation)
        inputs.append(
            (
                "e",
                offset,
                event(
                    offset,
                    t,
                    ward=rng.choice(["Ward 1", "Ward 2", "Ward 3"]),
                    provider=rng.choice(["RXX", "RYY"]),
                    source=rng.choice(["incident", "complaint", "pals"]),
                    domains=domains,
                    organisation=organisation,
                    event_id=event_id,
                ),
            )
        )
        offset += 1
    return inputs


def with_resends(inputs: list[Input], seed: int, rate: float = 0.15) -> list[Input]:
    """The same history with some events arriving again at later offsets, as the same event.

    Most copies come soon after (the tagging stage re-delivering after a crash, a client retrying);
    some much later (a source re-sending old items), when the original may be too late or forgotten.
    """
    rng = random.Random(seed)
    out: list[Input] = []
    pending: list[tuple[int, dict[str, Any]]] = []  # (due at input index, event)
    offset = 0
    for kind, _, payload in inputs:
        due = [e for at, e in pending if at <= len(out)]
        pending = [(at, e) for at, e in pending if at > len(out)]
        for copy_of in due:
            out.append(("e", offset, copy_of))
            offset += 1
        if kind == "t":
            if offset:
                out.append(("t", offset - 1, payload))
            continue
        out.append(("e", offset, payload))
        offset += 1
        if rng.random() < rate:
            later = rng.randrange(1, 40) if rng.random() < 0.8 else rng.randrange(100, 400)
            pending.append((len(out) + later, payload))
    return out


def episode_log(alerts: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    log: dict[str, list[str]] = defaultdict(list)
    for alert in alerts:
        log[alert["alert_id"]].append(alert["status"])
    return log


def essence(alerts: list[dict[str, Any]]) -> set[tuple]:
    """What a crash must not change about the alerts: each transition's id, window, count, limit
    and organisations (a re-sent one is the same element)."""
    return {
        (a["alert_id"], a["status"], a["window_start"], a["count"], a["threshold"], tuple(a["organisations"]))
        for a in alerts
    }


def assert_episode_shape(alerts: list[dict[str, Any]]) -> None:
    """One firing, then one more only when the episode's organisations grew, then one resolved."""
    transitions: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for alert in alerts:
        transitions[alert["alert_id"]].append((alert["status"], alert["organisations"]))
    for steps in transitions.values():
        statuses = [status for status, _ in steps]
        assert statuses[0] == FIRING and set(statuses[1:-1]) <= {FIRING}, statuses
        assert statuses.count(RESOLVED) <= 1 and RESOLVED not in statuses[:-1], statuses
        for (status, before), (next_status, after) in itertools.pairwise(steps):
            assert after == sorted(after) and set(before) <= set(after), steps
            if status == next_status == FIRING:
                assert len(after) > len(before), steps


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
        for alert in run(engine, [item]):
            rule = RULES.by_id[alert["rule_id"]]
            if rule.threshold is None:
                continue
            group = tuple(alert["group"][name] for name in rule.group_by)
            start, end = epoch_seconds(alert["window_start"]), epoch_seconds(alert["window_end"])
            counted = counted_organisations(RULES, inputs[: index + 1])[(rule.id, group)]
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


# ------------------------------------------------------------------------------- episodes

ONE_RULE = parse_rules(
    {
        "rules": [
            {
                "id": "burst",
                "description": "Four on a ward in ten minutes",
                "group_by": ["provider", "ward"],
                "window": {"size": "10m", "step": "1m"},
                "threshold": 4,
                "allowed_lateness": "30m",
            }
        ]
    }
)


def test_burst_fires_one_episode_and_resolves_when_watermark_passes() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    burst = [("e", i, event(i, T0 + 10 * i)) for i in range(8)]
    alerts = run(engine, burst, now=T0 + 100)
    assert [a["status"] for a in alerts] == [FIRING]
    fired = alerts[0]
    assert fired["group"] == {"provider": "RXX", "ward": "Ward 1"}
    assert fired["count"] == 4 and fired["threshold"] == 4
    assert fired["window_start"] == iso_z(T0 - 540)  # the earliest window holding e0..e3
    assert fired["window_end"] == iso_z(T0 + 60)
    assert fired["sample_event_ids"] == ["e0", "e1", "e2", "e3"]
    assert fired["fired_at"] == iso_z(T0 + 100) and fired["resolved_at"] is None
    assert fired["alert_id"] == alert_id("burst", fired["group"], T0 - 540)

    # Another ward moves the watermark, but the burst's windows stay live until T0 + 600.
    assert run(engine, [("e", 8, event(8, T0 + 599, ward="Ward 2"))]) == []
    closed = run(engine, [("e", 9, event(9, T0 + 600 + 70, ward="Ward 2"))], now=T0 + 700)
    assert [(a["status"], a["alert_id"]) for a in closed] == [(RESOLVED, fired["alert_id"])]
    assert closed[0]["count"] == 8 and closed[0]["resolved_at"] == iso_z(T0 + 700)
    assert closed[0]["fired_at"] == fired["fired_at"]


def test_episode_never_resolves_before_it_fired_when_clocks_disagree() -> None:
    """The partition moved to a worker whose clock is 30 s behind the one that fired the episode."""
    engine = HotspotEngine(ONE_RULE, {})
    (fired,) = run(engine, [("e", i, event(i, T0 + i)) for i in range(4)], now=T0 + 100)
    behind = HotspotEngine(ONE_RULE, engine.state)
    (resolved,) = run(behind, [("t", 3, T0 + 660)], now=T0 + 70)
    assert resolved["status"] == RESOLVED and resolved["alert_id"] == fired["alert_id"]
    assert resolved["resolved_at"] == resolved["fired_at"] == iso_z(T0 + 100)


def test_quiet_partition_resolves_by_clock_tick() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    alerts = run(engine, [("e", i, event(i, T0 + i)) for i in range(4)])
    assert [a["status"] for a in alerts] == [FIRING]
    assert run(engine, [("t", 3, T0 + 599)]) == []  # still live
    resolved = run(engine, [("t", 3, T0 + 660)], now=T0 + 661)
    assert [a["status"] for a in resolved] == [RESOLVED]
    assert engine.watermark == T0 + 660
    # A stale tick (taken before offset 3 was applied) moves nothing.
    assert HotspotEngine(ONE_RULE, {}).on_tick(T0, 0, 0) == []


def test_stale_tick_is_ignored() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    run(engine, [("e", i, event(i, T0 + i)) for i in range(4)])
    assert run(engine, [("t", 2, T0 + 5000)]) == []
    assert engine.watermark == T0


def test_late_event_takes_past_window_over_fires_and_resolves_at_once() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    inputs = [("e", i, event(i, T0 + 5 * i)) for i in range(3)]  # 3 of 4, not over
    inputs.append(("e", 3, event(3, T0 + 1200, ward="Ward 2")))  # watermark moves 20 min on
    assert run(engine, inputs) == []
    late = run(engine, [("e", 4, event(4, T0 + 20))], now=T0 + 1300)  # 19 min late, allowed
    assert [a["status"] for a in late] == [FIRING, RESOLVED]
    assert late[0]["alert_id"] == late[1]["alert_id"]
    assert late[1]["count"] == 4 and late[1]["resolved_at"] == iso_z(T0 + 1300)
    # A further late event in the same past windows does not announce it again.
    assert run(engine, [("e", 5, event(5, T0 + 21))]) == []


def test_too_late_event_is_not_counted() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    run(engine, [("e", 0, event(0, T0 + 3600, ward="Ward 2"))])
    run(engine, [("e", i, event(i, T0)) for i in range(1, 6)])  # 60 min behind, limit is 30
    assert engine.stats.too_late == 5
    assert not [group for group, _ in engine.window_counts("burst") if group[1] == "Ward 1"]


def test_replayed_offset_never_fires_twice() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    burst = [("e", i, event(i, T0 + i)) for i in range(4)]
    assert len(run(engine, burst)) == 1
    assert run(engine, burst) == []
    assert engine.window_counts("burst")[(("RXX", "Ward 1"), T0)] == 4


def test_domain_fan_out_and_no_domain() -> None:
    rules = parse_rules(
        {"rules": [{"id": "d", "group_by": ["provider", "domain"], "window": {"size": "1h"}, "threshold": 9}]}
    )
    engine = HotspotEngine(rules, {})
    run(engine, [("e", 0, event(0, T0, domains=[SAFE, ACCESS])), ("e", 1, event(1, T0, domains=[]))])
    counts = engine.window_counts("d")
    assert counts == {
        (("RXX", SAFE), bucket_start(T0, 3600)): 1,
        (("RXX", ACCESS), bucket_start(T0, 3600)): 1,
    }


def test_when_domain_filters_the_domain_groups() -> None:
    rule = RULES.by_id["domain-hopping"]
    groups = list(matching_groups(rule, event(0, T0, domains=[SAFE, CLEAN, ACCESS])))
    assert groups == [("RXX", SAFE), ("RXX", ACCESS)]
    assert list(matching_groups(rule, event(0, T0, domains=[CLEAN]))) == []
    tumbling = RULES.by_id["incident-tumbling"]
    assert list(matching_groups(tumbling, event(0, T0, source="pals"))) == []
    missing_ward = event(0, T0, source="incident")
    del missing_ward["ward"]
    assert list(matching_groups(tumbling, missing_ward)) == []


# ------------------------------------------------------------------------------- SPC

SPC = parse_rules(
    {
        "rules": [
            {
                "id": "spc",
                "group_by": ["provider"],
                "window": {"size": "1h"},
                "spc": {"baseline": 4, "sigma": 3, "min_count": 3, "min_history": 3},
                "allowed_lateness": "1d",
            }
        ]
    }
)


def feed_hours(engine: HotspotEngine, per_hour: list[int], start_offset: int = 0) -> list[dict[str, Any]]:
    inputs = []
    offset = start_offset
    for hour, n in enumerate(per_hour):
        for k in range(n):
            inputs.append(("e", offset, event(offset, T0 + hour * 3600 + k)))
            offset += 1
    return run(engine, inputs, now=1.0)


def test_spc_needs_minimum_history() -> None:
    # A big first and second hour: no history yet, so no alert however big.
    assert feed_hours(HotspotEngine(SPC, {}), [20, 30]) == []


def test_spc_fires_above_c_chart_limit() -> None:
    engine = HotspotEngine(SPC, {})
    # hours 0..3: 1, 2, 1, 0 → the hour-4 window's baseline mean is 1, limit 1 + 3*1 = 4.
    alerts = feed_hours(engine, [1, 2, 1, 0, 5])
    assert [a["status"] for a in alerts] == [FIRING]
    assert alerts[0]["count"] == 5 and alerts[0]["threshold"] == 4
    assert alerts[0]["window_start"] == iso_z(bucket_start(T0 + 4 * 3600, 3600))


def test_spc_not_above_limit_and_min_count() -> None:
    assert feed_hours(HotspotEngine(SPC, {}), [1, 2, 1, 0, 4]) == []  # 4 is not > 4
    # Mean 0.25: limit 1.75, 2 is above it but min_count 3 holds it back.
    assert feed_hours(HotspotEngine(SPC, {}), [1, 0, 0, 0, 2]) == []


def test_spc_zero_history_hours_count_after_origin() -> None:
    engine = HotspotEngine(SPC, {})
    # Origin at hour 0 (one event), hours 1-3 empty: 3 observed zero windows + hour 0 → mean 0.25.
    alerts = feed_hours(engine, [1, 0, 0, 0, 3])
    assert [a["status"] for a in alerts] == [FIRING]
    assert alerts[0]["threshold"] == pytest.approx(0.25 + 3 * 0.5)


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


# ------------------------------------------------------------------------------- tenancy


def test_two_organisations_with_the_same_event_id_both_count() -> None:
    """An id is unique only per source system: organisation B's incident is not A's re-send."""
    engine = HotspotEngine(ONE_RULE, {})
    same_id = [event(i, T0 + i, organisation=org, event_id="INC-1") for i, org in enumerate(["QKK", "QWE"])]
    run(engine, [("e", i, e) for i, e in enumerate(same_id)])
    assert engine.stats.duplicates == 0
    assert engine.window_counts("burst")[(("RXX", "Ward 1"), T0)] == 2
    # The same organisation sending it again is a re-send, and counts nowhere.
    run(engine, [("e", 2, same_id[1])])
    assert engine.stats.duplicates == 1
    assert engine.window_counts("burst")[(("RXX", "Ward 1"), T0)] == 2
    assert engine.seen_count() == 2


def test_an_episode_names_every_organisation_and_grows_while_it_fires() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    burst = [
        ("e", i, event(i, T0 + i, organisation=org)) for i, org in enumerate(["QWE", "QKK", None, "QKK"])
    ]
    (fired,) = run(engine, burst, now=T0 + 10)
    assert fired["status"] == FIRING and fired["organisations"] == ["QKK", "QWE"]
    # Another event of an organisation already named: nothing to say.
    assert run(engine, [("e", 4, event(4, T0 + 5, organisation="QWE"))]) == []
    # A third organisation's event counts while it fires: the episode is announced again, same id.
    (grown,) = run(engine, [("e", 5, event(5, T0 + 6, organisation="QOP"))], now=T0 + 20)
    assert (grown["alert_id"], grown["status"]) == (fired["alert_id"], FIRING)
    assert grown["organisations"] == ["QKK", "QOP", "QWE"] and grown["fired_at"] == fired["fired_at"]
    # Another ward's events belong to another group, whatever their organisation.
    assert run(engine, [("e", 6, event(6, T0 + 7, organisation="QZZ", ward="Ward 2"))]) == []
    (resolved,) = run(engine, [("t", 6, T0 + 700)], now=T0 + 701)
    assert resolved["status"] == RESOLVED and resolved["organisations"] == ["QKK", "QOP", "QWE"]


def test_an_event_outside_every_window_over_the_limit_does_not_join_the_episode() -> None:
    engine = HotspotEngine(ONE_RULE, {})  # 10 m windows stepping 1 m, threshold 4
    (fired,) = run(engine, [("e", i, event(i, T0 + 1200 + i, organisation="QKK")) for i in range(4)])
    # Late, in windows that hold none of the burst: counted, but not over the limit.
    assert run(engine, [("e", 4, event(4, T0 + 300, organisation="QWE"))]) == []
    assert engine.window_counts("burst")[(("RXX", "Ward 1"), T0 + 300)] == 1
    (resolved,) = run(engine, [("t", 4, T0 + 1900)])
    assert resolved["alert_id"] == fired["alert_id"] and resolved["organisations"] == ["QKK"]


def test_windows_of_an_earlier_episode_do_not_add_to_the_open_one() -> None:
    engine = HotspotEngine(ONE_RULE, {})
    first = [("e", i, event(i, T0 + i, organisation="QKK")) for i in range(4)]
    run(engine, first)
    run(engine, [("t", 3, T0 + 700)])  # resolved
    (second,) = run(engine, [("e", 4 + i, event(4 + i, T0 + 700 + i, organisation="QWE")) for i in range(4)])
    # A late QOP event lands in the first episode's windows (over, but not live).
    assert run(engine, [("e", 8, event(8, T0 + 2, organisation="QOP"))]) == []
    (resolved,) = run(engine, [("t", 8, T0 + 1400)])
    assert resolved["alert_id"] == second["alert_id"] and resolved["organisations"] == ["QWE"]


def test_state_written_before_organisations_still_dedupes_until_it_expires() -> None:
    """An upgrade: event-id chunks keyed by bare id (``#seen|``) stay in force until they expire,
    so an event the tagging stage re-delivers across the upgrade is not counted twice."""
    engine = HotspotEngine(ONE_RULE, {})
    run(engine, [("e", i, event(i, T0 + 60 * i, organisation="QKK")) for i in range(3)])
    state = {}
    for key, value in engine.state.items():
        if "|#ids|" in key:
            old = {orjson.loads(identity)[1]: record for identity, record in value.items()}
            state[key.replace("|#ids|", "|#seen|")] = old
        else:
            state[key] = value
    upgraded = HotspotEngine(ONE_RULE, state)
    run(upgraded, [("e", 3, event(1, T0 + 60, organisation="QKK"))])  # re-delivered e1
    assert upgraded.stats.duplicates == 1
    assert upgraded.window_counts("burst")[(("RXX", "Ward 1"), T0)] == 3
    # Forgotten like any other chunk once too late for every rule.
    run(upgraded, [("e", 4, event(4, T0 + 3 * 3600, organisation="QKK"))])
    assert upgraded.expire_seen(5) == 3 and not [k for k in upgraded.state if "|#seen|" in k]
