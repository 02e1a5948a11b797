"""The actions API on the composed server against the real broker.

The test stands in for the actions stage: it puts Action v1 records on a fresh `actions` topic
(the stage's output) and reads what the API put on a fresh `actions.commands` topic.
Two organisations' tokens: QWO and QM7. QM7 must never list, read or change a QWO action.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.integration._action_records import NOW, action, iso
from tests.integration._actions_api_support import (  # noqa: F401  (server_fixture: the `server` fixture)
    QM7,
    QWO,
    SEED,
    ActionsServer,
    ids,
    server_fixture,
    start_server,
)

pytestmark = pytest.mark.integration


# -- tenancy ---------------------------------------------------------------------------------------


def test_each_organisation_lists_reads_and_changes_only_its_own(server: ActionsServer) -> None:
    assert ids(server.get("/v1/actions")) == ["act-both", "act-qwo-done", "act-qwo-late", "act-qwo-open"]
    assert ids(server.get("/v1/actions", QM7)) == ["act-both", "act-qm7-open"]

    assert server.get("/v1/actions/act-qwo-open").json()["action_id"] == "act-qwo-open"
    assert server.get("/v1/actions/act-both", QM7).status_code == 200
    foreign = server.get("/v1/actions/act-qwo-open", QM7)
    unknown = server.get("/v1/actions/act-nobody", QM7)
    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert foreign.json() == unknown.json()  # another organisation's action looks like no action at all

    change = {"change": "complete", "by": "qm7-user", "outcome": "Done"}
    assert server.post("/v1/actions/act-qwo-open/changes", change, QM7).status_code == 404
    assert server.post("/v1/actions/act-qwo-open/changes", {"change": "nonsense"}, QM7).status_code == 404
    assert server.post("/v1/actions/act-both/changes", change, QM7).status_code == 202
    [(key, command)] = server.commands()  # only the shared action's change went out
    assert key == b"act-both" and command["organisation"] == "QM7"

    metrics = server.get("/metrics", {}).text
    assert "pxstream_actions_view_ready 1.0" in metrics and "pxstream_actions_view_actions 5.0" in metrics
    assert server.get("/v1/actions", {"Authorization": "Bearer nope"}).status_code == 401
    assert server.get("/v1/actions/act-qwo-open", {}).status_code == 401
    assert server.post("/v1/actions/act-qwo-open/changes", change, {}).status_code == 401


def test_the_view_follows_the_topic_and_never_moves_backwards(server: ActionsServer) -> None:
    server.put(action("act-qwo-open", ["QWO"], version=2, status="acknowledged"))
    wait_for(
        lambda: server.get("/v1/actions/act-qwo-open").json()["version"] == 2, 20, "version 2 to be read"
    )
    server.put(action("act-qwo-open", ["QWO"], version=1), action("act-qwo-new", ["QWO"]))
    wait_for(lambda: server.get("/v1/actions/act-qwo-new").status_code == 200, 20, "the new action")
    assert (
        server.get("/v1/actions/act-qwo-open").json()["status"] == "acknowledged"
    )  # version 1 replayed: ignored
    # An action can leave an organisation (the stage corrects its organisations): the listing follows.
    server.put(action("act-both", ["QWO"], version=2))
    wait_for(lambda: "act-both" not in ids(server.get("/v1/actions", QM7)), 20, "act-both to leave QM7")
    assert server.get("/v1/actions/act-both", QM7).status_code == 404


def test_list_filters(server: ActionsServer) -> None:
    assert ids(server.get("/v1/actions", status="open")) == ["act-both", "act-qwo-open"]
    assert ids(server.get("/v1/actions", status="open,acknowledged")) == [
        "act-both",
        "act-qwo-late",
        "act-qwo-open",
    ]
    assert ids(server.get("/v1/actions", overdue="true")) == ["act-qwo-late"]
    assert ids(server.get("/v1/actions", overdue="false", owner="r1a-ward-7")) == [
        "act-both",
        "act-qwo-done",
        "act-qwo-open",
    ]
    limited = server.get("/v1/actions", limit="1").json()
    assert len(limited["actions"]) == 1 and limited["truncated"] is True
    bad = server.get("/v1/actions", status="bogus", overdue="maybe", owner="a b", limit="0", colour="red")
    assert bad.status_code == 400
    assert sorted(e["path"] for e in bad.json()["errors"]) == [
        "colour",
        "limit",
        "overdue",
        "owner",
        "status",
    ]
    # The first of two values must not win silently (schemathesis found `overdue=false&overdue=Ä`
    # answered 200 with the first).
    twice = server.get("/v1/actions?overdue=false&overdue=%C3%84&limit=1&limit=2")
    assert twice.status_code == 400
    assert sorted(e["path"] for e in twice.json()["errors"]) == ["limit", "overdue"]
    assert server.get("/v1/actions?overdue=false&limit=1").status_code == 200


# -- changes -------------------------------------------------------------------------------------------


def test_a_change_lands_on_the_commands_topic_and_a_retry_is_the_same_command(server: ActionsServer) -> None:
    body = {"change": "complete", "by": "ward-7-manager", "outcome": "Apologised and explained", "note": "n"}
    first = server.post("/v1/actions/act-qwo-open/changes", body)
    assert (first.status_code, first.json()) == (202, {"action_id": "act-qwo-open"})
    assert server.post("/v1/actions/act-qwo-open/changes", body).status_code == 202  # a retry
    keyed = {**QWO, "Idempotency-Key": "meeting-2026-12-03-item-4"}
    comment = {"change": "comment", "by": "ward-7-manager", "note": "Discussed at the team meeting"}
    assert server.post("/v1/actions/act-qwo-late/changes", comment, keyed).status_code == 202
    assert server.post("/v1/actions/act-qwo-late/changes", comment, keyed).status_code == 202
    other_key = {**QWO, "Idempotency-Key": "meeting-2026-12-10-item-1"}
    assert server.post("/v1/actions/act-qwo-late/changes", comment, other_key).status_code == 202

    commands = wait_for(lambda: len(server.commands()) == 5 and server.commands(), 20, "five commands")
    (k1, c1), (k2, c2), (k3, c3), (k4, c4), (k5, c5) = commands
    assert k4 == k5 == b"act-qwo-late"
    assert (k1, k2, k3) == (b"act-qwo-open", b"act-qwo-open", b"act-qwo-late")
    assert set(c1) == {"command_id", "action_id", "change", "by", "at", "organisation", "note", "outcome"}
    assert c1["action_id"] == "act-qwo-open" and c1["change"] == "complete" and c1["organisation"] == "QWO"
    assert c1["outcome"] == "Apologised and explained" and c1["by"] == "ward-7-manager"
    assert datetime.fromisoformat(c1["at"]) - NOW < timedelta(minutes=10) and c1["at"].endswith("Z")
    assert c1["command_id"] == c2["command_id"]  # the retry: the stage applies it once
    assert c3["command_id"] == c4["command_id"] != c5["command_id"]  # same key; a new key is a new change
    assert c3["change"] == "comment" and "outcome" not in c3


def test_every_problem_is_listed_and_nothing_is_sent(server: ActionsServer) -> None:
    def problems(action_id: str, body: Any, headers: dict[str, str] = QWO) -> list[str]:
        response = server.post(f"/v1/actions/{action_id}/changes", body, headers)
        assert response.status_code == 400, (body, response.text)
        return sorted(e["path"] for e in response.json()["errors"])

    assert problems("act-qwo-open", {}) == ["by", "change"]
    assert problems("act-qwo-open", {"change": "finish", "by": "x"}) == ["change"]
    assert problems("act-qwo-open", {"change": "complete", "by": ""}) == ["by", "outcome"]
    assert problems("act-qwo-open", {"change": "comment", "by": "x"}) == ["note"]
    assert problems("act-qwo-open", {"change": "cancel", "by": "x", "reason": 5}) == ["reason"]
    assert problems("act-qwo-open", {"change": "reassign", "by": "x", "owner": "Mrs Smith"}) == ["owner"]
    assert problems("act-qwo-open", {"change": "extend", "by": "x"}) == ["due_at", "reason"]
    assert problems(
        "act-qwo-open", {"change": "extend", "by": "x", "reason": "r", "due_at": "next Friday"}
    ) == ["due_at"]
    assert problems(
        "act-qwo-open", {"change": "extend", "by": "x", "reason": "r", "due_at": "2027-01-05T17:00"}
    ) == [
        "due_at"  # no offset
    ]
    earlier = iso(NOW + timedelta(days=1))  # the action is due in 3 days: an "extension" to before that
    assert problems("act-qwo-open", {"change": "extend", "by": "x", "reason": "r", "due_at": earlier}) == [
        "due_at"
    ]
    assert problems(
        "act-qwo-open", {"change": "extend", "by": "x", "reason": "r", "due_at": "2099-01-01T00:00Z"}
    ) == [
        "due_at"  # far future
    ]
    assert problems(
        "act-qwo-open", {"change": "complete", "by": "x", "outcome": "y" * 10_001, "owner": "z"}
    ) == [
        "outcome",
        "owner",  # not a field of complete
    ]
    assert problems("act-qwo-open", {"change": "acknowledge", "by": "x\x00y", "outcom": "typo"}) == [
        "by",
        "outcom",
    ]
    assert problems("act-qwo-open", [1, 2]) == [""]
    assert problems("act-qwo-open", b"{not json") == [""]
    assert problems(
        "act-qwo-open", {"change": "acknowledge", "by": "x"}, {**QWO, "Idempotency-Key": "a b"}
    ) == ["Idempotency-Key"]
    huge = server.post(
        "/v1/actions/act-qwo-open/changes", {"change": "comment", "by": "x", "note": "y" * 70_000}
    )
    assert huge.status_code == 413
    assert server.commands() == []


def test_a_status_that_does_not_allow_the_change_is_409(server: ActionsServer) -> None:
    cases = [
        ("act-qwo-late", {"change": "acknowledge", "by": "x"}),  # already acknowledged
        ("act-qwo-done", {"change": "complete", "by": "x", "outcome": "again"}),
        (
            "act-qwo-done",
            {"change": "extend", "by": "x", "reason": "r", "due_at": iso(NOW + timedelta(days=9))},
        ),
        ("act-qwo-open", {"change": "reopen", "by": "x"}),
    ]
    for action_id, body in cases:
        response = server.post(f"/v1/actions/{action_id}/changes", body)
        assert response.status_code == 409, (action_id, body, response.text)
    assert server.post("/v1/actions/act-qwo-done/changes", {"change": "reopen", "by": "x"}).status_code == 202
    assert (
        server.post(
            "/v1/actions/act-qwo-done/changes", {"change": "comment", "by": "x", "note": "n"}
        ).status_code
        == 202
    )
    assert [c["change"] for _k, c in server.commands()] == ["reopen", "comment"]
