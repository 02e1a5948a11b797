"""The ClickHouse sink's test harness: realistic TaggedEvents, the sink on its own event loop, an
outage switch at the client boundary, and the recount that proves each event stored once."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import defaultdict
from typing import Any

from tests.support.kafka import produce_json

PLANTED = ("943 476 5919", "07700 900123", "Jane Smith", "jane.smith@example.org")
DOMAINS = ["safe_high_quality_care", "access_and_waiting", "clean_comfortable_place"]


def tagged_event(i: int, prefix: str, rng: random.Random) -> dict[str, Any]:
    domains = rng.sample(DOMAINS, rng.choice([0, 1, 2]))
    return {
        "event_id": f"{prefix}-{i}",
        "source": rng.choice(["complaint", "fft", "incident", "pals"]),
        "occurred_at": f"2026-{1 + i % 2:02d}-{1 + i % 28:02d}T{i % 24:02d}:15:00Z",
        "received_at": "2026-03-01T00:00:00Z",
        "organisation": "QWE",
        "provider": f"RX{i % 5}",
        "ward": f"Ward {i % 4}",
        "text": "[NAME] waited on the ward",
        "domains": domains,
        "domain_scores": {d: 0.7 for d in domains},
        "themes": ["waiting"],
        "sentiment": rng.choice([-0.8, -0.1, 0.0, 0.6]),
        "evidence": [],
        "redactions": {"name": 1},
        "tagger_version": "test-tagger",
    }


def raw_feedback_with_personal_data(i: int) -> dict[str, Any]:
    """A FeedbackEvent that skipped the redactor: no tagger_version, no redactions."""
    return {
        "event_id": f"raw-{i}",
        "source": "complaint",
        "occurred_at": "2026-01-05T10:00:00Z",
        "provider": "RX1",
        "text": f"NHS number {PLANTED[0]}, call {PLANTED[1]}, ask for {PLANTED[2]} ({PLANTED[3]})",
    }


def alert(status: str, alert_id: str, count: int) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule_id": "ward-incidents-24h",
        "status": status,
        "group": {"provider": "RX1", "ward": "Ward 2"},
        "window_start": "2026-01-05T00:00:00Z",
        "window_end": "2026-01-06T00:00:00Z",
        "count": count,
        "threshold": 5,
        "severity": "warning",
        "description": "Five or more incidents on one ward within 24 hours",
        "fired_at": "2026-01-05T12:00:00Z",
        "resolved_at": "2026-01-06T03:00:00Z" if status == "resolved" else None,
        "sample_event_ids": ["a", "b"],
    }


def produce(bootstrap: str, topic: str, records: list[dict[str, Any]], key_field: str = "provider") -> None:
    produce_json(
        bootstrap, topic, records, key=lambda r: str(r.get(key_field) or r.get("alert_id") or "").encode()
    )


def expected_daily(events: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in events:
        for domain in event["domains"] or [""]:
            counts[(event["occurred_at"][:10], domain)] += 1
    return dict(counts)


def stored_daily(client) -> dict[tuple[str, str], int]:
    rows = client.query("SELECT toString(day), domain, sum(events) FROM feedback_daily GROUP BY day, domain")
    return {(day, domain): count for day, domain, count in rows.result_rows}


def assert_exactly_once(client, events: list[dict[str, Any]]) -> None:
    n = len({e["event_id"] for e in events})
    assert client.query("SELECT count() FROM feedback_events FINAL").result_rows[0][0] == n
    assert client.query("SELECT count(), uniqExact(event_id) FROM feedback_events").result_rows[0] == (n, n)
    hourly_total = client.query("SELECT sum(events) FROM feedback_hourly").result_rows[0][0]
    assert hourly_total == sum(max(1, len(e["domains"])) for e in events)
    assert stored_daily(client) == expected_daily(events)


class SinkThread:
    """The sink on its own event loop, as it runs inside the worker, stoppable from the test."""

    def __init__(self, make_coro) -> None:
        self._make_coro = make_coro
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.ticks = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            ticker = asyncio.create_task(self._tick())
            self._ready.set()
            try:
                await self._make_coro(self.stop_event)
            finally:
                ticker.cancel()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    async def _tick(self) -> None:
        """Stands in for the rest of the worker: it must keep running whatever ClickHouse does."""
        while True:
            await asyncio.sleep(0.05)
            self.ticks += 1

    def __enter__(self) -> SinkThread:
        self.thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)
        assert not self.thread.is_alive(), "sink did not stop"
        assert self.error is None, repr(self.error)


class FlakyClient:
    """The real engine's client behind a switch: while `down`, every call fails like a dropped
    connection. chDB runs in-process and cannot be taken away mid-run, so the outage is injected
    at the client boundary; everything else (broker, engine, sink) is real."""

    def __init__(self, real, switch: dict[str, bool]) -> None:
        self._real = real
        self._switch = switch

    def __getattr__(self, name: str):
        attribute = getattr(self._real, name)
        if name in ("insert", "query", "command") and callable(attribute):

            def guarded(*args, **kwargs):
                from clickhouse_connect.driver.exceptions import OperationalError

                if self._switch["down"]:
                    raise OperationalError("Error connecting to 127.0.0.1:8123 (injected outage)")
                return attribute(*args, **kwargs)

            return guarded
        return attribute


def sink_behind_switch(
    bootstrap: str, url: str, tagged: str, alerts: str, config: Any
) -> tuple[Any, dict[str, bool]]:
    """A sink on the real engine at `url` whose client fails while `switch["down"]` is True;
    its group is `sink-<tagged topic>`."""
    from schemas.settings import Settings
    from sinks.client import connect
    from sinks.runner import KafkaClickHouseSink

    settings = Settings.from_env({"PXSTREAM_KAFKA_BOOTSTRAP": bootstrap, "PXSTREAM_CLICKHOUSE_URL": url})
    switch = {"down": False}
    sink = KafkaClickHouseSink(
        settings,
        tagged_topic=tagged,
        alerts_topic=alerts,
        group_id=f"sink-{tagged}",
        config=config,
        client_factory=lambda: FlakyClient(connect(url), switch),
    )
    return sink, switch
