"""The actions API with the real actions stage behind it (a subprocess on the real broker).

What no stand-in can show: the 201 carries the stage's own record (owner from the directory, the
stage's deadline), a retried change is applied once, and an outcome with personal data comes back
redacted by the stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.ingest.server import IngestConfig
from connectors.ingest.tokens import TokenStore
from infra.broker import delete_topics
from pxstream.web.actions_api import ActionsApiConfig
from pxstream.web.app import create_app
from pxstream.web.due import due_clock_from_settings
from schemas import action as contract
from schemas.settings import Settings
from schemas.topics import TOPICS
from tests.conftest import AlertmanagerHandle, wait_for
from tests.integration._actions_api_support import QM7, ActionsServer
from tests.integration._actions_support import (
    OWNERS,
    SHORT_RULES,
    ActionsProcess,
    complaint,
    fresh_topics,
    iso_now,
    send,
    write_actions_file,
)
from tests.integration.test_ingest_http import RunningServer, write_tokens

pytestmark = pytest.mark.integration
ACTIONS_FILE = Path(__file__).resolve().parents[2] / "infra/actions/actions.yaml"
PHONE = "07700 900123"


@pytest.fixture
def with_stage(kafka_bootstrap: str, tmp_path: Path) -> Iterator[ActionsServer]:
    prefix = fresh_topics(kafka_bootstrap)
    stage = ActionsProcess(
        tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, actions_file=ACTIONS_FILE
    ).start()
    try:
        config = ActionsApiConfig(
            bootstrap=kafka_bootstrap,
            actions_topic=prefix + "actions",
            commands_topic=prefix + "actions.commands",
            create_wait_s=30,
        )
        app = create_app(
            IngestConfig(
                bootstrap=kafka_bootstrap, topic=prefix + "feedback.raw", rate_per_s=1000, burst=1000
            ),
            TokenStore.load(write_tokens(tmp_path)),
            # the stage's file
            due_clock=due_clock_from_settings(Settings.from_env({"PXSTREAM_ACTIONS": str(ACTIONS_FILE)})),
            actions=config,
        )
        with RunningServer(app) as running:
            yield ActionsServer(running.url, kafka_bootstrap, config.actions_topic, config.commands_topic)
    finally:
        stage.stop()
        delete_topics(kafka_bootstrap, [prefix + spec.name for spec in TOPICS])


def test_create_change_and_retry_through_the_real_stage(with_stage: ActionsServer) -> None:
    server = with_stage
    wait_for(lambda: server.get("/v1/actions").status_code == 200, 30, "the view")
    body = {"title": "Review call-bell response times on Ward 7", "due": "5 working days", "ward": "Ward 7"}
    made = server.post("/v1/actions", body)
    assert made.status_code == 201, made.text
    action = made.json()
    assert (action["rule_id"], action["status"], action["version"]) == ("manual", "open", 1)
    assert action["owner"] == "icb-quality-team"  # the directory's fallback: the stage decided
    assert action["organisations"] == ["QWO"] and action["trigger"]["command_id"]
    path = f"/v1/actions/{action['action_id']}"

    assert server.post(f"{path}/changes", {"change": "acknowledge", "by": "quality-lead"}).status_code == 202
    wait_for(lambda: server.get(path).json()["status"] == "acknowledged", 30, "the acknowledgement")
    complete = {
        "change": "complete",
        "by": "quality-lead",
        "outcome": f"Bells answered in 2 minutes; call {PHONE}",
    }
    assert server.post(f"{path}/changes", complete).status_code == 202
    assert server.post(f"{path}/changes", complete).status_code == 202  # a retry, before the stage applied it
    done = wait_for(
        lambda: (a := server.get(path).json())["status"] == "completed" and a, 30, "the completion"
    )
    assert PHONE not in done["outcome"] and done["outcome"].startswith("Bells answered in 2 minutes")
    assert [entry["change"] for entry in done["history"]] == ["create", "acknowledge", "complete"]
    sent = len(server.commands())
    late_retry = server.post(f"{path}/changes", complete)  # the stage applied it: found in the history
    assert (late_retry.status_code, len(server.commands())) == (202, sent)  # answered, nothing sent again
    assert server.post(f"{path}/changes", {**complete, "outcome": "other"}).status_code == 409  # a new change

    again = server.post("/v1/actions", body)  # the create retried: the same action, in its current state
    assert again.status_code == 201 and again.json()["action_id"] == action["action_id"]
    assert again.json()["status"] == "completed"
    assert server.get(path, QM7).status_code == 404
    assert server.post(f"{path}/changes", {"change": "reopen", "by": "x"}, QM7).status_code == 404


def test_an_overdue_alert_resolves_when_the_action_is_completed_through_the_api(
    kafka_bootstrap: str, tmp_path: Path, alertmanager: AlertmanagerHandle
) -> None:
    """The issue's acceptance: deadline passes → overdue alert in Alertmanager → completed through
    the API → the alert ends, and the owner's receiver hears that it resolved."""
    prefix = fresh_topics(kafka_bootstrap)
    rules = write_actions_file(tmp_path / "fast.yaml", SHORT_RULES, OWNERS)
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=rules,
        alertmanager_url=alertmanager.url,
    ).start()
    action_id = contract.action_id_for("complaint-ack-fast", "event", "QWO", "c-api")
    try:
        app = create_app(
            IngestConfig(bootstrap=kafka_bootstrap, topic=f"{prefix}feedback.raw"),
            TokenStore.load(write_tokens(tmp_path)),
            due_clock=due_clock_from_settings(Settings.from_env({"PXSTREAM_ACTIONS": str(rules)})),
            actions=ActionsApiConfig(kafka_bootstrap, f"{prefix}actions", f"{prefix}actions.commands"),
        )
        with RunningServer(app) as running:
            server = ActionsServer(
                running.url, kafka_bootstrap, f"{prefix}actions", f"{prefix}actions.commands"
            )
            send(kafka_bootstrap, f"{prefix}feedback.tagged", [("R2B", complaint("c-api", iso_now(), "QWO"))])
            wait_for(
                lambda: alertmanager.alerts(alertname=contract.OVERDUE_ALERTNAME, action_id=action_id),
                60,
                "the overdue alert",
            )
            assert server.get(f"/v1/actions/{action_id}").json()["overdue"] is True
            assert (
                server.post(
                    f"/v1/actions/{action_id}/changes", {"change": "complete", "by": "x", "outcome": "y"}, QM7
                ).status_code
                == 404
            )
            outcome = {"change": "complete", "by": "complaints-lead", "outcome": "Acknowledged by phone"}
            assert server.post(f"/v1/actions/{action_id}/changes", outcome).status_code == 202
            wait_for(
                lambda: not alertmanager.alerts(alertname=contract.OVERDUE_ALERTNAME, action_id=action_id),
                60,
                "the overdue alert to end",
            )
            alertmanager.wait_for_webhook(
                lambda r: r.status == "resolved" and r.receiver.startswith("actions-")
            )
            done = server.get(f"/v1/actions/{action_id}").json()
            assert (done["status"], done["overdue"], done["history"][-1]["change"]) == (
                "completed",
                False,
                "complete",
            )
    finally:
        stage.stop()
        delete_topics(kafka_bootstrap, [prefix + spec.name for spec in TOPICS])
