"""Session fixtures for the integration tier: the real broker, fresh topics, a real Alertmanager.

The integration tier never skips for want of a part: if the broker cannot be found or started,
the test fails with the reason (docs/architecture.md, "The real parts"). A broker this fixture
starts is left running, like one
from `pxstream infra up` (later sessions — and other checkouts on the same machine — reuse it);
`scripts/test.sh` takes down what it started.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.waiting import wait_for

T = TypeVar("T")


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    """The same `wait_for`, for tests that prefer a fixture to an import."""
    return wait_for


def _progress(message: str) -> None:
    print(f"[kafka_bootstrap] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of a broker that answers: the one at PXSTREAM_KAFKA_BOOTSTRAP, started if need be."""
    from infra import stack
    from infra.broker import kafka_answers
    from infra.config import InfraConfig
    from schemas.errors import PxstreamError
    from schemas.settings import Settings

    config = InfraConfig.from_settings(Settings.from_env())
    if kafka_answers(config.kafka_bootstrap, timeout=5.0):
        return config.kafka_bootstrap
    if not config.kafka_is_local:
        pytest.fail(f"Kafka at PXSTREAM_KAFKA_BOOTSTRAP={config.kafka_bootstrap} does not answer")
    try:
        stack.up(config, _progress, ["kafka"])
    except PxstreamError as exc:
        pytest.fail(f"could not start the local Kafka broker for the tests: {exc}")
    return config.kafka_bootstrap


@pytest.fixture
def bootstrap(kafka_bootstrap: str) -> str:
    """The same broker under the shorter name the hotspot and pusher tests use."""
    return kafka_bootstrap


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: `new_topic(partitions=1, prefix="test") -> name` — a fresh topic, deleted after the test."""
    from infra.broker import delete_topics, ensure_topics
    from schemas.topics import TopicSpec

    created: list[str] = []

    def make(partitions: int = 1, prefix: str = "test") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions=partitions)])
        created.append(name)
        return name

    yield make
    try:
        delete_topics(kafka_bootstrap, created)
    except Exception as exc:  # a leftover uniquely named topic harms nobody; say so and move on
        print(f"[new_topic] could not delete {created}: {exc!r}", file=sys.stderr)


@pytest.fixture
def hotspot_config(bootstrap: str) -> Iterator[Callable[[str], Any]]:
    """Factory: `hotspot_config(kind)` enters `tests.support.kafka.worker_topics` for this test:
    a WorkerConfig under a unique prefix with its topics created, and every topic under the prefix
    (Faust's changelog, assignor and ticks topics too) deleted after the test."""
    from schemas.settings import Settings
    from tests.support.kafka import worker_topics

    settings = Settings.from_env({"PXSTREAM_KAFKA_BOOTSTRAP": bootstrap})
    with contextlib.ExitStack() as stack:
        yield lambda kind: stack.enter_context(worker_topics(settings, kind))


# -- Alertmanager ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookRequest:
    """One notification Alertmanager sent: which receiver (the URL path) and the JSON it carried."""

    receiver: str
    payload: dict[str, Any]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.payload.get("alerts", []))

    @property
    def status(self) -> str:
        return str(self.payload.get("status", ""))


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.requests: list[WebhookRequest] = []
        self.lock = threading.Lock()


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _WebhookServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {"unparsed": body.decode("utf-8", "replace")}
        with self.server.lock:
            self.server.requests.append(WebhookRequest(self.path.strip("/"), payload))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows stderr on failure
        pass


@dataclass
class AlertmanagerHandle:
    """A real Alertmanager running the project's routing tree, every receiver pointed at `webhook_url`."""

    url: str
    webhook_url: str
    config_file: Path
    _server: _WebhookServer

    @property
    def webhook_requests(self) -> list[WebhookRequest]:
        with self._server.lock:
            return list(self._server.requests)

    def received_by(self, receiver: str) -> list[WebhookRequest]:
        return [request for request in self.webhook_requests if request.receiver == receiver]

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts`, optionally filtered by exact label values."""
        query = urllib.parse.urlencode([("filter", f'{k}="{v}"') for k, v in labels.items()])
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=5) as response:
            return list(json.loads(response.read()))

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """`POST /api/v2/alerts` — what the worker does (docs/contracts.md, "Alert v1")."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200, response.read()

    def wait_for_webhook(
        self, predicate: Callable[[WebhookRequest], bool] = lambda _: True, timeout: float = 15.0
    ) -> WebhookRequest:
        def match() -> WebhookRequest | None:
            return next((r for r in self.webhook_requests if predicate(r)), None)

        return wait_for(match, timeout, "an Alertmanager webhook notification")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerHandle]:
    """A fresh Alertmanager (Debian package) on a free loopback port, notifying an in-process webhook.

    Routing is the project's (`infra/alertmanager/alertmanager.yml`) with second-scale group timings,
    and the webhook path names the receiver, so a test sees where the routing tree sent each alert.
    """
    import yaml

    from infra.monitoring import FAST_TIMINGS, alertmanager_command, http_ok, render_alertmanager_config
    from infra.parts import require_program
    from infra.procs import free_port, tail

    binary = require_program("prometheus-alertmanager", "prometheus-alertmanager")
    server = _WebhookServer()
    thread = threading.Thread(target=server.serve_forever, name="alertmanager-webhook", daemon=True)
    thread.start()
    webhook_url = f"http://127.0.0.1:{server.server_address[1]}"
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(render_alertmanager_config(webhook_url, FAST_TIMINGS)))
    log_file = tmp_path / "alertmanager.log"
    port = free_port()
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            alertmanager_command(binary, config_file, tmp_path / "data", port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for(
                lambda: proc.poll() is not None or http_ok(f"{url}/-/ready"), 20, f"Alertmanager on {url}"
            )
        except AssertionError as exc:
            pytest.fail(f"{exc}; log {log_file}:\n{tail(log_file)}")
        if proc.poll() is not None:
            pytest.fail(f"Alertmanager exited at start-up (port {port}); log {log_file}:\n{tail(log_file)}")
        yield AlertmanagerHandle(url, webhook_url, config_file, server)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        server.server_close()
