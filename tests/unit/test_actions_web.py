"""The actions API's pure parts: request checks, command ids, the view's fold, the OpenAPI document."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from multidict import MultiDict

from pxstream.web.actions_api import command_id_for
from pxstream.web.actions_requests import parse_change, parse_list_query, parse_new_action
from pxstream.web.actions_view import ActionsView
from pxstream.web.openapi import build_document
from schemas.action import CHANGES, REQUIRED_FOR

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def no_clock(spec: str, start: datetime) -> datetime:
    raise ValueError("no calendar")


@pytest.mark.parametrize("change", CHANGES)
def test_each_change_requires_what_the_contract_names(change: str) -> None:
    fields, problems = parse_change({"change": change}, NOW)
    assert sorted(p.path for p in problems) == sorted(["by", *REQUIRED_FOR[change]])
    assert fields["change"] == change


def test_a_valid_change_becomes_command_fields_in_utc() -> None:
    fields, problems = parse_change(
        {
            "change": "extend",
            "by": " matron ",
            "reason": "awaiting a statement",
            "due_at": "2026-12-10T17:00+00:00",
        },
        NOW,
    )
    assert problems == []
    assert fields == {
        "change": "extend",
        "by": "matron",
        "reason": "awaiting a statement",
        "due_at": "2026-12-10T17:00:00.000Z",
    }


def test_problems_never_quote_the_value() -> None:
    secret = "Mrs Jane Example, NHS 943 476 5919"
    _fields, problems = parse_change({"change": "reassign", "by": "x", "owner": secret, "note": 5}, NOW)
    assert [p.path for p in problems] == ["note", "owner"]
    assert all("Jane" not in p.message and "943" not in p.message for p in problems)


def test_a_new_action_needs_a_title_and_one_deadline() -> None:
    _fields, problems = parse_new_action({}, NOW, no_clock)
    assert sorted(p.path for p in problems) == ["due", "title"]
    fields, problems = parse_new_action(
        {"title": "Review falls", "due_at": "2026-12-20T12:00:00Z", "links": {"alert_id": "a-1"}},
        NOW,
        no_clock,
    )
    assert problems == [] and fields["links"] == {"alert_id": "a-1"}
    _fields, problems = parse_new_action({"title": "t", "due": "5 working days"}, NOW, no_clock)
    assert [(p.path, p.message) for p in problems] == [("due", "no calendar")]


def test_list_query_bounds() -> None:
    # The handler passes aiohttp's request.query, a multidict (a parameter may come twice).
    query, problems = parse_list_query(
        MultiDict({"status": "open,completed", "overdue": "true", "limit": "10"})
    )
    assert problems == [] and query.statuses == {"open", "completed"} and query.overdue is True
    _query, problems = parse_list_query(MultiDict({"limit": "99999999999999999999"}))
    assert [p.path for p in problems] == ["limit"]
    _query, problems = parse_list_query(MultiDict([("overdue", "false"), ("overdue", "Ä"), ("limit", "5")]))
    assert [(p.path, p.message) for p in problems] == [("overdue", "is given more than once")]


def test_command_ids_are_stable_for_a_retry_and_differ_otherwise() -> None:
    body = {"change": "comment", "by": "x", "note": "called the ward"}
    same = command_id_for("QWO", "act-1@3", None, dict(reversed(list(body.items()))))
    assert command_id_for("QWO", "act-1@3", None, body) == same
    assert command_id_for("QM7", "act-1@3", None, body) != same  # tenants never collide
    assert command_id_for("QWO", "act-1@4", None, body) != same  # a repeat after the action moved on
    keyed = command_id_for("QWO", "act-1@3", "k-1", body)
    assert command_id_for("QWO", "act-1@9", "k-1", {}) == keyed  # the key alone decides


def test_the_view_keeps_the_highest_version_and_indexes_organisations() -> None:
    async def run() -> None:
        view = ActionsView("unused:9092")
        record = {"action_id": "a", "version": 2, "organisations": ["QWO", "QM7"], "status": "open"}
        assert view.apply(orjson.dumps(record))
        assert not view.apply(b"not json") and not view.apply(orjson.dumps({"action_id": "b", "version": 0}))
        assert view.apply(orjson.dumps({**record, "version": 1, "status": "completed"}))
        assert view.get("a", "QM7")["status"] == "open"
        assert view.apply(orjson.dumps({**record, "version": 3, "organisations": ["QWO"]}))
        assert view.get("a", "QM7") is None and view.of_organisation("QM7") == []
        waiting = asyncio.create_task(view.wait_for("c", 5))
        await asyncio.sleep(0)
        view.apply(orjson.dumps({"action_id": "c", "version": 1, "organisations": ["QWO"]}))
        assert (await waiting)["action_id"] == "c"
        assert await view.wait_for("d", 0.01) is None
        assert view.refused == 2

    asyncio.run(run())


def test_the_served_document_has_ingest_and_actions() -> None:
    document = build_document()
    assert {"/v1/events", "/v1/actions", "/v1/actions/{action_id}", "/v1/actions/{action_id}/changes"} <= set(
        document["paths"]
    )
    variants = document["components"]["schemas"]["Change"]["oneOf"]
    assert {v["properties"]["change"]["const"]: sorted(v["required"]) for v in variants} == {
        change: sorted(["change", "by", *REQUIRED_FOR[change]]) for change in CHANGES
    }


def test_a_retry_of_an_applied_change_is_recognised_from_the_history() -> None:
    from pxstream.web.actions_api import _already_applied

    body = {"change": "comment", "by": "x", "note": "chased"}
    made_at_v2 = command_id_for("QWO", "a@2", None, body)
    keyed = command_id_for("QWO", "a@", "k-1", body)
    history = [{"change": "create"}, {"change": "remind"}, {"change": "comment", "command_id": made_at_v2}]
    action = {"action_id": "a", "version": 3, "history": history}
    assert _already_applied(action, "QWO", None, body)  # the retry after the stage applied it
    assert not _already_applied(action, "QM7", None, body)
    assert not _already_applied(action, "QWO", None, {**body, "note": "chased again"})
    later = {
        **action,
        "version": 5,
        "history": [*history, {"change": "comment", "command_id": "cmd-other"}, {}],
    }
    assert not _already_applied(later, "QWO", None, body)  # the same words after another change: a new one
    assert not _already_applied(action, "QWO", "k-1", body)
    with_key = {**action, "history": [*history, {"change": "comment", "command_id": keyed}]}
    assert _already_applied(with_key, "QWO", "k-1", {"anything": 1})
