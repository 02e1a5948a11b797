"""Hotspot episodes: fire once, resolve when the watermark passes or the clock ticks, late and
too-late events, domain fan-out, and the organisations an episode names (docs/tenancy.md)."""

from __future__ import annotations

import orjson

from schemas.alert import FIRING, RESOLVED
from streams.hotspots.alerts import alert_id
from streams.hotspots.engine import HotspotEngine, matching_groups
from streams.hotspots.rules import parse_rules
from streams.hotspots.windows import bucket_start, iso_z
from tests.support.hotspot_oracle import (
    ACCESS,
    CLEAN,
    ONE_RULE,
    RULES,
    SAFE,
    T0,
    event,
    run,
)

# ------------------------------------------------------------------------------- episodes


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
