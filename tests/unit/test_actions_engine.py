"""The follow-up engine, walked through weeks of clock in microseconds (no Kafka, no wall clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import action as contract
from streams.actions.config import parse_actions
from streams.actions.engine import ActionEngine

CONFIG = parse_actions(
    {
        "calendar": {"holidays": "england-and-wales"},
        "owners": [
            {"match": {}, "owner": "icb-quality", "escalate_to": ["icb-head"]},
            {
                "match": {"source": "complaint"},
                "owner": "complaints",
                "escalate_to": ["complaints-lead", "icb-head"],
            },
            {
                "match": {"provider": "R1A", "ward": "Ward 7"},
                "owner": "ward-7",
                "escalate_to": ["matron", "director"],
            },
            {"match": {"provider": "R1A"}, "owner": "r1a", "escalate_to": ["r1a-lead"]},
        ],
        "rules": [
            {
                "id": "complaint-ack",
                "on": "event",
                "when": {"source": ["complaint"]},
                "title": "Acknowledge",
                "due": "3 working days",
                "remind_before": "1 working day",
                "escalate_every": "1 working day",
            },
            {
                "id": "candour",
                "on": "event",
                "when": {"source": ["incident"], "severity": ["severe", "death"]},
                "title": "Duty of candour",
                "due": "10 working days",
            },
            {
                "id": "review",
                "on": "alert",
                "title": "Review",
                "due": "5 working days",
                "escalate_every": "2 days",
            },
        ],
    }
)
ENGINE = ActionEngine(CONFIG)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def complaint(**overrides: Any) -> dict[str, Any]:
    return {
        "event_id": "c-1",
        "source": "complaint",
        "organisation": "QNB",
        "provider": "R2B",
        "ward": "Oak Ward",
        "domains": ["building_better_relationships"],
        "occurred_at": "2026-12-10T10:00:00.000Z",
        "received_at": "2026-12-18T16:00:00.000Z",  # Friday 16:00: due the end of Wed 23
        **overrides,
    }


def created(event: dict[str, Any], now: str = "2026-12-18T16:00:05.000Z") -> dict[str, Any]:
    (action,) = ENGINE.on_event(event, lambda _: False, at(now))
    return action


def command(action: dict[str, Any], change: str, command_id: str = "cmd-1", **fields: Any) -> dict[str, Any]:
    return {
        "command_id": command_id,
        "action_id": action["action_id"],
        "change": change,
        "by": "j.bloggs",
        "at": "2026-12-21T09:00:00.000Z",
        "organisation": "QNB",
        **fields,
    }


def test_a_complaint_makes_one_acknowledgement_action() -> None:
    action = created(complaint())
    assert action["action_id"] == contract.action_id_for("complaint-ack", "event", "QNB", "c-1")
    assert set(action) == set(contract.ACTION_FIELDS)
    assert action["due_at"] == "2026-12-23T23:59:59.000Z"
    assert (action["owner"], action["notify"], action["status"], action["version"]) == (
        "complaints",
        "complaints",
        "open",
        1,
    )
    assert action["organisations"] == ["QNB"] and action["trigger"] == {"event_id": "c-1"}
    assert [h["change"] for h in action["history"]] == ["create"]
    # delivered again: the action exists, nothing new
    assert (
        ENGINE.on_event(complaint(), lambda i: i == action["action_id"], at("2026-12-18T17:00:00.000Z")) == []
    )
    # the same event id from another organisation is another complaint
    other = created(complaint(organisation="QKK"))
    assert other["action_id"] != action["action_id"] and other["organisations"] == ["QKK"]


def test_received_at_falls_back_to_occurred_at_and_non_matching_events_make_nothing() -> None:
    event = complaint()
    del event["received_at"]
    assert created(event)["due_at"] == "2026-12-15T23:59:59.000Z"  # Thu 10 Dec: Fri 11, Mon 14, Tue 15
    assert ENGINE.on_event(complaint(source="pals"), lambda _: False, at("2026-12-18T16:00:00.000Z")) == []
    assert ENGINE.on_event({"source": "complaint"}, lambda _: False, at("2026-12-18T16:00:00.000Z")) == []


def test_severe_harm_makes_a_duty_of_candour_action_and_moderate_does_not() -> None:
    incident = complaint(source="incident", severity="death", provider="R1A", ward="Ward 7", event_id="i-1")
    action = created(incident)
    # Fri 18 Dec 2026: Mon 21 .. Thu 24 (4), Tue 29 .. Thu 31 (7), Fri 1 Jan holiday, Mon 4 .. Wed 6 (10)
    assert (action["rule_id"], action["owner"], action["due_at"]) == (
        "candour",
        "ward-7",
        "2027-01-06T23:59:59.000Z",
    )
    assert (
        ENGINE.on_event({**incident, "severity": "moderate"}, lambda _: False, at("2026-12-18T16:00:00.000Z"))
        == []
    )


def alert(**overrides: Any) -> dict[str, Any]:
    return {
        "alert_id": "al-1",
        "rule_id": "ward-incidents-24h",
        "status": "firing",
        "group": {"provider": "R1A", "ward": "Ward 7"},
        "severity": "warning",
        "fired_at": "2026-12-18T10:00:00.000Z",
        "organisations": ["QNB", "QKK"],
        **overrides,
    }


def test_a_firing_hotspot_makes_one_review_action_seen_by_every_organisation() -> None:
    (action,) = ENGINE.on_alert(alert(), lambda _: False, at("2026-12-18T10:00:01.000Z"))
    assert action["action_id"] == contract.action_id_for("review", "alert", "", "al-1")
    assert action["organisations"] == ["QKK", "QNB"]
    # Fri 18 Dec: Mon 21 .. Thu 24 (4); Christmas, the weekend, the substitute Monday; Tue 29 (5)
    assert (action["owner"], action["due_at"]) == ("ward-7", "2026-12-29T23:59:59.000Z")
    assert action["trigger"] == {"alert_id": "al-1"}
    assert ENGINE.on_alert(alert(status="resolved"), lambda _: False, at("2026-12-18T11:00:00.000Z")) == []
    assert ENGINE.on_alert(alert(), lambda _: True, at("2026-12-18T11:00:00.000Z")) == []
    # Alert v1 before `organisations`: the group's organisation
    (old,) = ENGINE.on_alert(
        alert(organisations=None, group={"organisation": "QWE", "provider": "R9Z"}),
        lambda _: False,
        at("2026-12-18T10:00:01.000Z"),
    )
    assert old["organisations"] == ["QWE"] and old["owner"] == "icb-quality"


def test_an_episode_announced_again_with_another_organisation_shares_its_action() -> None:
    (action,) = ENGINE.on_alert(alert(organisations=["QNB"]), lambda _: None, at("2026-12-18T10:00:01.000Z"))
    assert action["organisations"] == ["QNB"]
    state = {action["action_id"]: action}
    # The same announcement again (a replay) changes nothing.
    assert ENGINE.on_alert(alert(organisations=["QNB"]), state.get, at("2026-12-18T10:05:00.000Z")) == []
    (shared,) = ENGINE.on_alert(alert(), state.get, at("2026-12-18T10:06:00.000Z"))
    assert shared["action_id"] == action["action_id"]
    assert shared["organisations"] == ["QKK", "QNB"]
    assert shared["version"] == action["version"] + 1
    assert (shared["owner"], shared["due_at"]) == (action["owner"], action["due_at"])
    assert shared["history"][-1]["change"] == "share"


def walk(action: dict[str, Any], times: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Tick at each time; the changes made (change:level:notify)."""
    made = []
    for moment in times:
        new = ENGINE.tick(action, at(moment))
        if new is not None:
            assert new["version"] == action["version"] + 1
            entry = new["history"][-1]
            made.append(f"{entry['change']}:{entry['level']}:{entry['notify']}")
            action = new
    return action, made


def test_remind_then_overdue_then_escalate_one_level_per_working_day_until_the_chain_ends() -> None:
    action = created(complaint())  # due the end of Wed 23 Dec 2026
    action, made = walk(
        action,
        [
            "2026-12-22T12:00:00.000Z",  # Tue: nothing yet
            "2026-12-23T00:00:01.000Z",  # the start of Wed: the reminder
            "2026-12-23T12:00:00.000Z",  # nothing new
            "2026-12-24T00:00:00.000Z",  # overdue: the owner is chased
            "2026-12-24T12:00:00.000Z",
            "2026-12-25T00:00:00.000Z",  # the end of Thu 24: one level up
            "2026-12-28T12:00:00.000Z",  # Christmas, weekend, substitute day: no working day has ended
            "2026-12-30T00:00:00.000Z",  # the end of Tue 29: the last level
            "2027-01-30T00:00:00.000Z",  # the chain has ended
        ],
    )
    assert made == [
        "remind:0:complaints",
        "overdue:0:complaints",
        "escalate:1:complaints-lead",
        "escalate:2:icb-head",
    ]
    assert action["overdue"] and action["escalation_level"] == 2 and action["notify"] == "icb-head"


def test_after_downtime_it_catches_up_once_to_the_level_the_time_implies() -> None:
    action = created(complaint())
    _, made = walk(action, ["2026-12-29T12:00:00.000Z", "2026-12-29T12:00:01.000Z"])
    # one change: overdue straight at level 1 (the end of Thu 24 has passed, the end of Tue 29 not yet)
    assert made == ["overdue:1:complaints-lead"]
    # and an item received long ago is overdue at the end of the chain at once, on creation
    old = created(complaint(received_at="2026-01-05T09:00:00.000Z"), now="2026-12-18T16:00:00.000Z")
    assert [h["change"] for h in old["history"]] == ["create", "overdue"] and old["escalation_level"] == 2


def test_changes_through_commands() -> None:
    action = created(complaint())
    ack = ENGINE.on_command(command(action, "acknowledge"), action, at("2026-12-21T09:00:01.000Z")).action
    assert ack is not None and ack["status"] == "acknowledged" and ack["version"] == 2
    assert ack["history"][-1]["by"] == "j.bloggs" and ack["history"][-1]["command_id"] == "cmd-1"
    # the same command again (a replay, a retried request): applied once
    again = ENGINE.on_command(command(ack, "acknowledge"), ack, at("2026-12-21T09:00:02.000Z"))
    assert again.duplicate and again.action is None
    # acknowledge is only for open actions
    assert ENGINE.on_command(
        command(ack, "acknowledge", "cmd-2"), ack, at("2026-12-21T09:01:00.000Z")
    ).refused
    commented = ENGINE.on_command(
        command(ack, "comment", "cmd-3", note="Rang 07700 900123"), ack, at("2026-12-21T10:00:00.000Z")
    ).action
    assert commented is not None and "07700 900123" not in commented["history"][-1]["note"]
    # extend: needs a reason and a later date
    assert ENGINE.on_command(
        command(ack, "extend", "cmd-4", due_at="2026-12-30T12:00:00.000Z"),
        ack,
        at("2026-12-21T10:00:00.000Z"),
    ).refused
    assert ENGINE.on_command(
        command(ack, "extend", "cmd-4", due_at="2026-12-20T12:00:00.000Z", reason="x"),
        ack,
        at("2026-12-21T10:00:00.000Z"),
    ).refused
    extended = ENGINE.on_command(
        command(commented, "extend", "cmd-4", due_at="2027-01-08T17:00:00.000Z", reason="complainant away"),
        commented,
        at("2026-12-21T10:00:00.000Z"),
    ).action
    assert extended is not None and extended["due_at"] == "2027-01-08T17:00:00.000Z"
    assert "complainant away" in extended["history"][-1]["note"]
    done = ENGINE.on_command(
        command(extended, "complete", "cmd-5", outcome="Apologised to Mrs Jane Smith, NHS 943 476 5919"),
        extended,
        at("2026-12-22T10:00:00.000Z"),
    ).action
    assert (
        done is not None
        and done["status"] == "completed"
        and done["completed_at"] == "2026-12-21T09:00:00.000Z"
    )
    assert (
        "943 476 5919" not in done["outcome"]
        and "Jane Smith" not in done["outcome"]
        and "Apologised" in done["outcome"]
    )
    assert ENGINE.tick(done, at("2027-06-01T00:00:00.000Z")) is None  # a completed action is never chased
    assert ENGINE.on_command(
        command(done, "cancel", "cmd-6", reason="dup"), done, at("2026-12-22T10:00:00.000Z")
    ).refused
    reopened = ENGINE.on_command(
        command(done, "reopen", "cmd-7"), done, at("2026-12-22T11:00:00.000Z")
    ).action
    assert reopened is not None and reopened["status"] == "open" and reopened["outcome"] is None
    cancelled = ENGINE.on_command(
        command(reopened, "cancel", "cmd-8", reason="duplicate of c-0"),
        reopened,
        at("2026-12-22T12:00:00.000Z"),
    ).action
    assert cancelled is not None and cancelled["status"] == "cancelled"
    assert [h["change"] for h in cancelled["history"]] == [
        "create",
        "acknowledge",
        "comment",
        "extend",
        "complete",
        "reopen",
        "cancel",
    ]
    assert cancelled["version"] == 7


def test_another_organisation_cannot_change_an_action_and_bad_commands_are_refused() -> None:
    action = created(complaint())
    refused = ENGINE.on_command(
        command(action, "acknowledge", organisation="QKK"), action, at("2026-12-21T09:00:00.000Z")
    )
    assert refused.refused == "the action is not the requesting organisation's" and refused.action is None
    assert (
        ENGINE.on_command(command(action, "acknowledge"), None, at("2026-12-21T09:00:00.000Z")).refused
        == "unknown action"
    )
    assert (
        ENGINE.on_command(command(action, "complete"), action, at("2026-12-21T09:00:00.000Z")).refused
        == "complete needs outcome"
    )
    assert ENGINE.on_command(command(action, "delete"), action, at("2026-12-21T09:00:00.000Z")).refused
    assert ENGINE.on_command(
        command(action, "comment", note="x" * 5000), action, at("2026-12-21T09:00:00.000Z")
    ).refused
    assert ENGINE.on_command({"change": "acknowledge"}, action, at("2026-12-21T09:00:00.000Z")).refused


def test_reassigning_an_overdue_action_chases_the_new_owner_from_level_zero() -> None:
    action, _ = walk(created(complaint()), ["2026-12-25T00:00:00.000Z"])  # overdue, level 1
    assert action["escalation_level"] == 1
    reassign = command(action, "reassign", owner="r1a", at="2026-12-29T09:00:00.000Z")
    moved = ENGINE.on_command(reassign, action, at("2026-12-29T09:00:01.000Z")).action
    assert moved is not None and (moved["owner"], moved["notify"], moved["escalation_level"]) == (
        "r1a",
        "r1a",
        0,
    )
    # r1a's own chain, counted from the reassignment (Tue 29 09:00): the end of Wed 30
    _, made = walk(moved, ["2026-12-30T12:00:00.000Z", "2026-12-31T00:00:00.000Z"])
    assert made == ["escalate:1:r1a-lead"]


def test_a_manual_action_from_a_create_command() -> None:
    action_id = contract.action_id_for("manual", "command", "QNB", "m-1")
    create = {
        "command_id": "m-1",
        "action_id": action_id,
        "change": "create",
        "by": "board",
        "at": "2026-12-18T10:00:00.000Z",
        "organisation": "QNB",
        "title": "Audit hand hygiene on Ward 7",
        "due_at": "2027-01-15T17:00:00.000Z",
        "provider": "R1A",
        "ward": "Ward 7",
        "links": {"alert_id": "al-1"},
    }
    made = ENGINE.on_command(create, None, at("2026-12-18T10:00:01.000Z")).action
    assert made is not None and made["rule_id"] == "manual" and made["owner"] == "ward-7"
    assert made["trigger"] == {"command_id": "m-1", "alert_id": "al-1"}
    assert ENGINE.on_command(create, made, at("2026-12-18T10:00:02.000Z")).duplicate
    assert ENGINE.on_command({**create, "action_id": "act-x"}, None, at("2026-12-18T10:00:02.000Z")).refused
