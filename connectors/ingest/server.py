"""The HTTP ingest API (docs/contracts.md, "HTTP ingest API") on aiohttp.

A request is all or nothing: it is authenticated, rate limited, read under a hard size cap,
decoded and validated in full (every problem of every event is listed), each event's encoded size
checked against what Kafka takes in one message, and only then sent;
the 202 goes back once Kafka acknowledged every event. Kafka trouble is a 503 the client can
retry (event ids make the retry harmless), never a 500. Nothing here logs event text or tokens:
log lines carry the route, status, organisation code and event count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connectors.exceptions import BrokerUnavailable
from connectors.ingest.kafka_link import KafkaLink
from connectors.ingest.openapi import MAX_BODY_BYTES, MAX_EVENTS, build_document
from connectors.ingest.tokens import Caller, TokenStore
from connectors.ratelimit import CallerRateLimit, retry_after_header
from schemas import topics
from schemas.feedback_event import InvalidEvent, decode, parse_event

log = logging.getLogger(__name__)
MAX_EVENT_BYTES = 768 * 1024
# What the access log line may say about a request: never the token, never the text.
_ORGANISATION = web.RequestKey("organisation", str)
_EVENTS = web.RequestKey("events", int)


@dataclass(frozen=True)
class IngestConfig:
    bootstrap: str
    topic: str = topics.RAW
    rate_per_s: float = 10.0  # sustained requests per second per token
    burst: int = 20
    max_body_bytes: int = MAX_BODY_BYTES
    max_events: int = MAX_EVENTS
    send_timeout_s: float = 15.0
    connect_timeout_s: float = 5.0
    # An event dated further ahead than this is refused: one mistyped year would drag the
    # partition's event-time watermark forward and make every honest event look late.
    max_future: timedelta = field(default=timedelta(days=1))
    # One event is one Kafka message, and Kafka takes at most 1 MiB (the producer's
    # max_request_size and the broker's message.max.bytes). A quarter is left for what the stream
    # adds to it (tags, evidence, redaction marks), so its TaggedEvent fits too. Larger is a
    # permanent error (413 naming the event), never a 503 that a client would retry for ever.
    max_event_bytes: int = MAX_EVENT_BYTES


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pxstream_ingest_requests",
            "HTTP ingest requests by route and response status",
            ["route", "status"],
            registry=self.registry,
        )
        self.accepted = Counter(
            "pxstream_ingest_events_accepted",
            "Events acknowledged by Kafka, by submitting organisation",
            ["organisation"],
            registry=self.registry,
        )


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    return _json({"error": message, **extra}, status, headers)


def _refused(errors: list[dict[str, Any]]) -> web.Response:
    return _json({"errors": errors}, 400)


async def _read_capped(request: web.Request, cap: int) -> bytes | None:
    """The body, or None as soon as it proves longer than `cap` (never buffering more than cap)."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)


class IngestService:
    def __init__(self, config: IngestConfig, tokens: TokenStore) -> None:
        self.config = config
        self.tokens = tokens
        self.limiter = CallerRateLimit(config.rate_per_s, config.burst)
        self.kafka = KafkaLink(config.bootstrap, config.topic, connect_timeout_s=config.connect_timeout_s)
        self.metrics = _Metrics()
        self.document = orjson.dumps(build_document())

    # -- handlers -----------------------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.Response:
        caller = self.tokens.authenticate(request.headers.get("Authorization"))
        if caller is None:
            return _error(
                401,
                "missing or unknown bearer token (header `Authorization: Bearer <token>`)",
                {"WWW-Authenticate": 'Bearer realm="pxstream"'},
            )
        request[_ORGANISATION] = caller.organisation
        wait = self.limiter.take(caller.key)
        if wait > 0:
            seconds = retry_after_header(wait)
            return _error(
                429, f"over the rate limit for this token; retry after {seconds} s", {"Retry-After": seconds}
            )
        body = await _read_capped(request, self.config.max_body_bytes)
        if body is None:
            return _error(413, f"body is larger than {self.config.max_body_bytes // 2**20} MiB; split it")
        try:
            payload = decode(body)
        except InvalidEvent as exc:
            return _refused([{"index": None, "path": p.path, "message": p.message} for p in exc.problems])
        if isinstance(payload, dict):
            items: list[Any] = [payload]
        elif isinstance(payload, list):
            if not payload:
                return _refused([{"index": None, "path": "", "message": "the array is empty"}])
            if len(payload) > self.config.max_events:
                return _refused(
                    [
                        {
                            "index": None,
                            "path": "",
                            "message": f"{len(payload):,} events; the limit is {self.config.max_events:,}",
                        }
                    ]
                )
            items = payload
        else:
            return _refused(
                [
                    {
                        "index": None,
                        "path": "",
                        "message": "expected a FeedbackEvent object or an array of them",
                    }
                ]
            )

        foreign = self._foreign(items, caller)
        if foreign:
            return _error(
                403,
                f"this token submits for {caller.organisation} only; events name another organisation",
                indexes=foreign,
            )
        events, errors = self._validate(items, caller)
        if errors:
            return _refused(errors)
        oversized = self._oversized(events)
        if oversized:
            named = "; ".join(f"index {i} is {size:,} bytes" for i, size in oversized[:10])
            return _error(
                413,
                f"{named}{' …' if len(oversized) > 10 else ''}: one event may be at most "
                f"{self.config.max_event_bytes:,} bytes as JSON (one Kafka message); nothing was sent",
                indexes=[index for index, _ in oversized],
            )
        request[_EVENTS] = len(events)
        try:
            producer = await self.kafka.producer()
            await asyncio.wait_for(producer.send_many(events), self.config.send_timeout_s)
        except (BrokerUnavailable, KafkaError, TimeoutError, OSError) as exc:
            log.warning("Kafka at %s refused a batch: %s", self.config.bootstrap, type(exc).__name__)
            return _error(
                503,
                f"Kafka is not reachable; nothing was acknowledged. Retry later (the same event_ids are safe "
                f"to re-send). ({type(exc).__name__})",
                {"Retry-After": "5"},
            )
        self.metrics.accepted.labels(caller.organisation).inc(len(events))
        return _json({"accepted": len(events)}, 202)

    def _oversized(self, events: list[Any]) -> list[tuple[int, int]]:
        """(index, bytes) of each event over the limit, checked before anything is sent."""
        sizes = ((index, len(orjson.dumps(event))) for index, event in enumerate(events))
        return [(index, size) for index, size in sizes if size > self.config.max_event_bytes]

    @staticmethod
    def _foreign(items: list[Any], caller: Caller) -> list[int]:
        return [
            index
            for index, item in enumerate(items)
            if isinstance(item, dict)
            and isinstance(item.get("organisation"), str)
            and item["organisation"].strip()
            and item["organisation"].strip().upper() != caller.organisation
        ]

    def _validate(self, items: list[Any], caller: Caller) -> tuple[list[Any], list[dict[str, Any]]]:
        now = datetime.now(UTC)
        events: list[Any] = []
        errors: list[dict[str, Any]] = []
        first_index: dict[str, int] = {}
        for index, item in enumerate(items):
            if isinstance(item, dict):
                # Missing, empty or the caller's own code (any spelling): stamped with the canonical
                # code. Another organisation's code was refused with 403 before this point.
                if item.get("organisation") is None or isinstance(item.get("organisation"), str):
                    item = {**item, "organisation": caller.organisation}
                event_id = item.get("event_id")
                if isinstance(event_id, str):
                    first = first_index.setdefault(event_id, index)
                    if first != index:
                        errors.append(
                            {
                                "index": index,
                                "path": "event_id",
                                "message": f"duplicates the event_id of index {first}",
                            }
                        )
            try:
                events.append(parse_event(item, received=now, max_future=self.config.max_future))
            except InvalidEvent as exc:
                errors.extend({"index": index, "path": p.path, "message": p.message} for p in exc.problems)
        return events, errors

    async def health(self, request: web.Request) -> web.Response:
        if await self.kafka.reachable():
            return _json({"status": "ok", "kafka": self.config.bootstrap})
        return _json({"status": "unavailable", "kafka": self.config.bootstrap}, 503)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=self.document, content_type="application/json")

    async def metrics_page(self, request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    # -- plumbing -----------------------------------------------------------------------------

    @web.middleware
    async def _observe(self, request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # 404, 405 from routing: answered in JSON like the rest
            response = _error(exc.status, exc.reason, {k: v for k, v in exc.headers.items() if k == "Allow"})
        route = (
            request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        )
        self.metrics.requests.labels(route, str(response.status)).inc()
        if route == "/v1/events":
            log.info(
                "%s %s %d organisation=%s events=%s %.1f ms",
                request.method,
                route,
                response.status,
                request.get(_ORGANISATION, "-"),
                request.get(_EVENTS, "-"),
                (time.perf_counter() - started) * 1000,
            )
        return response

    async def _close(self, app: web.Application) -> None:
        await self.kafka.close()

    def app(self) -> web.Application:
        application = web.Application(middlewares=[self._observe], client_max_size=self.config.max_body_bytes)
        application.router.add_post("/v1/events", self.submit)
        application.router.add_get("/healthz", self.health)
        application.router.add_get("/openapi.json", self.openapi)
        application.router.add_get("/metrics", self.metrics_page)
        application.on_cleanup.append(self._close)
        return application


def create_app(config: IngestConfig, tokens: TokenStore) -> web.Application:
    return IngestService(config, tokens).app()
