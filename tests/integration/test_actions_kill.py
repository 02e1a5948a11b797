"""kill -9 of the production worker hosting the actions stage, on the real broker and a real
Alertmanager (the project's routing tree, every receiver a webhook on loopback): one worker killed
at random points, and two workers of one deployment where the active one is killed and the
standby takes over. Both end in a brute-force recount of the `actions` topic and of every
notification Alertmanager sent: one action per trigger, one change per command, one notification
per level (docs/actions.md, "Exactly once" and "Exactly one active instance").
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas import action as contract
from tests.conftest import AlertmanagerHandle, wait_for
from tests.integration._actions_support import (
    OWNERS,
    ActionsProcess,
    actions_log,
    command,
    complaint,
    fresh_topics,
    iso_now,
    latest,
    send,
    write_actions_file,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    return fresh_topics(kafka_bootstrap)


def test_kill_9_at_random_points_makes_no_second_action_and_no_repeated_notification(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, alertmanager: AlertmanagerHandle
) -> None:
    """Kill -9 while triggers and commands arrive and while actions escalate; then recount.

    Periods are longer than a restart, so no level should be skipped; but what is checked is
    exact either way: every level an action's history records was notified once, none twice.
    """
    rng = random.Random(11)
    rules = [
        {"id": "complaint-ack-kill", "on": "event", "when": {"source": ["complaint"]}, "title": "Ack",
         "due": "6 seconds", "remind_before": "3 seconds", "escalate_every": "8 seconds"},
    ]  # fmt: skip
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=write_actions_file(tmp_path / "a.yaml", rules, OWNERS),
        alertmanager_url=alertmanager.url,
        # Alertmanager holds a pushed alert for 4 resend intervals (40 s): a restart must be quicker
        # than that, or Alertmanager resolves it meanwhile and the re-push notifies again. On this
        # shared machine a restart has taken over 12 s; in production the interval is 60 s (4 min).
        resend_interval=10.0,
    ).start()
    ids: set[str] = set()
    acknowledged: set[str] = set()
    kills = 0
    try:
        # Deliver in slices, each slice once or twice, and kill the stage at a random moment after each.
        for start in range(0, 30, 5):
            chunk = [complaint(f"k-{i}", iso_now()) for i in range(start, start + 5)]
            ids |= {
                contract.action_id_for("complaint-ack-kill", "event", "QNB", e["event_id"]) for e in chunk
            }
            send(
                kafka_bootstrap, prefix + "feedback.tagged", [("R2B", e) for e in chunk] * rng.choice((1, 2))
            )
            time.sleep(rng.uniform(0.05, 1.0))  # a random point while the triggers are applied
            stage.kill9()
            kills += 1
            stage.start()
            # Acknowledge one of the slice once it exists (the API only changes actions it can read),
            # sending the command twice, as a retried request does; kill while it is applied.
            target = contract.action_id_for("complaint-ack-kill", "event", "QNB", chunk[0]["event_id"])
            wait_for(lambda t=target: t in latest(kafka_bootstrap, prefix + "actions"), 60, "the action")
            acknowledged.add(target)
            ack = command(target, "acknowledge", f"ack-{start}")
            send(kafka_bootstrap, prefix + "actions.commands", [(target, ack), (target, ack)])
            time.sleep(rng.uniform(0.0, 0.5))  # a random point, as above
            stage.kill9()
            kills += 1
            stage.start()
        # ... and while the actions remind, go overdue and escalate
        for _ in range(3):
            time.sleep(rng.uniform(1.0, 6.0))  # a random point, as above
            stage.kill9()
            kills += 1
            stage.start()

        def settled() -> dict[str, dict[str, Any]] | None:
            state = latest(kafka_bootstrap, prefix + "actions")
            done = len(state) == len(ids) and all(a["escalation_level"] == 2 for a in state.values())
            return state if done else None

        state = wait_for(settled, 120, "every action overdue at the end of its chain")
        assert set(state) == ids
        expected: set[tuple[str, str, str]] = set()
        for action_id, action in state.items():
            changes = Counter(h["change"] for h in action["history"])
            assert changes["create"] == 1 and changes["overdue"] == 1 and changes["remind"] <= 1, action[
                "history"
            ]
            assert changes["acknowledge"] == (1 if action_id in acknowledged else 0), action["history"]
            levels = [h["level"] for h in action["history"] if h["change"] in ("overdue", "escalate")]
            assert levels == sorted(set(levels)) and levels[-1] == 2, levels  # no level twice
            if changes["remind"]:
                expected.add((contract.DUE_ALERTNAME, action_id, "0"))
            expected |= {(contract.OVERDUE_ALERTNAME, action_id, str(n)) for n in levels}
        assert sum(a["status"] == "acknowledged" for a in state.values()) == len(acknowledged)

        def firing_per_level() -> Counter[tuple[str, str, str]]:
            seen: Counter[tuple[str, str, str]] = Counter()
            for request in alertmanager.webhook_requests:
                for alert in request.alerts:
                    if request.status == "firing" and alert["status"] == "firing":
                        labels = alert["labels"]
                        seen[(labels["alertname"], labels["action_id"], labels["escalation_level"])] += 1
            return seen

        def resolved_last_level() -> set[str]:
            return {
                alert["labels"]["action_id"]
                for request in alertmanager.webhook_requests
                for alert in request.alerts
                if alert["status"] == "resolved" and alert["labels"].get("escalation_level") == "2"
            }

        wait_for(lambda: set(firing_per_level()) >= expected, 60, "a notification for every action and level")
        # Stop pushing: Alertmanager lets the last level go at its endsAt and says so. By then every
        # repeat that could happen has happened (1 s group interval in the test routing).
        stage.stop()
        wait_for(lambda: resolved_last_level() >= ids, 90, "the last level resolved after the stage stopped")
        seen = firing_per_level()
        repeated = {key: count for key, count in seen.items() if count > 1}
        assert set(seen) == expected
        assert not repeated, (
            f"notifications repeated for a level after {kills} kills: {repeated}; "
            f"restarts took up to {max(stage.start_seconds):.1f} s"
        )
        levels_skipped = sum(
            3 - sum(1 for k in expected if k[1] == i and k[0] == contract.OVERDUE_ALERTNAME) for i in ids
        )
        records = len(actions_log(kafka_bootstrap, prefix + "actions"))
        print(
            f"\nkill -9 x{kills}: {len(ids)} actions, {records} records, {sum(seen.values())} firing "
            f"notifications, none repeated, {levels_skipped} levels skipped; restarts took "
            f"{min(stage.start_seconds):.1f}–{max(stage.start_seconds):.1f} s"
        )
    finally:
        stage.stop()
