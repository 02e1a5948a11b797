"""Test helpers for the source connectors: reference data, an in-memory sink, local servers,
a topic reader."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any

import orjson

from connectors.reference import Aliases, Organisation, ReferenceData


def nottingham_reference() -> ReferenceData:
    """A handful of real-shaped organisations and curated aliases, through the real ReferenceData."""
    organisations = [
        Organisation("RX1", "Nottingham University Hospitals NHS Trust", "trust", "QT1", "", "NG7 2UH", True),
        Organisation("RX1RA", "Queen's Medical Centre", "site", "QT1", "RX1", "NG7 2UH", True),
        Organisation(
            "RHA", "Nottinghamshire Healthcare NHS Foundation Trust", "trust", "QT1", "", "NG3 6AA", True
        ),
        Organisation("C84001", "Elmwood Surgery", "gp_practice", "QT1", "", "NG5 1AA", True),
    ]
    aliases = [
        Aliases(
            "RX1",
            names=("NUH", "Nottingham University Hospitals"),
            hashtags=("NUH",),
            handles=("@NUHhospitals",),
        ),
        Aliases("RX1RA", names=("QMC", "Queen's Medical Centre")),
        Aliases("RHA", names=("Notts Healthcare",)),
    ]
    return ReferenceData.from_records(organisations, aliases=aliases)


class MemorySink:
    """An EventSink that records batches; `fail_next` makes the next send raise (a lost ack)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.batches = 0
        self.fail_next: BaseException | None = None

    async def send_many(self, events: Iterable[dict[str, Any]]) -> int:
        batch = list(events)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.events.extend(batch)
        self.batches += 1
        return len(batch)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_topic(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """Every value on `topic` (from the beginning) once at least `expected` arrived, then a short
    quiet period so that extra (duplicate) messages would be seen too."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    values: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    quiet_until: float | None = None
    try:
        while True:
            now = loop.time()
            if len(values) >= expected and quiet_until is None:
                quiet_until = now + 1.5
            if quiet_until is not None and now >= quiet_until:
                break
            if now >= deadline:
                break
            records = await consumer.getmany(timeout_ms=200)
            for batch in records.values():
                values.extend(orjson.loads(record.value) for record in batch)
    finally:
        await consumer.stop()
    return values


class LocalServer:
    """An aiohttp application on a free loopback port, for the duration of an `async with`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._runner: Any = None

    async def __aenter__(self) -> LocalServer:
        from aiohttp import web

        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def data_file(*parts: str) -> bytes:
    from pathlib import Path

    return Path(__file__).parent.joinpath("data", "sources", *parts).read_bytes()
