"""Faust smoke test: a small agent in a real worker process against the real Kafka 4.x broker.

Proves the pairing the project relies on (faust-streaming 0.15 + aiokafka 0.14 on a Kafka 4 broker
with automatic topic creation off): the worker joins a group, reads an event, keeps a changelogged
table (Faust creates the changelog topic through the admin API) and writes to an output topic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from infra.broker import delete_topics
from infra.procs import free_port, tail
from tests.conftest import wait_for
from tests.support.kafka import produce_json, read_all, topic_names

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP_SOURCE = textwrap.dedent(
    '''
    """A throw-away Faust app: count events per provider, echo each with its running count."""
    import json
    import os

    import faust

    app = faust.App(
        os.environ["SMOKE_APP_ID"],
        broker=f"kafka://{os.environ['SMOKE_BOOTSTRAP']}",
        store="memory://",
        web_host="127.0.0.1",
        web_port=int(os.environ["SMOKE_WEB_PORT"]),
        datadir=os.environ["SMOKE_DATADIR"],
        topic_partitions=1,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
    )
    source = app.topic(os.environ["SMOKE_IN"], value_serializer="raw", key_serializer="raw")
    sink = app.topic(os.environ["SMOKE_OUT"], value_serializer="raw", key_serializer="raw")
    counts = app.Table("counts", default=int, partitions=1)


    @app.agent(source)
    async def tag(stream):
        async for event in stream.events():
            payload = json.loads(event.value)
            counts[payload["provider"]] += 1
            payload["seen"] = counts[payload["provider"]]
            await sink.send(key=event.key, value=json.dumps(payload).encode())
    '''
)


def test_faust_worker_processes_an_event_and_writes_the_output_topic(
    kafka_bootstrap: str,
    new_topic,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    source, sink = new_topic(partitions=1, prefix="smoke-in"), new_topic(partitions=1, prefix="smoke-out")
    app_id = f"pxstream-smoke-{uuid.uuid4().hex[:10]}"
    (tmp_path / "smoke_app.py").write_text(APP_SOURCE)
    events = [
        {"event_id": "e1", "source": "fft", "provider": "RJ1", "text": "Kind staff."},
        {"event_id": "e2", "source": "fft", "provider": "RJ1", "text": "Long wait."},
        {"event_id": "e3", "source": "pals", "provider": "RYJ", "text": "Lost property."},
    ]
    produce_json(kafka_bootstrap, source, events)  # keyed by provider

    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]),
        SMOKE_APP_ID=app_id,
        SMOKE_BOOTSTRAP=kafka_bootstrap,
        SMOKE_WEB_PORT=str(free_port()),
        SMOKE_DATADIR=str(tmp_path / "faust-data"),
        SMOKE_IN=source,
        SMOKE_OUT=sink,
    )
    log_file = tmp_path / "worker.log"
    with open(log_file, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "smoke_app", "-l", "info", "worker"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        output = wait_for(
            lambda: (
                (worker.poll() is None or pytest.fail(f"worker exited:\n{tail(log_file, 40)}"))
                and len(got := [value for *_, value in read_all(kafka_bootstrap, sink)]) >= 3
                and got
            ),
            timeout=120,
            message=f"3 events on {sink} (worker log {log_file})",
            interval=0.5,
        )
        assert [(e["event_id"], e["seen"]) for e in output] == [("e1", 1), ("e2", 2), ("e3", 1)]
        assert {e["event_id"]: {k: v for k, v in e.items() if k != "seen"} for e in output} == {
            e["event_id"]: e for e in events
        }
        topics = topic_names(kafka_bootstrap)
        assert f"{app_id}-counts-changelog" in topics, "Faust created its changelog with auto-create off"
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        own = [t for t in topic_names(kafka_bootstrap) if t.startswith(app_id)]
        delete_topics(kafka_bootstrap, own)
    assert worker.returncode in (0, -signal.SIGTERM), tail(log_file, 40)
