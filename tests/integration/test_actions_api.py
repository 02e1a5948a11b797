"""The actions API on the composed server against the real broker.

The test stands in for the actions stage: it puts Action v1 records on a fresh `actions` topic
(the stage's output) and reads what the API put on a fresh `actions.commands` topic.
Two organisations' tokens: QWO and QM7. QM7 must never list, read or change a QWO action.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from connectors.ingest.server import IngestConfig
from connectors.ingest.tokens import TokenStore
from pxstream.web.actions_api import ActionsApiConfig
from pxstream.web.app import create_app
from pxstream.web.due import due_clock_for
from schemas.action import MANUAL_RULE, action_id_for
from streams.actions.calendar import LONDON, WorkingCalendar, parse_duration
from tests.conftest import wait_for
from tests.integration._action_records import NOW, action, iso
from tests.integration.test_ingest_http import OTHER_TOKEN, TOKEN, RunningServer, write_tokens
from tests.support.kafka import produce_json, read_all

pytestmark = pytest.mark.integration
QWO = {"Authorization": f"Bearer {TOKEN}"}
QM7 = {"Authorization": f"Bearer {OTHER_TOKEN}"}


SEED = [
    action("act-qwo-open", ["QWO"]),
    action("act-qwo-late", ["QWO"], status="acknowledged", overdue=True, escalation_level=1, owner="matron"),
    action("act-qm7-open", ["QM7"]),
    action("act-both", ["QWO", "QM7"], rule_id="hotspot-review", trigger={"alert_id": "alert-1"}),
    action("act-qwo-done", ["QWO"], status="completed", completed_at=iso(NOW), outcome="Letter sent"),
]


@dataclass
class ActionsServer:
    url: str
    bootstrap: str
    actions_topic: str
    commands_topic: str

    def put(self, *records: dict[str, Any]) -> None:
        """What the actions stage does: a new whole state on `actions`."""
        produce_json(self.bootstrap, self.actions_topic, records)

    def commands(self) -> list[tuple[bytes, dict[str, Any]]]:
        return [(key, value) for _p, _o, key, value in read_all(self.bootstrap, self.commands_topic)]

    def get(self, path: str, headers: dict[str, str] = QWO, **params: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=30)

    def post(self, path: str, body: Any, headers: dict[str, str] = QWO) -> requests.Response:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        return requests.post(
            f"{self.url}{path}",
            data=data,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )


def start_server(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path, *, create_wait_s: float = 1.0
) -> tuple[RunningServer, ActionsServer]:
    actions_topic = new_topic(prefix="test-actions")
    commands_topic = new_topic(prefix="test-actions-commands")
    app = create_app(
        IngestConfig(
            bootstrap=kafka_bootstrap, topic=new_topic(prefix="test-raw"), rate_per_s=1000, burst=1000
        ),
        TokenStore.load(write_tokens(tmp_path)),
        due_clock=due_clock_for(WorkingCalendar()),
        actions=ActionsApiConfig(
            bootstrap=kafka_bootstrap,
            actions_topic=actions_topic,
            commands_topic=commands_topic,
            create_wait_s=create_wait_s,
        ),
    )
    handle = ActionsServer("", kafka_bootstrap, actions_topic, commands_topic)
    handle.put(*SEED)  # on the topic before the server starts: the view is rebuilt from it
    running = RunningServer(app).__enter__()
    handle.url = running.url
    wait_for(lambda: handle.get("/v1/actions").status_code == 200, 30, "the actions view to be rebuilt")
    return running, handle


@pytest.fixture
def server(kafka_bootstrap: str, new_topic, tmp_path: Path) -> Iterator[ActionsServer]:
    running, handle = start_server(kafka_bootstrap, new_topic, tmp_path)
    try:
        yield handle
    finally:
        running.__exit__(None, None, None)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(a["action_id"] for a in response.json()["actions"])


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


# -- manual actions ----------------------------------------------------------------------------------------


class StandInStage:
    """Reads create commands and writes the Action v1 the stage would: enough to test the 201."""

    def __init__(self, server: ActionsServer) -> None:
        self.server = server
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._follow())

    async def _follow(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        consumer = AIOKafkaConsumer(
            self.server.commands_topic, bootstrap_servers=self.server.bootstrap, auto_offset_reset="earliest"
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.server.bootstrap)
        await consumer.start()
        await producer.start()
        made: set[str] = set()
        try:
            while not self.stop.is_set():
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        command = orjson.loads(record.value)
                        if command["change"] != "create" or command["action_id"] in made:
                            continue
                        made.add(command["action_id"])
                        new = action(
                            command["action_id"],
                            [command["organisation"]],
                            rule_id="manual",
                            title=command["title"],
                            owner=command.get("owner", "icb-quality-team"),
                            due_at=command["due_at"],
                            trigger={"command_id": command["command_id"]},
                        )
                        await producer.send_and_wait(
                            self.server.actions_topic, orjson.dumps(new), key=record.key
                        )
        finally:
            await consumer.stop()
            await producer.stop()

    def __enter__(self) -> StandInStage:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_a_manual_action_is_201_once_the_stage_has_made_it(
    kafka_bootstrap: str, new_topic, tmp_path: Path
) -> None:
    running, server = start_server(kafka_bootstrap, new_topic, tmp_path, create_wait_s=30)
    try:
        due = iso(NOW + timedelta(days=14))
        body = {
            "title": "Review call-bell response times with the ward team",
            "due_at": due,
            "ward": "Ward 7",
        }
        with StandInStage(server):
            made = server.post("/v1/actions", body)
            assert made.status_code == 201, made.text
            again = server.post("/v1/actions", body)  # a retry: the same action, not a second one
        action_id = made.json()["action_id"]
        assert again.status_code == 201 and again.json()["action_id"] == action_id
        assert made.headers["Location"] == f"/v1/actions/{action_id}"
        assert made.json()["title"] == body["title"] and made.json()["organisations"] == ["QWO"]
        [(key, command)] = server.commands()
        assert key == action_id.encode()
        assert action_id == action_id_for(MANUAL_RULE, "command", "QWO", command["command_id"])
        assert command["change"] == "create" and command["due_at"] == due and command["ward"] == "Ward 7"
        assert server.get(f"/v1/actions/{action_id}", QM7).status_code == 404
    finally:
        running.__exit__(None, None, None)


def test_a_manual_action_is_202_pending_when_the_stage_is_slow(server: ActionsServer) -> None:
    body = {"title": "Audit hand hygiene", "due": "3 working days", "owner": "ipc-team"}
    pending = server.post("/v1/actions", body)
    assert pending.status_code == 202
    [(_key, command)] = server.commands()
    # The deadline is the stage's own: the same calendar, from the moment of the request.
    expected = WorkingCalendar().add(datetime.fromisoformat(command["at"]), parse_duration("3 working days"))
    assert datetime.fromisoformat(command["due_at"]) == expected
    assert expected.astimezone(LONDON).time() == time(23, 59, 59)
    action_id = pending.json()["action_id"]
    assert pending.json() == {"action_id": action_id, "status": "pending"}
    assert server.get(pending.headers["Location"]).status_code == 404  # not made yet
    server.put(action(action_id, ["QWO"], rule_id="manual", title="Audit hand hygiene"))
    wait_for(lambda: server.get(pending.headers["Location"]).status_code == 200, 20, "the stage's record")
    assert server.post("/v1/actions", body).status_code == 201  # the retry now finds it
    assert len(server.commands()) == 1  # and sends nothing more


def test_a_manual_action_lists_every_problem(server: ActionsServer) -> None:
    response = server.post(
        "/v1/actions",
        {
            "due": "5 working days",
            "due_at": iso(NOW),
            "owner": "",
            "links": {"event_ids": [1], "x": 1},
            "ward": 7,
        },
    )
    assert response.status_code == 400
    assert sorted(e["path"] for e in response.json()["errors"]) == [
        "due",
        "links.event_ids[0]",
        "links.x",
        "owner",
        "title",
        "ward",
    ]
    for due in ("5 fortnights", "0 days", "3 seconds", "99999 working days"):
        refused = server.post("/v1/actions", {"title": "t", "due": due})
        assert refused.status_code == 400 and [e["path"] for e in refused.json()["errors"]] == ["due"], due
    assert server.commands() == []


# -- the command line --------------------------------------------------------------------------------------


def test_pxstream_connect_http_serves_ingest_and_actions(kafka_bootstrap: str, tmp_path: Path) -> None:
    """`pxstream connect http` as an operator runs it: one server, both APIs, one OpenAPI document."""
    import os
    import subprocess
    import sys

    from infra.broker import ensure_topics
    from infra.procs import free_port
    from schemas.topics import TOPICS

    ensure_topics(kafka_bootstrap, list(TOPICS))
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PXSTREAM_INGEST_TOKENS": str(write_tokens(tmp_path)),
        "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PXSTREAM_ACTIONS": str(root / "infra/actions/actions.yaml"),
    }
    bad = subprocess.run(
        [sys.executable, "-m", "pxstream", "connect", "http", "--listen", "127.0.0.1:1"],
        cwd=root,
        env={**env, "PXSTREAM_ACTIONS": str(tmp_path / "missing.yaml")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr and len(bad.stderr.splitlines()) == 1
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pxstream", "connect", "http", "--listen", f"127.0.0.1:{port}"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def listed() -> bool:
        assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
        try:
            return requests.get(f"{url}/v1/actions", headers=QWO, timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(listed, 60, "GET /v1/actions from `pxstream connect http`")
        paths = requests.get(f"{url}/openapi.json", timeout=5).json()["paths"]
        assert {"/v1/events", "/v1/actions", "/v1/actions/{action_id}/changes"} <= set(paths)
        assert requests.get(f"{url}/v1/actions/act-none", headers=QWO, timeout=5).status_code == 404
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert TOKEN not in output
