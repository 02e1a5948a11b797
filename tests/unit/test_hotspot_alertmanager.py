"""Alert v1 → Alertmanager mapping, backoff, and the bounded registry of firing alerts."""

from __future__ import annotations

from schemas.alert import ALERT_FIELDS
from schemas.settings import Settings
from streams.hotspots.alertmanager import (
    ALERTNAME,
    FiringRegistry,
    PusherConfig,
    alertmanager_alerts,
    latest_per_alert,
)
from streams.hotspots.alerts import alert_id, build_alert
from streams.hotspots.windows import iso_z

T0 = 1_780_000_200
CONFIG = PusherConfig.from_settings(
    Settings.from_env(
        {
            "PXSTREAM_ALERTMANAGER_URL": "http://127.0.0.1:9093/",
            "PXSTREAM_GRAFANA_URL": "https://grafana.nhs.example/",
        }
    )
)


def alert(
    status: str = "firing", group: dict[str, str] | None = None, organisations: tuple[str, ...] = ()
) -> dict:
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
        organisations=organisations,
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
    (posted,) = alertmanager_alerts(alert(), CONFIG, now=T0 + 200)
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
    (posted,) = alertmanager_alerts(alert("resolved"), CONFIG, now=T0 + 999_999)
    assert posted["endsAt"] == iso_z(T0 + 90000)


def test_resolution_stamped_before_its_firing_ends_at_its_start() -> None:
    """A resolution from a worker whose clock is behind the one that fired (partition moved)."""
    skewed = {**alert("resolved"), "resolved_at": iso_z(T0 + 99.75)}
    (posted,) = alertmanager_alerts(skewed, CONFIG, now=T0 + 99.75)
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


def test_one_alert_per_organisation_each_routable_by_its_own_label() -> None:
    """A rule grouped by provider and ward still reaches every commissioner whose events counted."""
    posted = alertmanager_alerts(alert(organisations=("QWE", "QKK")), CONFIG, now=T0 + 200)
    assert [p["labels"]["organisation"] for p in posted] == ["QKK", "QWE"]
    for p in posted:
        assert {k: v for k, v in p["labels"].items() if k != "organisation"} == {
            "alertname": ALERTNAME,
            "rule": "ward-incidents-24h",
            "severity": "warning",
            "provider": "RXX",
            "ward": "Ward 7",
        }
        assert p["annotations"]["organisations"] == "QKK,QWE"
        assert f"var-organisation={p['labels']['organisation']}" in p["annotations"]["dashboard"]


def test_a_growing_episode_keeps_each_organisations_alert_identity() -> None:
    """Alertmanager identifies an alert by its labels: the first organisation's alert must be the
    same alert after a second organisation joins (not re-notified, not left to expire), and the
    resolution must end every one of them."""
    first = alertmanager_alerts(alert(organisations=("QKK",)), CONFIG, now=T0 + 200)
    grown = alertmanager_alerts(alert(organisations=("QKK", "QWE")), CONFIG, now=T0 + 300)
    resolved = alertmanager_alerts(alert("resolved", organisations=("QKK", "QWE")), CONFIG, now=T0 + 9e5)
    assert first[0]["labels"] == grown[0]["labels"]
    assert [p["labels"] for p in resolved] == [p["labels"] for p in grown]
    assert all(p["endsAt"] == iso_z(T0 + 90000) for p in resolved)


def test_group_organisation_is_one_of_the_organisations() -> None:
    """A rule grouped by organisation: one alert, the group label and the routing label agree,
    even from a producer that sent no list."""
    record = alert(group={"organisation": "QKK", "provider": "RXX"})
    del record["organisations"]
    (posted,) = alertmanager_alerts(record, CONFIG, now=T0 + 200)
    assert posted["labels"]["organisation"] == "QKK"
    assert posted["annotations"]["organisations"] == "QKK"


def test_an_episode_of_no_organisation_is_one_alert_without_the_label() -> None:
    (posted,) = alertmanager_alerts(alert(), CONFIG, now=T0 + 200)
    assert "organisation" not in posted["labels"] and "organisations" not in posted["annotations"]
