"""A hotspot alert, posted the way the worker posts it, reaches the right people via a real Alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import AlertmanagerHandle, wait_for

pytestmark = pytest.mark.integration


def hotspot(organisation: str, severity: str, *, ward: str = "Ward 7") -> dict:  # type: ignore[type-arg]
    """An alert shaped as docs/contracts.md "Alert v1" says Alertmanager receives it."""
    alert = {
        "labels": {
            "alertname": "PatientExperienceHotspot",
            "rule": "ward-incidents-24h",
            "severity": severity,
            "organisation": organisation,
            "provider": "RJ1",
            "ward": ward,
        },
        "annotations": {
            "summary": f"5 incidents on {ward} in 24 h",
            "description": "Five or more incidents on one ward within 24 hours",
            "dashboard": "http://grafana.local/d/pxstream-ward",
        },
        "startsAt": datetime.now(UTC).isoformat(),
    }
    return alert


def test_critical_hotspot_reaches_the_organisations_patient_safety_receiver(
    alertmanager: AlertmanagerHandle,
) -> None:
    alertmanager.post_alerts([hotspot("QKK", "critical")])

    note = alertmanager.wait_for_webhook(lambda r: r.receiver == "qkk-patient-safety")
    assert note.status == "firing"
    [alert] = note.alerts
    assert alert["labels"]["ward"] == "Ward 7"
    assert alert["annotations"]["dashboard"] == "http://grafana.local/d/pxstream-ward"
    listed = alertmanager.alerts(organisation="QKK", alertname="PatientExperienceHotspot")
    assert [a["labels"]["severity"] for a in listed] == ["critical"]
    assert alertmanager.received_by("qkk-quality") == []


def test_resolving_an_alert_sends_a_resolved_notification(alertmanager: AlertmanagerHandle) -> None:
    alert = hotspot("QWE", "warning", ward="A&E")
    alertmanager.post_alerts([alert])
    alertmanager.wait_for_webhook(lambda r: r.receiver == "qwe-quality" and r.status == "firing")

    # A resolution ends now, as the worker's does. Never earlier than startsAt: with group_wait 0s
    # the firing notification can arrive within milliseconds, and Alertmanager refuses (400) an
    # alert that ends before it starts.
    alert["endsAt"] = max(alert["startsAt"], datetime.now(UTC).isoformat(), key=datetime.fromisoformat)
    alertmanager.post_alerts([alert])

    resolved = alertmanager.wait_for_webhook(lambda r: r.receiver == "qwe-quality" and r.status == "resolved")
    assert resolved.alerts[0]["labels"]["ward"] == "A&E"
    wait_for(lambda: alertmanager.alerts(organisation="QWE") == [], 10, "the alert to leave the active list")


def test_organisations_do_not_see_each_others_alerts(alertmanager: AlertmanagerHandle) -> None:
    alertmanager.post_alerts([hotspot("QKK", "warning"), hotspot("QWE", "warning", ward="Ward 9")])

    wait_for(
        lambda: alertmanager.received_by("qkk-quality") and alertmanager.received_by("qwe-quality"),
        15,
        "both organisations' notifications",
    )
    qkk_wards = {a["labels"]["ward"] for r in alertmanager.received_by("qkk-quality") for a in r.alerts}
    qwe_orgs = {
        a["labels"]["organisation"] for r in alertmanager.received_by("qwe-quality") for a in r.alerts
    }
    assert qkk_wards == {"Ward 7"}
    assert qwe_orgs == {"QWE"}


def test_an_episode_shared_by_two_organisations_reaches_both_and_grows_without_a_new_alert(
    alertmanager: AlertmanagerHandle,
) -> None:
    """What the worker posts (streams.hotspots.alertmanager) for a provider-and-ward episode: one
    alert per organisation whose events counted. When a second organisation's events count later,
    the first one's alert stays the same alert; the resolution ends both."""
    import time

    from streams.hotspots.alertmanager import PusherConfig, alertmanager_alerts
    from streams.hotspots.alerts import build_alert

    def episode(status: str, organisations: list[str]) -> dict:  # type: ignore[type-arg]
        return build_alert(
            rule_id="ward-incidents-24h", status=status, group={"provider": "RJ1", "ward": "Ward 7"},
            window_start=0, window_end=86400, count=6, threshold=5, severity="warning",
            description="Five or more incidents on one ward within 24 hours", fired_at=time.time() - 60,
            resolved_at=time.time() if status == "resolved" else None, sample_event_ids=["e1"],
            organisations=organisations,
        )  # fmt: skip

    config = PusherConfig(alertmanager.url)
    alertmanager.post_alerts(alertmanager_alerts(episode("firing", ["QKK"]), config, time.time()))
    alertmanager.wait_for_webhook(lambda r: r.receiver == "qkk-quality" and r.status == "firing")

    alertmanager.post_alerts(alertmanager_alerts(episode("firing", ["QKK", "QWE"]), config, time.time()))
    note = alertmanager.wait_for_webhook(lambda r: r.receiver == "qwe-quality" and r.status == "firing")
    assert [a["labels"]["organisation"] for a in note.alerts] == ["QWE"]
    assert note.alerts[0]["annotations"]["organisations"] == "QKK,QWE"
    qkk = alertmanager.alerts(alertname="PatientExperienceHotspot", organisation="QKK")
    assert len(qkk) == 1 and "organisations" not in qkk[0]["labels"]  # the same alert, not a second one

    alertmanager.post_alerts(alertmanager_alerts(episode("resolved", ["QKK", "QWE"]), config, time.time()))
    for receiver in ("qkk-quality", "qwe-quality"):
        alertmanager.wait_for_webhook(lambda r, want=receiver: r.receiver == want and r.status == "resolved")
    wait_for(
        lambda: alertmanager.alerts(alertname="PatientExperienceHotspot") == [],
        10,
        "the episode's alerts to leave the active list",
    )
