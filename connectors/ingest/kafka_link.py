"""The ingest server's connection to Kafka: connected lazily, re-established after a failure.

The server must start, answer `/healthz` with 503 and refuse submissions with 503 while Kafka
is down, then recover on its own when Kafka returns. One connection attempt at a time (the
others wait for its outcome), and none more often than every `retry_s` seconds, so a flood of
requests during an outage does not become a flood of connection attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from connectors.exceptions import BrokerUnavailable
from connectors.producer import FeedbackProducer


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    addresses = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if host and port.isdigit():
            addresses.append((host.strip("[]"), int(port)))
    return addresses


class KafkaLink:
    def __init__(
        self, bootstrap: str, topic: str, *, connect_timeout_s: float = 5.0, retry_s: float = 2.0
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._connect_timeout_s = connect_timeout_s
        self._retry_s = retry_s
        self._producer: FeedbackProducer | None = None
        self._lock = asyncio.Lock()
        self._failed_at = -1e9
        self._last_error = ""

    async def producer(self) -> FeedbackProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() - self._failed_at < self._retry_s:
                raise BrokerUnavailable(self._last_error)
            candidate = FeedbackProducer(
                self.bootstrap,
                topic=self.topic,
                connect_timeout_s=self._connect_timeout_s,
                linger_ms=5,
                client_id="pxstream-ingest-http",
            )
            try:
                await candidate.__aenter__()
            except BrokerUnavailable as exc:
                self._failed_at = time.monotonic()
                self._last_error = str(exc)
                raise
            self._producer = candidate
            return candidate

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether any bootstrap server accepts a TCP connection right now."""
        for host, port in bootstrap_addresses(self.bootstrap):
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
            except (OSError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.__aexit__(None, None, None)
