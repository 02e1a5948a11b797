"""A hotspot alert, posted the way the worker posts it, reaches the right people via a real Alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import AlertmanagerHandle, wait_for

pytestmark = pytest.mark.integration


def hotspot(organisation: str, severity: str, *, ward: str = "Ward 7") -> dict:  # type: ignore[type-arg]
    """An alert shaped as CONTRACTS.md "Alert v1" says Alertmanager receives it."""
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
