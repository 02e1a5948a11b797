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
    ACTIVE,
    OWNERS,
    STANDBY,
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
from tests.support.kafka import failover_session_timeout

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    return fresh_topics(kafka_bootstrap)


RULES = [
    {"id": "complaint-ack-kill", "on": "event", "when": {"source": ["complaint"]}, "title": "Ack",
     "due": "6 seconds", "remind_before": "3 seconds", "escalate_every": "8 seconds"},
]  # fmt: skip


def recount(
    kafka_bootstrap: str,
    prefix: str,
    alertmanager: AlertmanagerHandle,
    ids: set[str],
    acknowledged: set[str],
    workers: list[ActionsProcess],
) -> str:
    """Wait until every action is overdue at the end of its chain, stop the workers, then recount
    the `actions` topic and every notification Alertmanager sent: exact, whatever was skipped."""

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
    for worker in workers:
        worker.stop()
    wait_for(lambda: resolved_last_level() >= ids, 90, "the last level resolved after the stage stopped")
    seen = firing_per_level()
    repeated = {key: count for key, count in seen.items() if count > 1}
    assert set(seen) == expected
    assert not repeated, f"notifications repeated for a level: {repeated}"
    levels_skipped = sum(
        3 - sum(1 for k in expected if k[1] == i and k[0] == contract.OVERDUE_ALERTNAME) for i in ids
    )
    records = len(actions_log(kafka_bootstrap, prefix + "actions"))
    return (
        f"{len(ids)} actions, {records} records, {sum(seen.values())} firing notifications, "
        f"none repeated, {levels_skipped} levels skipped"
    )


def test_kill_9_at_random_points_makes_no_second_action_and_no_repeated_notification(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, alertmanager: AlertmanagerHandle
) -> None:
    """Kill -9 while triggers and commands arrive and while actions escalate; then recount.

    Periods are longer than a restart, so no level should be skipped; but what is checked is
    exact either way: every level an action's history records was notified once, none twice.

    Three slices cover every kind of point: a slice delivered once and one delivered twice, each
    killed while its triggers are applied and again while its acknowledgement (sent twice) is, then
    three kills while the actions remind, go overdue and escalate: nine kills. (Six slices made
    fifteen kills; the last three slices repeated a slice delivered once, killed at the same kinds
    of point, and cost a restart each.)
    """
    rng = random.Random(11)
    rules = RULES
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=write_actions_file(tmp_path / "a.yaml", rules, OWNERS),
        alertmanager_url=alertmanager.url,
        # Alertmanager holds a pushed alert for 4 resend intervals (24 s): a restart must be quicker
        # than that, or Alertmanager resolves it meanwhile and the re-push notifies again. With the
        # tests' 3 s session timeout a restart takes about 4 s, and under 10 s on a busy 2-core
        # machine (docs/test-speed.md); in production the interval is 60 s (4 min). The recount
        # waits out the last 24 s, until Alertmanager resolves the last level.
        resend_interval=6.0,
    ).start()
    ids: set[str] = set()
    acknowledged: set[str] = set()
    kills = 0
    try:
        # Deliver in slices, each slice once or twice, and kill the stage at a random moment after each.
        for start in range(0, 15, 5):
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

        summary = recount(kafka_bootstrap, prefix, alertmanager, ids, acknowledged, [stage])
        print(
            f"\nkill -9 x{kills}: {summary}; restarts took "
            f"{min(stage.start_seconds):.1f}–{max(stage.start_seconds):.1f} s"
        )
    finally:
        stage.stop()


def test_two_workers_one_active_the_standby_takes_over_after_kill_9(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, alertmanager: AlertmanagerHandle
) -> None:
    """Two production workers of one deployment (same app id and prefix): one is active, the other
    stands by making nothing; kill -9 the active one at random points — while triggers arrive,
    while commands are applied, while actions escalate — and the standby takes over within the
    session timeout. Recount: one action per trigger, one change per command, one notification
    per level, however many workers ran."""
    rng = random.Random(23)
    session_timeout = failover_session_timeout(kafka_bootstrap)
    rules = write_actions_file(tmp_path / "a.yaml", RULES, OWNERS)

    def worker(label: str) -> ActionsProcess:
        return ActionsProcess(
            tmp_path,
            bootstrap=kafka_bootstrap,
            prefix=prefix,
            actions_file=rules,
            alertmanager_url=alertmanager.url,
            resend_interval=6.0,  # a takeover must be quicker than 4 of these (see the test above)
            session_timeout=session_timeout,
            label=label,
        )

    active, standby = worker("a").start(ACTIVE), worker("b").start(STANDBY)
    ids: set[str] = set()
    acknowledged: set[str] = set()
    takeovers: list[float] = []

    def deliver(start: int) -> str:
        """Five complaints, the slice once or twice; the action id of the first."""
        chunk = [complaint(f"two-{i}", iso_now()) for i in range(start, start + 5)]
        ids.update(contract.action_id_for("complaint-ack-kill", "event", "QNB", e["event_id"]) for e in chunk)
        records = [("R2B", e) for e in chunk] * rng.choice((1, 2))
        send(kafka_bootstrap, prefix + "feedback.tagged", records)
        return contract.action_id_for("complaint-ack-kill", "event", "QNB", chunk[0]["event_id"])

    def acknowledge(target: str, command_id: str) -> None:
        wait_for(lambda: target in latest(kafka_bootstrap, prefix + "actions"), 90, "the action")
        acknowledged.add(target)
        ack = command(target, "acknowledge", command_id)
        send(kafka_bootstrap, prefix + "actions.commands", [(target, ack), (target, ack)])

    def kill_the_active_one() -> None:
        nonlocal active, standby
        assert ACTIVE not in standby.this_run(), "the standby was active while the other one was"
        active.kill9()
        killed = time.monotonic()
        standby.wait_until(ACTIVE, 120)
        takeovers.append(time.monotonic() - killed)
        active, standby = standby, active
        standby.start(STANDBY)  # the killed worker comes back, and stands by

    try:
        # while both run: exactly one makes actions
        first = deliver(0)
        acknowledge(first, "two-ack-0")
        wait_for(
            lambda: (
                latest(kafka_bootstrap, prefix + "actions").get(first, {}).get("status") == "acknowledged"
            ),
            60,
            "the acknowledgement",
        )
        assert ACTIVE not in standby.this_run()
        # kill -9 the active one while triggers arrive ...
        second = deliver(5)
        time.sleep(rng.uniform(0.05, 1.0))  # a random point while the triggers are applied
        kill_the_active_one()
        # ... while commands are applied ...
        acknowledge(second, "two-ack-5")
        time.sleep(rng.uniform(0.0, 0.5))  # a random point, as above
        kill_the_active_one()
        deliver(10)
        # ... and while the actions remind, go overdue and escalate
        time.sleep(rng.uniform(1.0, 6.0))  # a random point, as above
        kill_the_active_one()
        summary = recount(kafka_bootstrap, prefix, alertmanager, ids, acknowledged, [standby, active])
        print(
            f"\ntwo workers, {len(takeovers)} kill -9 of the active one: {summary}; the standby took over "
            f"in {min(takeovers):.1f}–{max(takeovers):.1f} s (session timeout {session_timeout:.0f} s)"
        )
        # Dead members are noticed after the session timeout; the rest is a rebalance and the rebuild.
        assert max(takeovers) < session_timeout + 30, takeovers
    finally:
        active.stop()
        standby.stop()
