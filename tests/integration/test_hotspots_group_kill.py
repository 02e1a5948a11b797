"""Two workers share the hotspot stage's partitions; one is killed with kill -9 mid-stream.

Each partition of feedback.tagged is counted by exactly one member of the group. When one member
dies, the other takes its partitions after the session timeout, recovers their state from the
changelog and replays what the dead one had not committed. The counts must equal a brute-force
recount of the records as the broker holds them, the alerts an uninterrupted run's, and no episode
may be announced twice — including those the dead worker announced just before it died.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.hotspots.rules import load_rules
from tests.integration.test_hotspots_kill import EVENTS, RULES, feed
from tests.support.hotspot_recount import Recount
from tests.support.hotspots import HotspotWorker, MakeHotspotConfig, read_alerts
from tests.support.kafka import SteadyProducer, committed
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4  # feedback.tagged's production count (test_hotspots_kill checks it)


def providers_on_every_partition(per_partition: int = 2) -> list[str]:
    """Provider codes whose records land `per_partition` to each partition (keyed by provider),
    so both workers have traffic whichever partitions each holds."""
    from runtime.produce import _keyed_partition

    chosen: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    for n in range(1000):
        code = f"R{n:02d}"
        slot = chosen[_keyed_partition(code.encode(), PARTITIONS)]
        if len(slot) < per_partition:
            slot.append(code)
    return sorted(code for codes in chosen.values() for code in codes)


def spread_feed(seed: int) -> list[dict[str, Any]]:
    """test_hotspots_kill's feed, its three providers spread over eight on all four partitions."""
    rng = random.Random(seed)
    providers = providers_on_every_partition()
    return [{**event, "provider": rng.choice(providers)} for event in feed(seed, EVENTS)]


def test_two_workers_one_killed_mid_stream_counts_exact_and_no_alert_twice(
    tmp_path: Path, bootstrap: str, hotspot_config: MakeHotspotConfig
) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    rules = load_rules(rules_path)
    config = hotspot_config("group-kill")
    tagged_topic, alerts_topic = config.tagged_topic, config.alerts_topic
    workers = [
        HotspotWorker(
            tmp_path / name,
            bootstrap=bootstrap,
            rules=rules_path,
            config=config,
            quiet_after=1e9,  # event times are a day old: keep the wall clock out of this test
        )
        for name in ("a", "b")
    ]
    survivor, victim = workers
    events = spread_feed(7)
    producer = SteadyProducer(bootstrap, tagged_topic, events)
    produced = producer.done
    try:
        for worker in workers:
            worker.start()
        # Both members hold partitions before the feed starts (a rebalance hands out all four).
        wait_for(
            lambda: all("hotspot partition" in w.log.read_text() for w in workers),
            90,
            "both workers to count some partitions",
        )
        producer.start()
        wait_for(
            lambda: committed(bootstrap, survivor.group, tagged_topic) >= 0.4 * EVENTS,
            120,
            "the group to commit 40% of the feed",
            interval=0.05,
        )
        victim.kill9()
        wait_for(produced.is_set, 120, "the whole feed produced")
        wait_for(
            lambda: committed(bootstrap, survivor.group, tagged_topic) >= EVENTS,
            180,
            "the survivor to commit the whole feed",
        )

        recount = Recount.of_topic(bootstrap, tagged_topic, rules)
        assert len(recount.inputs) == 4 and recount.events == EVENTS
        clean_alerts = recount.alerts
        wait_for(
            lambda: recount.changelog_matches(bootstrap, survivor.changelog_topic),
            60,
            "the changelog to equal the brute-force recount",
        )

        def essence(alerts: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
            return {
                (a["alert_id"], a["status"], a["window_start"], a["count"], tuple(a["organisations"]))
                for a in alerts
            }

        wait_for(
            lambda: essence(read_alerts(bootstrap, alerts_topic)) == essence(clean_alerts),
            60,
            "the group's alerts to match an uninterrupted run",
        )
        alerts = read_alerts(bootstrap, alerts_topic)
        transitions = Counter((a["alert_id"], a["status"], tuple(a["organisations"])) for a in alerts)
        assert len({alert_id for alert_id, _, _ in transitions}) >= 5, "the feed should make several episodes"
        assert max(transitions.values()) == 1, [k for k, n in transitions.items() if n > 1]
        # The survivor took over the victim's partitions: it recovered some state a second time.
        assert survivor.log.read_text().count("hotspot partition") > 2
    finally:
        for worker in workers:
            worker.stop()
        producer.join(timeout=60)
