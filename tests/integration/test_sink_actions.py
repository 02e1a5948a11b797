"""Action v1 versions from the real broker into the real ClickHouse engine: `action_history` keeps
every version once, `actions` the latest state, whatever is delivered twice or out of order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.settings import Settings
from sinks.client import connect
from sinks.runner import run_sink
from tests.integration._action_records import NOW, action, iso
from tests.support.kafka import committed
from tests.support.sink import SinkThread, produce

pytestmark = pytest.mark.integration


def history(*entries: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"at": iso(NOW), "by": by, "change": change, "note": note} for change, by, note in entries]


CREATED = ("create", "pxstream", "3 working days from received_at")
V1 = action("a1", ["QWO"], history=history(CREATED))
V2 = action(
    "a1", ["QWO"], version=2, status="acknowledged", history=history(CREATED, ("acknowledge", "matron", ""))
)
V3 = action(
    "a1",
    ["QWO"],
    version=3,
    status="completed",
    completed_at=iso(NOW + timedelta(hours=5)),
    outcome="Apologised; [NAME] offered a meeting",
    history=history(CREATED, ("acknowledge", "matron", ""), ("complete", "matron", "letter sent")),
)
REVIEW = action(
    "a2",
    ["QWO", "QM7"],
    rule_id="hotspot-review",
    trigger={"alert_id": "alert-9"},
    source="",
    domains=["safe"],
)
NOBODYS = action("a3", [])  # no organisation: stored for the operators, no tenant sees it


def committed_or_none(bootstrap: str, group: str, topic: str) -> int | None:
    """The group's committed offsets; None while a fresh broker is still electing the coordinator."""
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    try:
        return committed(bootstrap, group, topic)
    except GroupCoordinatorNotAvailableError:
        return None


def run_sink_until_committed(
    kafka_bootstrap: str, url: str, topics: dict[str, str], group: str, wait_for
) -> None:
    settings = Settings.from_env(
        {"PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_CLICKHOUSE_URL": url}
    )

    def run(stop):
        return run_sink(settings, stop=stop, group_id=group, **topics)

    with SinkThread(run):
        wait_for(
            lambda: committed_or_none(kafka_bootstrap, group, topics["actions_topic"]) == 7,
            60,
            "7 records committed",
        )


def test_every_version_once_and_the_latest_state(kafka_bootstrap, new_topic, wait_for, tmp_path) -> None:
    topics = {
        "tagged_topic": new_topic(prefix="sink-a-tagged"),
        "alerts_topic": new_topic(prefix="sink-a-alerts"),
        "actions_topic": new_topic(prefix="sink-actions"),
    }
    # The stage after a restart: REVIEW written twice, V2 again after V3 (an older state, later offset).
    produce(kafka_bootstrap, topics["actions_topic"], [V1, V2, REVIEW, V3, REVIEW, V2, NOBODYS], "action_id")
    url = f"chdb://{tmp_path / 'ch'}"
    run_sink_until_committed(kafka_bootstrap, url, topics, "sink-actions-1", wait_for)
    # Every record read again by a second group: a full replay must not double anything.
    run_sink_until_committed(kafka_bootstrap, url, topics, "sink-actions-2", wait_for)

    client = connect(url)
    try:
        latest = client.query(
            "SELECT action_id, version, status, outcome, organisations, trigger_kind, trigger_alert_id,"
            " last_change FROM actions FINAL ORDER BY action_id"
        ).result_rows
        assert latest == [
            ("a1", 3, "completed", "Apologised; [NAME] offered a meeting", ["QWO"], "event", "", "complete"),
            ("a2", 1, "open", "", ["QWO", "QM7"], "alert", "alert-9", "create"),
            ("a3", 1, "open", "", [], "event", "", "create"),
        ]
        versions = client.query(
            "SELECT action_id, version, change, changed_by, note FROM action_history FINAL"
            " ORDER BY action_id, version"
        ).result_rows
        assert versions == [
            ("a1", 1, "create", "pxstream", "3 working days from received_at"),
            ("a1", 2, "acknowledge", "matron", ""),
            ("a1", 3, "complete", "matron", "letter sent"),
            ("a2", 1, "create", "pxstream", ""),
            ("a3", 1, "create", "pxstream", ""),
        ]
        [[completed_at, due_at]] = client.query(
            "SELECT completed_at, due_at FROM actions FINAL WHERE action_id = 'a1'"
        ).result_rows
        assert completed_at.isoformat()[:19] == (NOW + timedelta(hours=5)).isoformat()[:19]
        assert due_at > completed_at
        # Stored once although both groups read it (nothing lost, nothing doubled).
        stored = client.query("SELECT count() FROM action_history FINAL WHERE action_id = 'a3'")
        assert stored.result_rows == [(1,)]
    finally:
        client.close()
