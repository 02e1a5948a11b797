"""The actions stage's pure parts: notifications derived from the history, ticking on the engine's
schedule (and the stage's heap of due ticks), metrics, batch order, and standing by without
the inputs. The engine's own cases are in test_actions_engine.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas import action as contract
from schemas.feedback_event import format_timestamp
from streams.actions.notifications import alerts_for, segments
from tests.unit.test_actions_engine import ENGINE, at, command, complaint, created, walk


def test_notifications_follow_the_history_one_alert_per_level() -> None:
    action, _ = walk(
        created(complaint()),
        ["2026-12-23T00:00:01.000Z", "2026-12-24T00:00:00.000Z", "2026-12-25T00:00:00.000Z"],
    )
    kinds = [(s.kind, s.level, s.notify, s.ends_at is None) for s in segments(action)]
    assert kinds == [
        ("due", 0, "complaints", False),
        ("overdue", 0, "complaints", False),
        ("overdue", 1, "complaints-lead", True),
    ]
    now = at("2026-12-25T00:00:05.000Z").timestamp()
    pushed = alerts_for(action, now=now, keep_s=240, base_url="http://px.example")
    open_ = [a for a in pushed if a["endsAt"] > format_timestamp(at("2026-12-25T00:00:05.000Z"))]
    (current,) = open_
    assert current["labels"] == {
        "alertname": "PatientExperienceActionOverdue",
        "action_id": action["action_id"],
        "rule": "complaint-ack",
        "owner": "complaints",
        "notify": "complaints-lead",
        "organisations": "QNB",
        "provider": "R2B",
        "ward": "Oak Ward",
        "escalation_level": "1",
        "severity": "warning",
    }
    assert current["annotations"]["link"] == f"http://px.example/actions/{action['action_id']}"
    assert current["annotations"]["due_at"] == "2026-12-23T23:59:59.000Z"
    # level 0 ended at the escalation (within keep_s, so it is still pushed, as ended); the
    # reminder ended a day earlier, long gone from Alertmanager
    assert [a["labels"]["escalation_level"] for a in pushed] == ["0", "1"]
    done = ENGINE.on_command(
        command(action, "complete", outcome="done"), action, at("2026-12-25T00:00:10.000Z")
    ).action
    assert done is not None
    assert all(s.ends_at is not None for s in segments(done))
    later = alerts_for(done, now=at("2026-12-25T01:00:00.000Z").timestamp(), keep_s=240, base_url="")
    assert later == []


@pytest.mark.parametrize("offset_minutes", [0, 1, 59, 24 * 60])
def test_ticking_is_idempotent(offset_minutes: int) -> None:
    action = created(complaint())
    moment = at("2026-12-24T00:00:00.000Z") + timedelta(minutes=offset_minutes)
    once = ENGINE.tick(action, moment)
    assert once is not None and ENGINE.tick(once, moment) is None


def test_ticking_only_at_next_tick_at_changes_the_same_as_ticking_always() -> None:
    """The stage ticks an action only from `next_tick_at` on: that must miss nothing."""
    start = created(complaint())
    reassigned = ENGINE.on_command(
        command(start, "reassign", owner="r1a", at="2026-12-18T17:00:00.000Z"),
        start,
        at("2026-12-18T17:00:01.000Z"),
    ).action
    manual_id = contract.action_id_for("manual", "command", "QNB", "m-9")
    manual = ENGINE.on_command(
        {"command_id": "m-9", "action_id": manual_id, "change": "create", "by": "b",
         "at": "2026-12-18T16:00:00.000Z", "organisation": "QNB", "title": "Audit",
         "due_at": "2026-12-21T12:00:00.000Z"},
        None,
        at("2026-12-18T16:00:00.000Z"),
    ).action  # fmt: skip
    for first in (start, reassigned, manual):
        assert first is not None
        always, scheduled = first, first
        moment = at("2026-12-18T16:10:00.000Z")
        while moment < at("2027-01-20T00:00:00.000Z"):
            always = ENGINE.tick(always, moment) or always
            due = ENGINE.next_tick_at(scheduled)
            if due is not None and moment >= due:
                scheduled = ENGINE.tick(scheduled, moment) or scheduled
            moment += timedelta(minutes=10)
        assert scheduled["history"] == always["history"]
        assert ENGINE.next_tick_at(always) is None  # the end of the chain: only a command changes it
        assert len(always["history"]) > 2


def test_metrics_count_changes_and_totals_with_closed_labels() -> None:
    from streams.actions.metrics import action_metrics

    metrics = action_metrics()
    before = metrics.changes.labels(change="overdue")._value.get()
    overdue, _ = walk(created(complaint()), ["2026-12-24T00:00:00Z"])
    metrics.observe([overdue, {"history": [{"change": "made-up"}]}])
    assert metrics.changes.labels(change="overdue")._value.get() == before + 1
    metrics.totals({"a": overdue, "b": {**overdue, "status": "completed"}})
    assert (metrics.open._value.get(), metrics.overdue._value.get()) == (1, 1)


def test_a_command_in_the_same_batch_as_its_trigger_finds_its_action() -> None:
    """The stage's pure part applies triggers before commands, whatever order a fetch returned."""
    import orjson

    from streams.actions.agent import stage_topics
    from streams.actions.stage import ActionsStage

    stage = ActionsStage(bootstrap="", topics=stage_topics(), engine=ENGINE)
    action_id = contract.action_id_for("complaint-ack", "event", "QNB", "c-1")
    ack = command({"action_id": action_id}, "acknowledge", at="2026-12-18T16:30:00.000Z")
    changed = stage.process(
        [
            (stage.topics.commands, orjson.dumps(ack)),
            (stage.topics.tagged, orjson.dumps(complaint())),
            (stage.topics.tagged, b"not json"),
        ],
        at("2026-12-18T16:31:00.000Z"),
    )
    assert list(changed) == [action_id]
    assert [h["change"] for h in changed[action_id]["history"]] == ["create", "acknowledge"]
    assert stage.state == {}  # taken only once Kafka has it


def unit_stage() -> Any:
    from streams.actions.agent import stage_topics
    from streams.actions.notifications import ActionNotifier
    from streams.actions.stage import ActionsStage
    from streams.hotspots.alertmanager import PusherConfig

    notifier = ActionNotifier(PusherConfig("http://127.0.0.1:1"), base_url="http://x", secret=None)
    return ActionsStage(bootstrap="", topics=stage_topics(), engine=ENGINE, notifier=notifier)


def test_due_ticks_come_from_the_heap_at_the_engines_time_and_stale_entries_are_skipped() -> None:
    stage = unit_stage()
    action = created(complaint())  # due the end of Wed 23 Dec; escalates a working day later
    stage.state[action["action_id"]] = action
    stage._schedule(action["action_id"], action)
    first = ENGINE.next_tick_at(action)
    assert first is not None
    assert stage.due_ticks(first - timedelta(seconds=1)) == {}  # not yet: nothing ticks
    stage._schedule(action["action_id"], action)  # rescheduled: the older heap entry is stale
    changed = stage.due_ticks(first)
    assert list(changed) == [action["action_id"]]
    assert changed[action["action_id"]] == ENGINE.tick(action, first)
    assert stage.due_ticks(first) == {}  # popped: no second tick from the stale entry


def test_a_member_without_the_inputs_stands_by_and_one_that_loses_them_forgets_everything() -> None:
    stage = unit_stage()
    stage.on_assigned([])
    assert not stage.flush_due(1e12)  # standing by: no batch, no tick, no notification
    stage.on_assigned(["tp"])
    assert stage.flush_due(0.0)  # the state is rebuilt before anything else
    action = created(complaint())
    stage.state[action["action_id"]] = action
    stage._schedule(action["action_id"], action)
    stage.active = True
    stage.notifier.track([action])
    stage.on_revoked(["tp"])
    assert (stage.active, stage.state, stage.next_tick, stage.notifier.live) == (False, {}, {}, 0)
    assert not stage.flush_due(1e12)


def test_ticks_not_written_are_due_again_at_the_next_attempt() -> None:
    import asyncio

    from runtime.exceptions import BackpressureError

    stage = unit_stage()
    stage.on_assigned(["tp"])
    stage._rebuild = False
    stage.active = True
    action = created(complaint())
    stage.state[action["action_id"]] = action
    stage._schedule(action["action_id"], action)
    due = ENGINE.next_tick_at(action)
    assert due is not None
    stage.clock = lambda: due

    class Down:
        async def send(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError("Kafka is away")

    stage.producer = Down()
    with pytest.raises(BackpressureError):
        asyncio.run(stage.flush())
    assert stage.state[action["action_id"]] is action  # nothing taken
    assert list(stage.due_ticks(due)) == [action["action_id"]]  # and still due
