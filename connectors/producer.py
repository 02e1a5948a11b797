"""Putting FeedbackEvents on `feedback.raw`: the one way every connector writes to Kafka.

Each connector hands over validated, normalised events and gets control back only once Kafka
has acknowledged all of them (acks=all, idempotent producer). A connector advances its cursor
only after that, which is what makes "restart with no gap" true: the worst case after a crash is
re-sending a batch whose acknowledgement was lost, and `event_id` (from the source's own id)
lets every later stage collapse that duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from connectors.exceptions import BrokerUnavailable
from schemas import topics
from schemas.feedback_event import FeedbackEvent

log = logging.getLogger(__name__)


def event_key(event: FeedbackEvent | dict[str, Any]) -> bytes:
    """Key by provider so one provider's events, and so its windows, stay in one partition."""
    return str(event.get("provider") or "").encode("utf-8")


class FeedbackProducer:
    """An async context manager around one AIOKafkaProducer tuned for durability over latency."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = topics.RAW,
        connect_timeout_s: float = 10.0,
        linger_ms: int = 20,
        client_id: str = "pxstream-connector",
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._connect_timeout_s = connect_timeout_s
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            compression_type="gzip",
            max_batch_size=1024 * 1024,
            request_timeout_ms=30_000,
        )

    async def __aenter__(self) -> FeedbackProducer:
        try:
            await asyncio.wait_for(self._producer.start(), timeout=self._connect_timeout_s)
        except (TimeoutError, KafkaConnectionError, KafkaError, OSError) as exc:
            await self._producer.stop()
            raise BrokerUnavailable(
                f"Kafka is not reachable at {self.bootstrap} (PXSTREAM_KAFKA_BOOTSTRAP): "
                f"{exc or type(exc).__name__}; "
                "start it with `pxstream infra up` or point PXSTREAM_KAFKA_BOOTSTRAP at your cluster"
            ) from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._producer.stop()

    async def send_many(self, events: Iterable[FeedbackEvent | dict[str, Any]]) -> int:
        """Send a batch and wait until Kafka has acknowledged every event; returns how many were sent."""
        futures = [
            await self._producer.send(self.topic, orjson.dumps(event), key=event_key(event))
            for event in events
        ]
        if futures:
            await asyncio.gather(*futures)
        return len(futures)

    async def send_raw(self, values: Sequence[tuple[bytes | None, bytes]]) -> int:
        """Send pre-encoded (key, value) pairs unchanged: replaying files and dead letters as sent."""
        futures = [await self._producer.send(self.topic, value, key=key) for key, value in values]
        if futures:
            await asyncio.gather(*futures)
        return len(futures)
