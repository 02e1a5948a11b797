"""The run loop every source connector shares: fetch → map → validate → produce → save cursor.

A connector only describes its source (`Source.batches`: read from a cursor, yield mapped
candidate events with the cursor that covers them). This module does everything that must be
the same for all of them, so it is right once:

* validation and normalisation with `schemas.feedback_event.parse_event`;
* one Kafka batch per source batch, and the cursor saved **only after Kafka acknowledged it**,
  so a crash can re-send a batch but never skip one (no gap);
* de-duplication by (`organisation`, `event_id`) across restarts (schemas/identity.py): the
  cursor file also keeps the identities of the most recent events sent, so a source that
  rewinds on resume (Jetstream: "a few seconds"; RSS: the whole feed again; Care Opinion: the
  same publication second) never produces a duplicate;
* retries with exponential backoff and full jitter, honouring a source's own `retry_after`;
* progress on stderr and Prometheus counters labelled by connector.

A candidate that fails validation is still sent, unchanged, to `feedback.raw`: the stream's
validator then files it in `feedback.dlq` with its reason code, so nothing is lost and an operator
can see why. It is counted in `pxstream_connector_errors_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from prometheus_client import Counter

from connectors.cursor import CursorStore
from connectors.exceptions import BrokerUnavailable, ConnectorConfigError, ConnectorError, SourceUnavailable
from runtime.backoff import Backoff
from schemas.feedback_event import InvalidEvent, parse_event
from schemas.identity import identity_of

log = logging.getLogger(__name__)


def lazy_import(name: str) -> Any:
    """A module that is loaded on first attribute use.

    `pxstream --help` imports every connector module to register its subcommand; with this the
    network libraries (aiohttp) are only loaded when a connector actually runs.
    """
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


aiohttp = lazy_import("aiohttp")

EVENTS_TOTAL = Counter(
    "pxstream_connector_events", "Events a connector put on Kafka (acknowledged)", ["connector"]
)
ERRORS_TOTAL = Counter(
    "pxstream_connector_errors",
    "Source failures, retries and invalid candidate events, per connector",
    ["connector"],
)
DUPLICATES_TOTAL = Counter(
    "pxstream_connector_duplicates_skipped",
    "Events not re-sent because their event_id was already acknowledged",
    ["connector"],
)


@dataclass
class Batch:
    """Mapped candidate events and the source position that is safe to save once they are on Kafka.

    `cursor=None` means "no new position" (for instance a page that was filtered to nothing
    in the middle of a stream): the events are still sent and the previous cursor kept.
    """

    events: list[dict[str, Any]]
    cursor: dict[str, Any] | None = None


class Source(ABC):
    """One external source. Subclasses read from a cursor and yield batches; nothing else.

    `batches` ends when the source has nothing more *for now* (a polled API or feed read to its
    end); the runtime then waits `poll_interval_s` and calls it again with the newest cursor.
    A streaming source (websocket, SSE) yields for as long as the connection lives; when it ends
    the runtime reconnects from the saved cursor.
    """

    #: the connector kind, e.g. "rss" (the instance name used for metrics and cursor is separate)
    kind: str = "source"
    poll_interval_s: float | None = 60.0
    #: how many recent event ids the cursor remembers to drop replays after a rewind
    dedupe_window: int = 5000

    async def open(self) -> None:
        """Create sessions / connections that live for the whole run."""
        return None

    async def close(self) -> None:
        """Release what `open` created."""
        return None

    @abstractmethod
    def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        """Yield batches from `cursor` onwards (an empty dict on the first ever run)."""

    def describe(self, cursor: dict[str, Any]) -> str:
        """A short position for progress lines; never personal data."""
        return ""


class EventSink(Protocol):
    async def send_many(self, events: Iterable[dict[str, Any]]) -> int: ...


class RecentIds:
    """An insertion-ordered, bounded set of event identities: the replay filter kept in the cursor
    file. A cursor written before identities held the organisation lists bare ids, which match
    nothing now: after that upgrade a rewinding source re-sends its recent window once, and the
    stream and the sink, which key by identity too, drop the copies."""

    def __init__(self, ids: Iterable[str] = (), limit: int = 5000) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()
        for event_id in ids:
            self.add(event_id)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def to_list(self) -> list[str]:
        return list(self._ids)


class Progress:
    """One line on stderr at most every `every_s` seconds, and one at the end: people see it move."""

    def __init__(self, name: str, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.name = name
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.sent = 0
        self.invalid = 0
        self.duplicates = 0
        self.errors = 0
        self._last = 0.0

    def update(self, position: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        where = f", at {position}" if position else ""
        print(
            f"{self.name}: {self.sent} sent ({self.invalid} invalid → DLQ), "
            f"{self.duplicates} replayed duplicates skipped, {self.errors} source errors{where}",
            file=self.stream,
            flush=True,
        )


def transient_errors() -> tuple[type[BaseException], ...]:
    """Failures worth retrying: the source or the network misbehaved. Configuration errors are not."""
    return (SourceUnavailable, BrokerUnavailable, aiohttp.ClientError, ConnectionError, TimeoutError, OSError)


@dataclass
class RunOptions:
    name: str
    data_dir: Path
    once: bool = False  # one pass over a polled source, then exit (cron-style)
    max_retries: int | None = None  # None: retry for ever (a daemon); tests bound it
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    progress_every_s: float = 5.0


class ConnectorRun:
    """Drives one Source into one EventSink until stopped; the state that outlives a batch."""

    def __init__(
        self,
        source: Source,
        sink: EventSink,
        options: RunOptions,
        *,
        progress_stream: TextIO | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.options = options
        self.store = CursorStore(options.data_dir, options.name)
        self.progress = Progress(options.name, progress_stream, options.progress_every_s)
        self.stop_event = asyncio.Event()
        stored = self.store.load()
        self.cursor: dict[str, Any] = stored.get("position", {})
        self.recent = RecentIds(stored.get("recent_event_ids", []), limit=source.dedupe_window)
        self._label = options.name

    def stop(self) -> None:
        self.stop_event.set()

    async def run(self) -> None:
        backoff = Backoff(self.options.backoff_base_s, self.options.backoff_cap_s)
        failures = 0
        await self.source.open()
        try:
            while not self.stop_event.is_set():
                try:
                    await self._one_pass()
                    backoff.reset()
                    failures = 0
                except ConnectorConfigError:
                    raise
                except transient_errors() as exc:
                    failures += 1
                    self.progress.errors += 1
                    ERRORS_TOTAL.labels(self._label).inc()
                    if self.options.max_retries is not None and failures > self.options.max_retries:
                        raise _as_connector_error(exc, self.options.name) from exc
                    delay = backoff.next_delay(getattr(exc, "retry_after", 0.0))
                    log.warning("%s: %s; retrying in %.1fs", self.options.name, _describe(exc), delay)
                    await self._sleep(delay)
                    continue
                if self.options.once:
                    break
                interval = self.source.poll_interval_s
                await self._sleep(interval if interval is not None else 0.0)
        finally:
            self.progress.update(self.source.describe(self.cursor), force=True)
            await self.source.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)

    async def _one_pass(self) -> None:
        """Read batches until the source ends or `stop` is set.

        A stop interrupts only the wait for the *next* batch, never a delivery: a batch is
        either acknowledged and recorded in the cursor, or not sent at all by this run.
        """
        stream = self.source.batches(dict(self.cursor))
        iterator = aiter(stream)
        try:
            while not self.stop_event.is_set():
                next_batch = asyncio.ensure_future(anext(iterator))
                stopped = asyncio.ensure_future(self.stop_event.wait())
                await asyncio.wait({next_batch, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not next_batch.done():
                    next_batch.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await next_batch
                    break
                try:
                    batch = next_batch.result()
                except StopAsyncIteration:
                    break
                await self._deliver(batch)
        finally:
            with contextlib.suppress(RuntimeError):
                await stream.aclose()  # type: ignore[attr-defined]

    async def _deliver(self, batch: Batch) -> None:
        received = datetime.now(UTC)
        outgoing: list[dict[str, Any]] = []
        seen_in_batch: set[str] = set()
        for candidate in batch.events:
            event_id = candidate.get("event_id")
            identity = identity_of(candidate)
            if identity is not None and (identity in self.recent or identity in seen_in_batch):
                self.progress.duplicates += 1
                DUPLICATES_TOTAL.labels(self._label).inc()
                continue
            try:
                outgoing.append(dict(parse_event(candidate, received=received)))
            except InvalidEvent as exc:
                # Sent as it is, so the stream dead-letters it with the reason; the text is not logged.
                self.progress.invalid += 1
                ERRORS_TOTAL.labels(self._label).inc()
                log.warning("%s: event %r is invalid (%s)", self.options.name, event_id, exc.reason_code)
                outgoing.append(candidate)
            if identity is not None:
                seen_in_batch.add(identity)
        if outgoing:
            await self.sink.send_many(outgoing)  # returns only once Kafka acknowledged every event
        for identity in seen_in_batch:
            self.recent.add(identity)
        if batch.cursor is not None:
            self.cursor = batch.cursor
        if outgoing or batch.cursor is not None:
            self.store.save({"position": self.cursor, "recent_event_ids": self.recent.to_list()})
        self.progress.sent += len(outgoing)
        EVENTS_TOTAL.labels(self._label).inc(len(outgoing))
        self.progress.update(self.source.describe(self.cursor))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _as_connector_error(exc: BaseException, name: str) -> ConnectorError:
    if isinstance(exc, ConnectorError):
        return exc
    return SourceUnavailable(f"{name}: giving up after repeated failures: {_describe(exc)}")


async def run_source(
    source: Source,
    *,
    bootstrap: str,
    topic: str,
    options: RunOptions,
    metrics_port: int | None = None,
    stop: asyncio.Event | None = None,
) -> ConnectorRun:
    """Run one source against Kafka until it finishes (`once`) or `stop` is set."""
    from connectors.producer import FeedbackProducer

    if metrics_port is not None:
        start_metrics_server(metrics_port)
    async with FeedbackProducer(bootstrap, topic=topic) as producer:
        run = ConnectorRun(source, producer, options)
        watcher = None
        if stop is not None:
            watcher = asyncio.create_task(_propagate(stop, run))
        try:
            await run.run()
        finally:
            if watcher is not None:
                watcher.cancel()
        return run


async def _propagate(stop: asyncio.Event, run: ConnectorRun) -> None:
    await stop.wait()
    run.stop()


_metrics_started: set[int] = set()


def start_metrics_server(port: int, addr: str = "127.0.0.1") -> None:
    """Expose /metrics for Prometheus; once per process and port (the YAML runner shares one)."""
    from prometheus_client import start_http_server

    if port in _metrics_started:
        return
    try:
        start_http_server(port, addr=addr)
    except OSError as exc:
        raise ConnectorConfigError(f"cannot serve metrics on {addr}:{port}: {exc}") from exc
    _metrics_started.add(port)
