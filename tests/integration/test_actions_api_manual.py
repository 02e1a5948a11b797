"""The actions API: manual actions (201 once the stage made it, 202 while it is slow) and the composed
`pxstream connect http` server. Split from test_actions_api.py; the same stand-in for the stage."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, time, timedelta
from pathlib import Path

import orjson
import pytest
import requests

from schemas.action import MANUAL_RULE, action_id_for
from streams.actions.calendar import LONDON, WorkingCalendar, parse_duration
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
from tests.integration.test_ingest_http import TOKEN, write_tokens

pytestmark = pytest.mark.integration


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
