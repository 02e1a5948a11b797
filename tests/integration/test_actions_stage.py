"""The actions stage against the real broker and a real Alertmanager (the project's routing tree,
every receiver a webhook on loopback that records what Alertmanager sent).

Deadlines are seconds here ("N seconds" exists for tests); the working-day arithmetic itself is
proven against hand-worked dates in tests/unit/test_actions_calendar.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas import action as contract
from tests.conftest import AlertmanagerHandle, wait_for
from tests.integration._actions_support import (
    OWNERS,
    REPO,
    SHORT_RULES,
    ActionsProcess,
    actions_log,
    command,
    complaint,
    fresh_topics,
    hotspot,
    iso_now,
    latest,
    send,
    write_actions_file,
)
from tests.support.kafka import committed, end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    return fresh_topics(kafka_bootstrap)


def test_a_complaint_and_a_hotspot_each_make_one_action_also_when_delivered_twice(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    rules = [
        {"id": "complaint-acknowledgement", "on": "event", "when": {"source": ["complaint"]},
         "title": "Acknowledge", "due": "3 working days", "escalate_every": "1 working day"},
        {"id": "hotspot-review", "on": "alert", "title": "Review", "due": "5 working days"},
    ]  # fmt: skip
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=write_actions_file(tmp_path / "a.yaml", rules, OWNERS),
    ).start()
    try:
        # Fri 18 Dec 2026 16:00: Mon 21, Tue 22, Wed 23 → the end of Wed 23 Dec
        event = complaint("c-1", "2026-12-18T16:00:00.000Z")
        send(kafka_bootstrap, prefix + "feedback.tagged", [("R2B", event), ("R2B", event)])
        send(
            kafka_bootstrap,
            prefix + "hotspots.alerts",
            [("al-1", hotspot("al-1")), ("al-1", hotspot("al-1"))],
        )

        def both() -> dict[str, dict[str, Any]] | None:
            state = latest(kafka_bootstrap, prefix + "actions")
            return state if len(state) == 2 else None

        state = wait_for(both, 30, "two actions")
        complaint_id = contract.action_id_for("complaint-acknowledgement", "event", "QNB", "c-1")
        review_id = contract.action_id_for("hotspot-review", "alert", "", "al-1")
        assert set(state) == {complaint_id, review_id}
        ack = state[complaint_id]
        assert (ack["owner"], ack["due_at"], ack["organisations"], ack["status"]) == (
            "icb-complaints-team", "2026-12-23T23:59:59.000Z", ["QNB"], "open",
        )  # fmt: skip
        review = state[review_id]
        assert review["owner"] == "r1a-ward-7" and review["trigger"] == {"alert_id": "al-1"}
        # the same trigger again, after a restart: still one record per action on the topic
        stage.stop()
        stage.start()
        send(kafka_bootstrap, prefix + "feedback.tagged", [("R2B", event)])
        send(
            kafka_bootstrap,
            prefix + "actions.commands",
            [(complaint_id, command(complaint_id, "acknowledge", "k-1"))],
        )
        wait_for(
            lambda: latest(kafka_bootstrap, prefix + "actions")[complaint_id]["status"] == "acknowledged",
            30,
            "ack",
        )
        records = Counter(a["action_id"] for a in actions_log(kafka_bootstrap, prefix + "actions"))
        assert records == {complaint_id: 2, review_id: 1}
        # the inputs are committed under the stage's group (a restart resumes after them)
        for topic in ("feedback.tagged", "hotspots.alerts", "actions.commands"):
            wait_for(
                lambda t=prefix + topic: (
                    committed(kafka_bootstrap, f"{prefix}worker.actions", t)
                    == end_offsets(kafka_bootstrap, t)
                ),
                30,
                f"{topic} committed to its end",
            )
    finally:
        stage.stop()


def test_overdue_escalates_in_alertmanager_and_resolves_when_completed(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, alertmanager: AlertmanagerHandle
) -> None:
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=write_actions_file(tmp_path / "a.yaml", SHORT_RULES, OWNERS),
        alertmanager_url=alertmanager.url,
    ).start()
    action_id = contract.action_id_for("complaint-ack-fast", "event", "QNB", "c-fast")
    try:
        send(kafka_bootstrap, prefix + "feedback.tagged", [("R2B", complaint("c-fast", iso_now()))])
        reminder = wait_for(
            lambda: alertmanager.alerts(alertname=contract.DUE_ALERTNAME, action_id=action_id),
            30,
            "the reminder",
        )
        assert reminder[0]["labels"]["severity"] == "info"
        overdue = wait_for(
            lambda: alertmanager.alerts(alertname=contract.OVERDUE_ALERTNAME, action_id=action_id),
            30,
            "overdue",
        )
        (level0,) = overdue
        assert {k: level0["labels"][k] for k in ("owner", "notify", "escalation_level", "organisations")} == {
            "owner": "icb-complaints-team", "notify": "icb-complaints-team",
            "escalation_level": "0", "organisations": "QNB",
        }  # fmt: skip
        assert level0["labels"]["severity"] == "warning" and level0["labels"]["rule"] == "complaint-ack-fast"
        assert level0["annotations"]["link"] == f"http://pxstream.test/actions/{action_id}"
        # the routing tree sends it to the owner's receiver
        alertmanager.wait_for_webhook(
            lambda r: r.receiver == "actions-icb-complaints-team" and r.status == "firing"
        )

        def level(n: str) -> list[dict[str, Any]]:
            active = alertmanager.alerts(alertname=contract.OVERDUE_ALERTNAME, action_id=action_id)
            return active if [a["labels"]["escalation_level"] for a in active] == [n] else []

        (level1,) = wait_for(lambda: level("1"), 30, "escalation to level 1 (and level 0 ended)")
        assert (level1["labels"]["owner"], level1["labels"]["notify"]) == (
            "icb-complaints-team",
            "icb-complaints-manager",
        )
        alertmanager.wait_for_webhook(lambda r: r.receiver == "actions-icb-managers" and r.status == "firing")
        # complete it with the command line (a command on actions.commands)
        done = subprocess.run(
            [sys.executable, "-m", "pxstream", "actions", "complete", action_id, "--outcome",
             "Rang the complainant on 07700 900123 and apologised", "--by", "j.bloggs", "--wait", "30"],
            cwd=REPO, capture_output=True, text=True, timeout=90, check=False,
            env={**stage.env, "PXSTREAM_TOPIC_PREFIX": prefix},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_for(
            lambda: not alertmanager.alerts(alertname=contract.OVERDUE_ALERTNAME, action_id=action_id),
            30,
            "the overdue alert resolved",
        )
        alertmanager.wait_for_webhook(
            lambda r: r.receiver == "actions-icb-managers" and r.status == "resolved"
        )
        final = latest(kafka_bootstrap, prefix + "actions")[action_id]
        assert final["status"] == "completed" and "07700 900123" not in final["outcome"]
        assert [h["change"] for h in final["history"]] == [
            "create",
            "remind",
            "overdue",
            "escalate",
            "complete",
        ]
    finally:
        stage.stop()


def test_nothing_is_lost_while_alertmanager_is_down(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    """The action goes overdue while Alertmanager is down; when it comes up, the alert is there."""
    from tests.support.hotspots import Alertmanager

    manager = Alertmanager(tmp_path / "am")  # its port is chosen, nothing listens on it yet
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=write_actions_file(tmp_path / "a.yaml", SHORT_RULES, OWNERS),
        alertmanager_url=manager.url,
    ).start()
    action_id = contract.action_id_for("complaint-ack-fast", "event", "QNB", "c-down")
    try:
        send(kafka_bootstrap, prefix + "feedback.tagged", [("R2B", complaint("c-down", iso_now()))])
        wait_for(
            lambda: latest(kafka_bootstrap, prefix + "actions").get(action_id, {}).get("overdue"),
            30,
            "overdue",
        )
        wait_for(lambda: "unreachable" in stage.log.read_text(), 30, "the pusher retrying")
        manager.start()

        def overdue_alert() -> list[dict[str, Any]]:
            return [
                a
                for a in manager.alerts()
                if a["labels"].get("action_id") == action_id
                and a["labels"]["alertname"] == contract.OVERDUE_ALERTNAME
                and a["status"]["state"] == "active"
            ]

        (alert,) = wait_for(overdue_alert, 60, "the overdue alert once Alertmanager is up")
        assert alert["labels"]["notify"] in ("icb-complaints-team", "icb-complaints-manager")
    finally:
        stage.stop()
        manager.stop()


def test_the_worker_refuses_a_bad_actions_file_in_one_line(tmp_path: Path) -> None:
    bad = write_actions_file(
        tmp_path / "a.yaml", [{"id": "x", "on": "event", "title": "T", "due": "soon"}], OWNERS
    )
    env = {**os.environ, "PXSTREAM_ACTIONS": str(bad), "PXSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run(
        [sys.executable, "-m", "pxstream", "worker", "--no-sink", "--no-hotspots"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[
        0
    ] == f"pxstream: error: {bad}: rule 'x': due: 'soon' is not a duration " + (
        "like '3 working days', '2 days', '4 hours', '30 minutes'"
    )


def test_the_worker_hosts_the_stage_from_raw_complaint_to_action(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    from infra.procs import free_port

    prefix = f"actw-{uuid.uuid4().hex[:8]}."
    env = {
        **os.environ,
        "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PXSTREAM_DATA_DIR": str(tmp_path / "data"),
        "PXSTREAM_TOPIC_PREFIX": prefix,
        "PXSTREAM_APP_ID": f"{prefix}worker",
        "PXSTREAM_ALERTMANAGER_URL": "",
        "PXSTREAM_ACTIONS": str(REPO / "infra" / "actions" / "actions.yaml"),
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "pxstream", "worker", "--no-sink", "--no-hotspots",
         f"--web-port={free_port()}"],
        cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(lambda: "actions stage:" in log.read_text(), 120, f"the actions stage started (log {log})")
        raw = {
            "event_id": "w-1", "source": "complaint", "organisation": "QNB", "provider": "R1A",
            "ward": "Ward 7 Acute Medicine", "occurred_at": "2026-12-02T10:00:00.000Z",
            "received_at": "2026-12-02T10:00:00.000Z", "text": "Nobody rang me back on 07700 900123",
        }  # fmt: skip
        send(kafka_bootstrap, prefix + "feedback.raw", [("R1A", raw)])
        action_id = contract.action_id_for("complaint-acknowledgement", "event", "QNB", "w-1")
        state = wait_for(
            lambda: latest(kafka_bootstrap, prefix + "actions").get(action_id),
            90,
            "the action from the worker",
        )
        # Wed 2 Dec 2026: Thu 3, Fri 4, Mon 7
        assert (state["due_at"], state["owner"]) == ("2026-12-07T23:59:59.000Z", "icb-complaints-team")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
