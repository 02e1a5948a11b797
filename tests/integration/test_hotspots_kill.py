"""Counts through the real broker equal a brute-force recount, also after kill -9 mid-stream.

The feed has out-of-order, late and too-late events. The expectation is computed from the
records as the broker holds them (partition, offset order): a brute-force recount and an
uninterrupted in-process engine. The worker's state is read back from its table's changelog.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas import topics
from streams.hotspots.rules import load_rules
from tests.support.hotspot_recount import Recount
from tests.support.hotspots import HotspotWorker, MakeHotspotConfig, iso, read_alerts
from tests.support.kafka import SteadyProducer, committed
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RULES = """
rules:
  - id: ward-hopping
    group_by: [provider, ward]
    window: {size: 20s, step: 5s}
    threshold: 7
    allowed_lateness: 30s
  - id: domain-tumbling
    when: {domain: [safe_high_quality_care, access_and_waiting]}
    group_by: [provider, domain]
    window: {size: 10s}
    threshold: 5
    allowed_lateness: 15s
"""
SAFE, ACCESS, CLEAN = "safe_high_quality_care", "access_and_waiting", "clean_comfortable_place"
# The production partition count of feedback.tagged (schemas/topics.py), which the worker creates.
PARTITIONS = next(spec.partitions for spec in topics.TOPICS if spec.name == topics.TAGGED)
EVENTS = 3000


def feed(seed: int, n: int) -> list[dict[str, Any]]:
    """Event times a day in the past (no clock ticks interfere), with disorder and lateness; three
    organisations, whose source systems now and then use an id another one used already."""
    rng = random.Random(seed)
    organisations = ["QKK", "QWE", "QOP"]
    used: set[tuple[str, str]] = set()  # (organisation, event_id) pairs given out
    clock = time.time() - 86400
    events = []
    for i in range(n):
        clock += rng.uniform(0, 0.6)
        roll = rng.random()
        t = clock
        if roll < 0.25:
            t -= rng.uniform(0, 10)  # out of order
        elif roll < 0.35:
            t -= rng.uniform(10, 30)  # late, within some rules' lateness
        elif roll < 0.4:
            t -= rng.uniform(30, 120)  # too late
        organisation = rng.choice(organisations)
        event_id = f"k{i}"
        if i and rng.random() < 0.1:
            j = rng.randrange(i)
            if (organisation, f"k{j}") not in used:
                event_id = f"k{j}"  # a different event: an id another organisation used
        events.append(
            {
                "event_id": event_id,
                "organisation": organisation,
                "source": rng.choice(["incident", "complaint", "fft"]),
                "occurred_at": iso(t),
                "provider": rng.choice(["RXX", "RYY", "RZZ"]),
                "ward": rng.choice(["Ward 1", "Ward 2", "Ward 3"]),
                "text": "[redacted]",
                "domains": rng.sample([SAFE, ACCESS, CLEAN], k=rng.choice([0, 1, 1, 2])),
            }
        )
        used.add((organisation, event_id))
    return events


@pytest.mark.parametrize("kills", [0, 2], ids=["uninterrupted", "kill-9-twice"])
def test_counts_equal_brute_force_and_each_episode_fires_once(
    tmp_path: Path, bootstrap: str, hotspot_config: MakeHotspotConfig, kills: int
) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    rules = load_rules(rules_path)
    config = hotspot_config("kill")
    tagged_topic, alerts_topic = config.tagged_topic, config.alerts_topic
    assert PARTITIONS == 4, "feedback.tagged's production partition count changed: revisit this test"
    worker = HotspotWorker(
        tmp_path / "worker",
        bootstrap=bootstrap,
        rules=rules_path,
        config=config,
        quiet_after=1e9,  # event times are a day old: keep the wall clock out of this test
    )
    events = feed(42, EVENTS)
    producer = SteadyProducer(bootstrap, tagged_topic, events)
    produced = producer.done
    try:
        worker.start()
        producer.start()
        for fraction in (0.25, 0.6)[:kills]:
            wait_for(
                lambda f=fraction: committed(bootstrap, worker.group, tagged_topic) >= f * EVENTS,
                120,
                f"worker to commit {fraction:.0%} of the feed",
                interval=0.05,
            )
            worker.kill9()
            worker.start()
        wait_for(produced.is_set, 120, "the whole feed produced")
        wait_for(
            lambda: committed(bootstrap, worker.group, tagged_topic) >= EVENTS,
            120,
            "worker to commit the whole feed",
        )

        # The expectation, from the records in the broker's order.
        recount = Recount.of_topic(bootstrap, tagged_topic, rules)
        assert recount.events == EVENTS
        clean_alerts, clean_engines = recount.alerts, recount.engines
        wait_for(
            lambda: recount.changelog_matches(bootstrap, worker.changelog_topic),
            60,
            "worker's table to equal the brute-force recount",
        )
        assert sum(e.stats.too_late for e in clean_engines.values()) > 50  # the feed did exercise lateness

        def essence(alerts: list[dict[str, Any]]) -> Counter:
            return Counter(
                (a["alert_id"], a["status"], a["window_start"], a["count"], tuple(a["organisations"]))
                for a in alerts
            )

        wait_for(
            lambda: set(essence(read_alerts(bootstrap, alerts_topic))) == set(essence(clean_alerts)),
            60,
            "the worker's alerts to match an uninterrupted run",
        )
        alerts = read_alerts(bootstrap, alerts_topic)
        # Once per episode, and once more only each time its organisations grew.
        firing = Counter(
            (a["alert_id"], tuple(a["organisations"])) for a in alerts if a["status"] == "firing"
        )
        assert len({alert_id for alert_id, _ in firing}) >= 5, "the feed should make several episodes"
        assert max(firing.values()) == 1, [k for k, v in firing.items() if v > 1]
        assert any(len(organisations) > 1 for _, organisations in firing), "episodes shared by organisations"
        assert sum(e.stats.duplicates for e in clean_engines.values()) == 0  # shared ids are not re-sends
        assert worker.starts == 1 + kills
    finally:
        worker.stop()
        producer.join(timeout=60)
