"""Test helpers for the source connectors: reference data, an in-memory sink, a topic reader.

`StandInReference` follows the `connectors.reference.ReferenceData` API (get / resolve / mentions)
over a handful of organisations, so connector tests do not depend on the ODS files.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class StandInOrganisation:
    code: str
    name: str
    kind: str
    commissioner: str | None = None
    parent: str | None = None
    postcode: str | None = None
    active: bool = True
    aliases: tuple[str, ...] = field(default_factory=tuple)


ORGANISATIONS = (
    StandInOrganisation(
        "RX1",
        "Nottingham University Hospitals NHS Trust",
        "trust",
        commissioner="QT1",
        aliases=("NUH", "Nottingham University Hospitals", "@NUHhospitals"),
    ),
    StandInOrganisation(
        "RX1RA", "Queen's Medical Centre", "site", commissioner="QT1", parent="RX1", aliases=("QMC",)
    ),
    StandInOrganisation(
        "RHA",
        "Nottinghamshire Healthcare NHS Foundation Trust",
        "trust",
        commissioner="QT1",
        aliases=("Notts Healthcare",),
    ),
    StandInOrganisation("C84001", "Elmwood Surgery", "gp_practice", commissioner="QT1"),
)


class StandInReference:
    def __init__(self, organisations: Iterable[StandInOrganisation] = ORGANISATIONS) -> None:
        self._by_code = {org.code: org for org in organisations}
        self._patterns: list[tuple[int, re.Pattern[str], StandInOrganisation]] = []
        for org in self._by_code.values():
            for term in (org.name, *org.aliases):
                if term.startswith("@"):
                    pattern = re.compile(re.escape(term) + r"\b", re.IGNORECASE)
                else:
                    hashtag = "#" + re.sub(r"[^A-Za-z0-9]", "", term)
                    pattern = re.compile(
                        rf"(?<![\w#])(?:{re.escape(term)}|{re.escape(hashtag)})(?!\w)", re.IGNORECASE
                    )
                specificity = 2 if org.kind == "site" else 1
                self._patterns.append((specificity, pattern, org))

    @classmethod
    def empty(cls) -> StandInReference:
        return cls(())

    def get(self, code: str) -> StandInOrganisation | None:
        return self._by_code.get(code)

    def resolve(self, name: str) -> StandInOrganisation | None:
        found = self.mentions(name)
        return found[0] if found else None

    def mentions(self, text: str) -> list[StandInOrganisation]:
        hits: dict[str, tuple[int, StandInOrganisation]] = {}
        for specificity, pattern, org in self._patterns:
            if pattern.search(text):
                hits[org.code] = (specificity, org)
        return [org for _, org in sorted(hits.values(), key=lambda item: -item[0])]


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
