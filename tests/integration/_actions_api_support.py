"""The actions API on the composed server, as the API tests start it: seeded actions, two tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from streams.actions.calendar import WorkingCalendar
from tests.conftest import wait_for
from tests.integration._action_records import NOW, action, iso
from tests.integration.test_ingest_http import OTHER_TOKEN, TOKEN, RunningServer, write_tokens
from tests.support.kafka import produce_json, read_all

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


@pytest.fixture(name="server")
def server_fixture(kafka_bootstrap: str, new_topic, tmp_path: Path) -> Iterator[ActionsServer]:
    running, handle = start_server(kafka_bootstrap, new_topic, tmp_path)
    try:
        yield handle
    finally:
        running.__exit__(None, None, None)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(a["action_id"] for a in response.json()["actions"])


# -- tenancy ---------------------------------------------------------------------------------------
