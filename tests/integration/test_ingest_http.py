"""HTTP ingest API against the real broker: 202 means the events are on the topic; schemathesis
explores the OpenAPI document and must find no server error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectors.ingest.openapi import build_document
from connectors.ingest.server import IngestConfig, create_app
from connectors.ingest.tokens import TokenStore, token_digest
from infra.procs import free_port
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration
TOKEN = "integration-token-qwo"
OTHER_TOKEN = "integration-token-qm7"


class RunningServer:
    """The ingest app on a free loopback port, in its own thread and event loop."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-server", daemon=True)
        self.url = ""

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self._app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> RunningServer:
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("ingest server did not start within 30 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


def write_tokens(directory: Path) -> Path:
    path = directory / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        f"  - {{organisation: QWO, sha256: {token_digest(TOKEN)}}}\n"
        f"  - {{organisation: QM7, sha256: {token_digest(OTHER_TOKEN)}}}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def ingest_server(kafka_bootstrap: str, new_topic, tmp_path: Path) -> Iterator[tuple[str, str]]:
    topic = new_topic(partitions=2, prefix="test-ingest")
    app = create_app(
        IngestConfig(bootstrap=kafka_bootstrap, topic=topic, rate_per_s=1000, burst=1000),
        TokenStore.load(write_tokens(tmp_path)),
    )
    with RunningServer(app) as server:
        yield server.url, topic


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "gp_comment_card",
        "occurred_at": "2025-03-01T14:30:00+00:00",
        "provider": "B86001",
        "text": "The receptionist was very helpful",
        **fields,
    }


def test_accepted_events_are_on_the_topic_stamped_with_the_tokens_organisation(
    kafka_bootstrap: str, ingest_server: tuple[str, str]
) -> None:
    url, topic = ingest_server
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
    one = requests.post(f"{url}/v1/events", json=event("web-1"), headers=headers, timeout=30)
    assert (one.status_code, one.json()) == (202, {"accepted": 1})
    many = requests.post(
        f"{url}/v1/events",
        json=[event(f"web-{n}", organisation="QWO", rating=2) for n in range(2, 12)],
        headers=headers,
        timeout=30,
    )
    assert (many.status_code, many.json()) == (202, {"accepted": 10})
    # Refused requests send nothing: a bad event in a batch, and another organisation's event.
    refused = requests.post(
        f"{url}/v1/events", json=[event("web-50"), event("web-51", rating=0)], headers=headers, timeout=30
    )
    assert refused.status_code == 400
    foreign = requests.post(
        f"{url}/v1/events",
        json=event("web-60", organisation="QWO"),
        headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
    )
    assert foreign.status_code == 403

    events = asyncio.run(read_topic(kafka_bootstrap, topic, 11))
    assert sorted(e["event_id"] for e in events) == sorted(f"web-{n}" for n in range(1, 12))
    assert {e["organisation"] for e in events} == {"QWO"}
    assert all(
        e["occurred_at"] == "2025-03-01T14:30:00.000Z" and e["received_at"].endswith("Z") for e in events
    )
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    assert 'pxstream_ingest_events_accepted_total{organisation="QWO"} 11.0' in metrics
    assert 'pxstream_ingest_requests_total{route="/v1/events",status="202"} 2.0' in metrics


schema = schemathesis.openapi.from_dict(build_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def credentials_for(case: Any) -> dict[str, str]:
    """Our token for the request, unless schemathesis dropped or spoiled the credentials on purpose.

    A negative case whose header component is negative leaves out (or garbles) Authorization and
    expects a refusal; adding the token back made its request valid, and when the case's other
    mutation did not survive serialisation (requests drops a query parameter whose value is an
    empty list) the server rightly answered 200 and the check called it accepted bad data."""
    components = case.meta.components if case.meta is not None else {}
    header = components.get(ParameterLocation.HEADER)
    if header is not None and header.mode is GenerationMode.NEGATIVE:
        return {}
    return {"Authorization": f"Bearer {TOKEN}"}


def _own_organisation(body: Any) -> Any:
    """Generated events name random organisations (403); name ours where the value is a string,
    so positive cases also reach Kafka. Wrong-typed values stay, keeping negative cases negative."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("organisation"), str):
            item["organisation"] = "QWO"
    return body


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_errors(case, ingest_server_for_schemathesis: str) -> None:  # type: ignore[no-untyped-def]
    if case.body is not None and not isinstance(case.body, (bytes, str)):
        case.body = _own_organisation(case.body)
    # Sent with a plain requests session rather than case.call(): schemathesis 4.32's transport
    # inspects urllib3 pool internals that urllib3-future (pulled in by grafana-client) lacks.
    headers = credentials_for(case)
    kwargs = case.as_transport_kwargs(base_url=ingest_server_for_schemathesis, headers=headers)
    response = SESSION.request(**kwargs, timeout=60)
    case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs=kwargs)


SESSION = requests.Session()


@pytest.fixture(scope="module")
def ingest_server_for_schemathesis(kafka_bootstrap: str, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """One server for every generated case: a topic of its own, deleted afterwards."""
    import uuid

    from infra.broker import delete_topics, ensure_topics
    from schemas.topics import TopicSpec

    topic = f"test-ingest-schemathesis-{uuid.uuid4().hex[:12]}"
    ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    app = create_app(
        IngestConfig(bootstrap=kafka_bootstrap, topic=topic, rate_per_s=10_000, burst=10_000),
        TokenStore.load(write_tokens(tmp_path_factory.mktemp("tokens"))),
    )
    try:
        with RunningServer(app) as server:
            yield server.url
    finally:
        delete_topics(kafka_bootstrap, [topic])


def test_the_cli_serves_until_stopped(kafka_bootstrap: str, new_topic, tmp_path: Path) -> None:
    """`pxstream connect http` as an operator runs it: a subprocess, tokens from the environment."""
    import os
    import signal
    import subprocess
    import sys

    topic = new_topic(prefix="test-ingest-cli")
    port = free_port()
    env = {
        **os.environ,
        "PXSTREAM_INGEST_TOKENS": str(write_tokens(tmp_path)),
        "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
    }
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pxstream",
            "connect",
            "http",
            "--listen",
            f"127.0.0.1:{port}",
            "--topic",
            topic,
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return requests.get(f"{url}/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                return False

        deadline = time.monotonic() + 30
        while not healthy():
            assert time.monotonic() < deadline, "server did not answer /healthz within 30 s"
            time.sleep(0.1)
        response = requests.post(
            f"{url}/v1/events", json=event("cli-1"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        assert (response.status_code, response.json()) == (202, {"accepted": 1})
        assert [e["event_id"] for e in asyncio.run(read_topic(kafka_bootstrap, topic, 1))] == ["cli-1"]
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert TOKEN not in output and "receptionist" not in output


def test_an_event_too_large_for_one_kafka_message_is_refused_by_index_and_nothing_is_sent(
    kafka_bootstrap: str, new_topic, tmp_path: Path
) -> None:
    """A permanent 413 naming the event, not a 503 "retry later"; the events before it are not sent."""
    topic = new_topic(partitions=1, prefix="test-ingest-size")
    limit = 60_000  # below the contract's 100,000-character text, so the test holds whatever other bounds
    app = create_app(
        IngestConfig(
            bootstrap=kafka_bootstrap, topic=topic, rate_per_s=1000, burst=1000, max_event_bytes=limit
        ),
        TokenStore.load(write_tokens(tmp_path)),
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with RunningServer(app) as server:
        batch = [event("size-0"), event("size-1"), event("size-2", text="x" * 70_000), event("size-3")]
        refused = requests.post(f"{server.url}/v1/events", json=batch, headers=headers, timeout=30)
        assert refused.status_code == 413
        body = refused.json()
        assert body["indexes"] == [2]
        assert body["error"].startswith("index 2 is 70,")
        assert "nothing was sent" in body["error"]
        marker = requests.post(
            f"{server.url}/v1/events", json=event("size-marker"), headers=headers, timeout=30
        )
        assert marker.status_code == 202
    events = asyncio.run(read_topic(kafka_bootstrap, topic, 1))
    assert [e["event_id"] for e in events] == ["size-marker"]


def test_the_default_event_limit_leaves_room_under_kafkas_one_message_limit() -> None:
    from aiokafka import AIOKafkaProducer

    from connectors.ingest.server import MAX_EVENT_BYTES

    kafka_limit = AIOKafkaProducer.__init__.__kwdefaults__["max_request_size"]
    assert kafka_limit == 1_048_576  # and the broker's message.max.bytes default is 1,048,588
    assert kafka_limit >= MAX_EVENT_BYTES * 1.25  # a quarter for what tagging adds
