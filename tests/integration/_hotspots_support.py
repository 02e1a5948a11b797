"""Helpers for the hotspot integration tests: a real Alertmanager we can stop and start, the
hotspots-only Faust worker as a subprocess we can kill -9, and small Kafka read/write helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from streams.hotspots.alertmanager import topic_partitions

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, message: str, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------ Kafka


def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            response = await admin.create_topics([NewTopic(n, p, 1) for n, p in partitions.items()])
            errors = [e for e in response.topic_errors if e[1] not in (0, 36)]  # 36: already exists
            assert not errors, errors
        finally:
            await admin.close()

    asyncio.run(run())


def produce(bootstrap: str, topic: str, events: Iterable[dict[str, Any]]) -> None:
    """Send TaggedEvents keyed by provider (as the tagger does) and wait for every ack."""
    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            futures = [
                await producer.send(topic, orjson.dumps(e), key=(e.get("provider") or "").encode())
                for e in events
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(run())


def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic up to its current end: (partition, offset, key, decoded value)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> list[Any]:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        if not tps:
            return []
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            out = []
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        value = None if r.value is None else orjson.loads(r.value)
                        out.append((r.partition, r.offset, r.key, value))
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def committed(bootstrap: str, group: str, topic: str) -> int:
    """Offsets the consumer group has committed on ``topic``, summed over its partitions."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def run_admin() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)

    return asyncio.run(run_admin())


def end_offsets(bootstrap: str, topic: str) -> int:
    """Records ever written to ``topic`` (its end offsets), summed over its partitions."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.hotspots.alertmanager import topic_partitions

    async def run() -> int:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        assert tps, f"{topic} has no partitions"
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            return sum((await consumer.end_offsets(tps)).values())
        finally:
            await consumer.stop()

    return asyncio.run(run())


def read_alerts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [value for _, _, _, value in sorted(read_all(bootstrap, topic), key=lambda r: (r[0], r[1]))]


def read_table(bootstrap: str, changelog_topic: str) -> dict[str, Any]:
    """The hotspot table as its changelog says it is (latest value per key)."""
    state: dict[str, Any] = {}
    for _, _, key, value in sorted(read_all(bootstrap, changelog_topic), key=lambda r: (r[0], r[1])):
        if value is None:
            state.pop(key.decode(), None)
        else:
            state[key.decode()] = value
    return state


# ------------------------------------------------------------------------------ processes


class Alertmanager:
    """A real Alertmanager on a free loopback port, which a test may stop and start again."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "alertmanager.yml"
        self.config.write_text(
            "route:\n  receiver: blackhole\n  group_wait: 1s\n  group_interval: 1s\n"
            "receivers:\n  - name: blackhole\n"
        )

    def start(self) -> Alertmanager:
        self.process = subprocess.Popen(
            [
                ALERTMANAGER_BIN,
                f"--config.file={self.config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=(self.workdir / "alertmanager.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self.ready, 20, f"Alertmanager ready on {self.url}")
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def alerts(self, rule: str | None = None, active_only: bool = False) -> list[dict[str, Any]]:
        query = "?active=true&silenced=true&inhibited=true"
        if not active_only:
            query += "&unprocessed=true"
        if rule:
            query += "&filter=" + urllib.request.quote(f'rule="{rule}"')
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts{query}", timeout=5) as response:
            return orjson.loads(response.read())


class HotspotWorker:
    """``python -m streams.hotspots.standalone`` as a subprocess (its own session, for kill -9)."""

    def __init__(
        self,
        workdir: Path,
        *,
        bootstrap: str,
        rules: Path,
        tagged: str,
        alerts: str,
        partitions: int,
        alertmanager_url: str = "",
        app_id: str | None = None,
        tick_interval: float = 0.5,
        quiet_after: float = 1.0,
        resend_interval: float = 60.0,
        session_timeout: float = 10.0,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.app_id = app_id or unique("hotspots-test")
        self.args = [
            PYTHON,
            "-m",
            "streams.hotspots.standalone",
            "--id",
            self.app_id,
            "--tagged",
            tagged,
            "--alerts",
            alerts,
            "--partitions",
            str(partitions),
            "--datadir",
            str(workdir / "data"),
            "--web-port",
            str(free_port()),
            "--tick-interval",
            str(tick_interval),
            "--quiet-after",
            str(quiet_after),
            "--resend-interval",
            str(resend_interval),
            "--session-timeout",
            str(session_timeout),
        ]
        self.env = {
            **os.environ,
            "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "PXSTREAM_RULES": str(rules),
            "PXSTREAM_ALERTMANAGER_URL": alertmanager_url,
            "PYTHONPATH": str(REPO),
        }
        self.log = workdir / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def changelog_topic(self) -> str:
        return f"{self.app_id}-hotspot-state-changelog"

    def start(self) -> HotspotWorker:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
        self.process = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        marker = f"===== start {self.starts} ====="
        wait_until(
            lambda: self._alive() and "Worker]: Ready" in self.log.read_text().split(marker)[-1],
            90,
            f"hotspot worker ready (log {self.log})",
        )
        return self

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"hotspot worker exited with {self.process.returncode}; log {self.log}")
        return True

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
