"""A burst on one ward, through the real broker, the production worker and a real Alertmanager."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.hotspots import Alertmanager, HotspotWorker, MakeHotspotConfig, iso, read_alerts, unique
from tests.support.kafka import produce_json
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RULES = """
allowed_lateness: 1h
rules:
  - id: {rule}
    description: Five or more incidents on one ward within 10 seconds (test scale)
    when:
      source: [incident]
    group_by: [provider, ward]
    window: {{size: 10s, step: 2s}}
    threshold: 5
    severity: critical
"""


def tagged(event_id: str, t: float, ward: str, provider: str = "RXX", source: str = "incident") -> dict:
    return {
        "event_id": event_id,
        "source": source,
        "occurred_at": iso(t),
        "provider": provider,
        "site": f"{provider}01",
        "ward": ward,
        "text": "[redacted]",
        "domains": ["safe_high_quality_care"],
        "domain_scores": {"safe_high_quality_care": 0.9},
        "themes": [],
        "sentiment": -0.5,
        "evidence": [],
        "redactions": {},
        "tagger_version": "test",
    }


def test_burst_fires_one_episode_and_resolves_by_itself(
    tmp_path: Path, bootstrap: str, hotspot_config: MakeHotspotConfig
) -> None:
    rule = unique("burst")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(rule=rule))
    config = hotspot_config("burst")
    tagged_topic, alerts_topic = config.tagged_topic, config.alerts_topic
    am = Alertmanager(tmp_path / "am").start()
    worker = HotspotWorker(
        tmp_path / "worker",
        bootstrap=bootstrap,
        rules=rules,
        config=config,
        alertmanager_url=am.url,
        resend_interval=1.0,
    )
    try:
        worker.start()
        now = time.time()
        background = [tagged(f"bg{i}", now + i * 0.01, f"Ward {i % 4}", provider="RYY") for i in range(8)]
        other_source = [tagged(f"c{i}", now, "Ward 7", source="complaint") for i in range(6)]
        burst = [tagged(f"b{i}", now + i * 0.2, "Ward 7") for i in range(8)]
        produce_json(bootstrap, tagged_topic, background + other_source + burst)

        def statuses() -> list[tuple[str, str]]:
            return [(a["alert_id"], a["status"]) for a in read_alerts(bootstrap, alerts_topic)]

        wait_for(lambda: any(s == "firing" for _, s in statuses()), 30, "a firing alert on the topic")
        (in_am,) = wait_for(lambda: am.alerts(rule), 30, "the alert in Alertmanager")
        labels = in_am["labels"]
        assert labels["provider"] == "RXX" and labels["ward"] == "Ward 7"
        assert labels["rule"] == rule and labels["severity"] == "critical"
        assert labels["alertname"] == "PatientExperienceHotspot"
        # Re-sent while firing: Alertmanager's endsAt moves forward.
        first_ends_at = in_am["endsAt"]
        wait_for(
            lambda: [a for a in am.alerts(rule) if a["endsAt"] > first_ends_at],
            20,
            "a re-send moving endsAt on",
        )

        # No further events: the clock moves the quiet partition's watermark past the burst.
        wait_for(lambda: any(s == "resolved" for _, s in statuses()), 40, "the episode resolving by itself")
        alerts = read_alerts(bootstrap, alerts_topic)
        assert [a["status"] for a in alerts] == ["firing", "resolved"]
        fired, resolved = alerts
        assert fired["alert_id"] == resolved["alert_id"]
        assert fired["group"] == {"provider": "RXX", "ward": "Ward 7"}
        assert fired["count"] == 5 and fired["threshold"] == 5 and resolved["count"] == 8
        assert set(fired["sample_event_ids"]) <= {b["event_id"] for b in burst}
        assert resolved["resolved_at"] >= fired["fired_at"]
        wait_for(lambda: not am.alerts(rule, active_only=True), 30, "Alertmanager showing it resolved")
        assert len(read_alerts(bootstrap, alerts_topic)) == 2  # nothing fired again meanwhile
    finally:
        worker.stop()
        am.stop()
