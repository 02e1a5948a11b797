"""The demo's live view folds output records into what the screen shows."""

from __future__ import annotations

import orjson

from pxstream.live_view import LiveState, render


def _alert(status: str, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "alert_id": "a1",
            "rule_id": "demo-ward-harm-incidents",
            "status": status,
            "group": {"provider": "R1A", "ward": "Ward 7 Acute Medicine"},
            "count": 6,
            "threshold": 5,
            "fired_at": "2025-06-01T09:00:15.000Z",
            "resolved_at": None,
            **extra,
        }
    )


def test_counts_by_unit_and_domain_and_alert_transitions() -> None:
    state = LiveState()
    state.apply("raw", b"anything")
    state.apply("raw", b"{")
    tagged = {
        "provider": "R1A",
        "ward": "Ward 7",
        "domains": ["safe_high_quality_care"],
        "redactions": {"name": 2},
    }
    state.apply("tagged", orjson.dumps(tagged))
    state.apply("dlq", orjson.dumps({"reason_code": "not_json"}))
    firing = state.apply("alerts", _alert("firing", organisations=["QKK"]))
    assert firing is not None and firing.status == "firing"
    # Announced again when a second organisation's events count: the same episode.
    state.apply("alerts", _alert("firing", organisations=["QKK", "QWE"]))
    state.apply("alerts", _alert("resolved", resolved_at="2025-06-01T09:03:00.000Z"))
    assert (state.raw, state.tagged, state.dead["not_json"], state.redactions["name"]) == (2, 1, 1, 2)
    assert state.by_unit[("R1A", "Ward 7")]["safe_high_quality_care"] == 1
    assert (state.fired, state.resolved, len(state.alerts)) == (1, 1, 1)  # one episode, latest state
    screen = render(state, title="t", width=120)
    assert "resolved" in screen and "R1A · Ward 7 Acute Medicine" in screen and "FIRING" not in screen


def test_a_firing_alert_is_shown_prominently() -> None:
    state = LiveState()
    state.apply("alerts", _alert("firing"))
    assert "FIRING" in render(state, title="t", width=120)


def _action(version: int, change: str, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "action_id": "act-1",
            "version": version,
            "title": "Review the hotspot with the ward team",
            "status": "open",
            "overdue": False,
            "escalation_level": 0,
            "owner": "r1a-ward-7-manager",
            "notify": "r1a-ward-7-manager",
            "provider": "R1A",
            "ward": "Ward 7 Acute Medicine",
            "due_at": "2025-06-01T09:02:15Z",
            "history": [{"change": change}],
            **extra,
        }
    )


def test_actions_block_counts_and_shows_the_overdue_first() -> None:
    state = LiveState()
    created = state.apply("actions", _action(1, "create"))
    assert created is not None and created.change == "create"
    state.apply("actions", _action(2, "overdue", overdue=True))
    state.apply(
        "actions", _action(3, "escalate", overdue=True, escalation_level=1, notify="r1a-matron-medicine")
    )
    assert state.action_counts() == {"created": 1, "open": 1, "overdue": 1, "escalated": 1, "completed": 0}
    assert state.escalations == 1
    screen = render(state, title="t", width=160)
    assert "ACTIONS" in screen and "chasing r1a-matron-medicine (level 1)" in screen
    state.apply("actions", _action(4, "complete", status="completed"))
    assert state.action_counts()["completed"] == 1 and state.action_counts()["open"] == 0
