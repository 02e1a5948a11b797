"""Recomputing history (state lost, group reset, a second deployment) does not re-announce episodes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.integration.test_hotspots_kill import RULES, committed, feed
from tests.support.hotspots import HotspotWorker, MakeHotspotConfig, read_alerts, unique
from tests.support.kafka import produce_json
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_worker_replaying_everything_sends_no_alert_twice(
    tmp_path: Path, bootstrap: str, hotspot_config: MakeHotspotConfig
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    config = hotspot_config("replay")
    tagged_topic, alerts_topic = config.tagged_topic, config.alerts_topic
    events = feed(7, 800)
    produce_json(bootstrap, tagged_topic, events)

    def run_worker(name: str) -> None:
        worker = HotspotWorker(
            tmp_path / name,
            bootstrap=bootstrap,
            rules=rules,
            # Each run its own app id (group, changelog, local tables) on the same topics.
            config=replace(config, app_id=unique(name)),
            quiet_after=1e9,
        )
        try:
            worker.start()
            wait_for(
                lambda: committed(bootstrap, worker.group, tagged_topic) >= len(events),
                120,
                f"{name} to commit the feed",
            )
        finally:
            worker.stop()

    run_worker("first")
    first = read_alerts(bootstrap, alerts_topic)
    assert len(first) >= 4
    # A fresh app id: no state, no committed offsets — every input replayed, every alert rebuilt.
    run_worker("second")
    assert read_alerts(bootstrap, alerts_topic) == first
