"""The follow-up actions' routes in infra/alertmanager/alertmanager.yml, as amtool reads them."""

from __future__ import annotations

import subprocess

import pytest

from infra.monitoring import ALERTMANAGER_CONFIG

OVERDUE = "alertname=PatientExperienceActionOverdue"
DUE = "alertname=PatientExperienceActionDue"


def route(*labels: str, receiver: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
         f"--verify.receivers={receiver}", *labels],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        # whoever is chased at the level gets it (label `notify`), whatever the organisations
        ([OVERDUE, "notify=icb-complaints-team", "owner=icb-complaints-team", "severity=warning"],
         "actions-icb-complaints-team"),
        ([DUE, "notify=icb-complaints-team", "severity=info"], "actions-icb-complaints-team"),
        ([OVERDUE, "notify=icb-patient-safety-team", "organisations=QKK,QWE"],
         "actions-icb-patient-safety-team"),
        ([OVERDUE, "notify=icb-quality-team", "escalation_level=0"], "actions-icb-quality-team"),
        # escalated: the manager in the chain
        ([OVERDUE, "owner=icb-complaints-team", "notify=icb-complaints-manager", "escalation_level=1"],
         "actions-icb-managers"),
        ([OVERDUE, "owner=icb-quality-team", "notify=icb-director-of-nursing", "escalation_level=2"],
         "actions-icb-managers"),
        # an owner without a route of their own: the actions mailbox; never a hotspot receiver
        ([OVERDUE, "notify=r1a-ward-7", "organisations=QKK"], "actions-unrouted"),
        ([DUE, "notify=icb-head-of-quality"], "actions-unrouted"),
    ],
)  # fmt: skip
def test_action_notifications_route_to_whoever_is_chased(labels: list[str], receiver: str) -> None:
    result = route(*labels, receiver=receiver)
    assert result.returncode == 0, f"{labels} -> {result.stdout.strip()} (expected {receiver})"
    assert result.stdout.strip() == receiver


def test_the_route_check_can_fail() -> None:
    assert (
        route(OVERDUE, "notify=icb-complaints-manager", receiver="actions-icb-complaints-team").returncode
        != 0
    )


def test_action_receivers_send_e_mail() -> None:
    import yaml

    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    receivers = [r for r in config["receivers"] if r["name"].startswith("actions-")]
    assert len(receivers) == 5
    for receiver in receivers:
        assert receiver["email_configs"][0]["to"].endswith("@example.invalid")
        assert receiver["email_configs"][0]["send_resolved"] is True
