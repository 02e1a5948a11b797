"""Alert v1 → Alertmanager mapping, backoff, and the bounded registry of firing alerts."""

from __future__ import annotations

from schemas.alert import ALERT_FIELDS
from streams.hotspots.alertmanager import (
    ALERTNAME,
    FiringRegistry,
    PusherConfig,
    latest_per_alert,
    to_alertmanager,
)
from streams.hotspots.alerts import alert_id, build_alert
from streams.hotspots.windows import iso_z

T0 = 1_780_000_200
CONFIG = PusherConfig.from_env(
    "http://127.0.0.1:9093/", env={"PXSTREAM_GRAFANA_URL": "https://grafana.nhs.example/"}
)


def alert(status: str = "firing", group: dict[str, str] | None = None) -> dict:
    return build_alert(
        rule_id="ward-incidents-24h",
        status=status,
        group=group or {"provider": "RXX", "ward": "Ward 7"},
        window_start=T0,
        window_end=T0 + 86400,
        count=6,
        threshold=5,
        severity="warning",
        description="Five or more incidents on one ward within 24 hours",
        fired_at=T0 + 100,
        resolved_at=T0 + 90000 if status == "resolved" else None,
        sample_event_ids=[f"e{i}" for i in range(12)],
    )


def test_alert_record_has_exactly_the_contract_fields() -> None:
    record = alert()
    assert tuple(record) == ALERT_FIELDS
    assert record["window_start"] == iso_z(T0) and record["window_start"].endswith("Z")
    assert len(record["sample_event_ids"]) == 10
    assert record["alert_id"] == alert("resolved")["alert_id"]
    assert record["alert_id"] != alert(group={"provider": "RXX", "ward": "Ward 8"})["alert_id"]
    assert alert_id("r", {"a": "1", "b": "2"}, 5) == alert_id("r", {"b": "2", "a": "1"}, 5)


def test_labels_and_annotations_per_contract() -> None:
    posted = to_alertmanager(alert(), CONFIG, now=T0 + 200)
    assert posted["labels"] == {
        "alertname": ALERTNAME,
        "rule": "ward-incidents-24h",
        "severity": "warning",
        "provider": "RXX",
        "ward": "Ward 7",
    }
    assert set(posted["annotations"]) == {"summary", "description", "dashboard"}
    assert posted["annotations"]["dashboard"].startswith("https://grafana.nhs.example/d/pxstream-hotspots?")
    assert "var-ward=Ward+7" in posted["annotations"]["dashboard"]
    assert posted["startsAt"] == iso_z(T0 + 100)
    # Firing: endsAt ahead by four re-send intervals, so Alertmanager keeps it between re-sends.
    assert posted["endsAt"] == iso_z(T0 + 200 + 4 * 60)


def test_resolution_ends_at_resolved_at() -> None:
    posted = to_alertmanager(alert("resolved"), CONFIG, now=T0 + 999_999)
    assert posted["endsAt"] == iso_z(T0 + 90000)


def test_resolution_stamped_before_its_firing_ends_at_its_start() -> None:
    """A resolution from a worker whose clock is behind the one that fired (partition moved)."""
    skewed = {**alert("resolved"), "resolved_at": iso_z(T0 + 99.75)}
    posted = to_alertmanager(skewed, CONFIG, now=T0 + 99.75)
    assert posted["startsAt"] == iso_z(T0 + 100)
    assert posted["endsAt"] == posted["startsAt"]


def test_registry_is_bounded_and_forgets_resolved() -> None:
    registry = FiringRegistry(limit=2)
    a, b, c = (alert(group={"provider": "RXX", "ward": w}) for w in ("A", "B", "C"))
    for record in (a, b, c):
        registry.apply(record)
    assert [r["group"]["ward"] for r in registry.firing()] == ["B", "C"]
    registry.apply({**b, "status": "resolved"})
    assert [r["group"]["ward"] for r in registry.firing()] == ["C"]


def test_latest_per_alert_keeps_resolution() -> None:
    fired, resolved = alert(), alert("resolved")
    assert latest_per_alert([fired, resolved]) == [resolved]
    assert latest_per_alert([fired, resolved, fired]) == [resolved]
