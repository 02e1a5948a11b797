"""The weekly digest per owner and the list filters, from Action v1 records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.actions.digest import build_digest, end_of_week, render_html, render_text, select


def action(action_id: str, owner: str, due_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "version": 1,
        "rule_id": "r",
        "title": fields.pop("title", "Acknowledge"),
        "status": "open",
        "overdue": False,
        "escalation_level": 0,
        "owner": owner,
        "notify": owner,
        "organisations": ["QNB"],
        "provider": "R1A",
        "ward": "Ward 7",
        "due_at": due_at,
        **fields,
    }


NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)  # Wednesday
ACTIONS = [
    action("a-late", "team", "2026-12-07T23:59:59.000Z", overdue=True, escalation_level=1, notify="lead"),
    action("a-week", "team", "2026-12-13T23:59:59.000Z"),
    action("a-next", "team", "2026-12-14T23:59:59.000Z"),
    action("a-done", "team", "2026-12-08T23:59:59.000Z", status="completed"),
    action("b-late", "other", "2026-12-01T23:59:59.000Z", overdue=True, escalation_level=1, notify="team"),
    action("c-qkk", "team", "2026-12-10T23:59:59.000Z", organisations=["QKK"], title="<script>x</script>"),
]


def test_end_of_week_is_sunday_night_in_london() -> None:
    assert end_of_week(NOW) == datetime(2026, 12, 13, 23, 59, 59, tzinfo=UTC)


def test_digest_sections() -> None:
    digest = build_digest(ACTIONS, "team", NOW)
    ids = {title: [a["action_id"] for a in items] for title, items in digest.sections()}
    assert ids == {
        "Overdue": ["a-late"],
        "Due this week": ["c-qkk", "a-week"],
        "Open, due later": ["a-next"],
        "Escalated to you": ["b-late"],
    }
    text = render_text(digest)
    assert "Overdue (1)" in text and "a-done" not in text
    page = render_html(digest)
    assert "<script>x" not in page and "&lt;script&gt;x" in page


def test_select_filters() -> None:
    assert [a["action_id"] for a in select(ACTIONS, overdue=True)] == ["b-late", "a-late"]
    assert [a["action_id"] for a in select(ACTIONS, organisation="QKK")] == ["c-qkk"]
    assert [a["action_id"] for a in select(ACTIONS, status="completed", owner="team")] == ["a-done"]
