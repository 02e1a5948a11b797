"""The hotspot engine's test oracle: rules, events, a worker-like driver and a brute-force recount.

The brute force is deliberately naive: walk the partition in order, keep the watermark as a
plain max, decide lateness per rule, then count every window from the list of counted events.
Shared by the unit tests of the engine (tests/unit/test_hotspot_*.py) and the kill -9 tests.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from schemas.alert import FIRING, RESOLVED
from streams.hotspots.engine import HotspotEngine, StagedState, matching_groups
from streams.hotspots.rules import Rule, RuleSet, parse_rules
from streams.hotspots.windows import epoch_seconds, iso_z, windows_containing

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
