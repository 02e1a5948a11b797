"""The shared run loop: cursor after ack, replay de-duplication, retries, stop, rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.cursor import CursorStore
from connectors.exceptions import BrokerUnavailable, ConnectorConfigError, SourceUnavailable
from connectors.http_limits import RateLimited, check_status, retry_after_seconds
from connectors.ratelimit import RequestPacer
from connectors.runtime import EVENTS_TOTAL, Batch, ConnectorRun, RecentIds, RunOptions, Source
from tests.support.connectors import MemorySink


def candidate(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"t:{n}",
        "source": "web_form",
        "occurred_at": f"2026-11-24T10:{n % 60:02d}:00+01:00",
        "text": f"story {n}",
        **extra,
    }


class ListSource(Source):
    """Pages of candidates; the cursor is the index of the next page."""

    kind = "test"
    poll_interval_s = 0.0

    def __init__(self, pages: list[list[dict[str, Any]]], rewind: int = 0) -> None:
        self.pages = pages
        self.rewind = rewind
        self.calls: list[dict[str, Any]] = []
        self.failures: list[BaseException] = []

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        self.calls.append(dict(cursor))
        if self.failures:
            raise self.failures.pop(0)
        start = max(0, cursor.get("page", 0) - self.rewind)
        for index in range(start, len(self.pages)):
            yield Batch(self.pages[index], cursor={"page": index + 1})


def options(tmp_path: Path, **kw: Any) -> RunOptions:
    return RunOptions(
        name="unit", data_dir=tmp_path, once=True, backoff_base_s=0.001, backoff_cap_s=0.01, **kw
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_events_are_validated_normalised_and_cursor_saved_after_ack(tmp_path: Path) -> None:
    sink = MemorySink()
    source = ListSource([[candidate(1), candidate(2)], [candidate(3)]])
    before = EVENTS_TOTAL.labels("unit")._value.get()
    run(ConnectorRun(source, sink, options(tmp_path)).run())
    assert [e["event_id"] for e in sink.events] == ["t:1", "t:2", "t:3"]
    assert sink.events[0]["occurred_at"] == "2026-11-24T09:01:00.000Z"
    assert "received_at" in sink.events[0]
    assert CursorStore(tmp_path, "unit").load()["position"] == {"page": 2}
    assert EVENTS_TOTAL.labels("unit")._value.get() - before == 3


def test_invalid_candidate_is_still_sent_for_the_dead_letter_queue(tmp_path: Path) -> None:
    sink = MemorySink()
    bad = candidate(9, severity="catastrophic")
    connector = ConnectorRun(ListSource([[candidate(1), bad]]), sink, options(tmp_path))
    run(connector.run())
    assert [e["event_id"] for e in sink.events] == ["t:1", "t:9"]
    assert sink.events[1]["severity"] == "catastrophic"  # unchanged: the stream dead-letters it
    assert connector.progress.invalid == 1


def test_lost_ack_keeps_cursor_and_restart_resends_without_gap(tmp_path: Path) -> None:
    pages = [[candidate(1)], [candidate(2)], [candidate(3)]]
    sink = MemorySink()
    first = ListSource(pages)
    sink.fail_next = None
    connector = ConnectorRun(first, sink, options(tmp_path, max_retries=0))

    async def fail_on_second(events: Any) -> int:
        if sink.batches == 1:
            raise BrokerUnavailable("broker went away")
        return await MemorySink.send_many(sink, events)

    sink.send_many = fail_on_second  # type: ignore[method-assign]
    with pytest.raises(BrokerUnavailable):
        run(connector.run())
    assert CursorStore(tmp_path, "unit").load()["position"] == {"page": 1}

    resumed_sink = MemorySink()
    resumed = ListSource(pages)
    run(ConnectorRun(resumed, resumed_sink, options(tmp_path)).run())
    assert resumed.calls == [{"page": 1}]
    assert [e["event_id"] for e in sink.events + resumed_sink.events] == ["t:1", "t:2", "t:3"]


def test_rewinding_source_produces_no_duplicate_after_restart(tmp_path: Path) -> None:
    pages = [[candidate(1), candidate(2)], [candidate(3)], [candidate(4)]]
    sink = MemorySink()
    run(ConnectorRun(ListSource(pages[:2], rewind=5), sink, options(tmp_path)).run())
    # restart: the source replays everything from the start (rewind) plus one new page
    run(ConnectorRun(ListSource(pages, rewind=5), sink, options(tmp_path)).run())
    ids = [e["event_id"] for e in sink.events]
    assert ids == ["t:1", "t:2", "t:3", "t:4"]


def test_duplicate_ids_within_one_batch_are_sent_once(tmp_path: Path) -> None:
    sink = MemorySink()
    run(ConnectorRun(ListSource([[candidate(1), candidate(1)]]), sink, options(tmp_path)).run())
    assert len(sink.events) == 1


def test_two_organisations_events_with_one_id_are_both_sent_across_restarts(tmp_path: Path) -> None:
    """The replay filter keys by (organisation, event_id): one organisation's id hides nothing of
    another's, while each one's replay after a restart is still dropped."""
    pages = [[candidate(1, organisation="QKK")], [candidate(1, organisation="QWE")]]
    sink = MemorySink()
    run(ConnectorRun(ListSource(pages, rewind=5), sink, options(tmp_path)).run())
    run(ConnectorRun(ListSource(pages, rewind=5), sink, options(tmp_path)).run())  # replays both
    assert [(e["organisation"], e["event_id"]) for e in sink.events] == [("QKK", "t:1"), ("QWE", "t:1")]


def test_transient_source_errors_are_retried_then_succeed(tmp_path: Path) -> None:
    sink = MemorySink()
    source = ListSource([[candidate(1)]])
    source.failures = [SourceUnavailable("down"), ConnectionResetError("reset")]
    connector = ConnectorRun(source, sink, options(tmp_path, max_retries=5))
    run(connector.run())
    assert len(source.calls) == 3
    assert [e["event_id"] for e in sink.events] == ["t:1"]
    assert connector.progress.errors == 2


def test_gives_up_after_max_retries_with_the_reason(tmp_path: Path) -> None:
    source = ListSource([[candidate(1)]])
    source.failures = [SourceUnavailable("feed down")] * 4
    with pytest.raises(SourceUnavailable, match="feed down"):
        run(ConnectorRun(source, MemorySink(), options(tmp_path, max_retries=2)).run())
    assert len(source.calls) == 3


def test_configuration_errors_are_not_retried(tmp_path: Path) -> None:
    source = ListSource([[candidate(1)]])
    source.failures = [ConnectorConfigError("bad key")]
    with pytest.raises(ConnectorConfigError):
        run(ConnectorRun(source, MemorySink(), options(tmp_path, max_retries=5)).run())
    assert len(source.calls) == 1


def test_rate_limited_waits_at_least_retry_after(tmp_path: Path) -> None:
    source = ListSource([[candidate(1)]])
    source.failures = [RateLimited("429", retry_after=0.3)]
    started = time.monotonic()
    run(ConnectorRun(source, MemorySink(), options(tmp_path, max_retries=3)).run())
    assert time.monotonic() - started >= 0.3


class ForeverSource(Source):
    kind = "forever"

    def __init__(self) -> None:
        self.closed = False

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        yield Batch([candidate(1)], cursor={"n": 1})
        await asyncio.Event().wait()  # a quiet websocket
        yield Batch([])  # pragma: no cover

    async def close(self) -> None:
        self.closed = True


def test_stop_interrupts_a_quiet_stream_after_the_last_ack(tmp_path: Path) -> None:
    sink = MemorySink()
    source = ForeverSource()
    connector = ConnectorRun(source, sink, RunOptions(name="quiet", data_dir=tmp_path))

    async def scenario() -> None:
        task = asyncio.create_task(connector.run())
        deadline = time.monotonic() + 5
        while not sink.events and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        connector.stop()
        await asyncio.wait_for(task, timeout=5)

    run(scenario())
    assert len(sink.events) == 1
    assert source.closed
    assert CursorStore(tmp_path, "quiet").load()["position"] == {"n": 1}


def test_recent_ids_is_bounded_and_keeps_the_newest() -> None:
    recent = RecentIds(limit=3)
    for n in range(5):
        recent.add(str(n))
    assert recent.to_list() == ["2", "3", "4"]
    assert "0" not in recent and "4" in recent


def test_rate_limiter_spaces_requests() -> None:
    async def scenario() -> float:
        limiter = RequestPacer(rate=20, burst=1)
        started = time.monotonic()
        for _ in range(6):
            await limiter.acquire()
        return time.monotonic() - started

    elapsed = run(scenario())
    assert elapsed >= 5 / 20 * 0.9


def test_retry_after_reads_epoch_reset_seconds_and_http_dates() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) + 3)}, now=now) == 3.0
    assert retry_after_seconds({"Retry-After": "7"}, now=now) == 7.0
    assert retry_after_seconds({"X-RateLimit-Reset": "2"}, now=now) == 2.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) - 10)}, now=now) == 0.0
    assert retry_after_seconds({}, now=now) == 1.0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ConnectorConfigError),
        (302, ConnectorConfigError),
        (404, ConnectorConfigError),
        (429, RateLimited),
        (503, SourceUnavailable),
    ],
)
def test_http_status_maps_to_the_right_error(status: int, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"HTTP {status}"):
        check_status(status, {"X-RateLimit-Reset": "1"}, "test https://example")
    check_status(200, {}, "ok")
    check_status(304, {}, "ok")


def test_metrics_are_served_by_connector_name_and_progress_goes_to_stderr(tmp_path: Path) -> None:
    import io
    import urllib.request

    from connectors.runtime import start_metrics_server
    from infra.procs import free_port

    port = free_port()
    start_metrics_server(port)
    progress = io.StringIO()
    source = ListSource([[candidate(1), candidate(2, severity="bad")]])
    connector = ConnectorRun(
        source,
        MemorySink(),
        RunOptions(name="metrics-unit", data_dir=tmp_path, once=True),
        progress_stream=progress,
    )
    run(connector.run())
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'pxstream_connector_events_total{connector="metrics-unit"} 2.0' in body
    assert 'pxstream_connector_errors_total{connector="metrics-unit"} 1.0' in body
    assert "metrics-unit: 2 sent (1 invalid → DLQ)" in progress.getvalue()
