"""Is Kafka answering? Asked once by each foreground command before it starts its loops.

A person who starts `pxstream worker` or `pxstream sink` against a broker that is not there must
get one line and exit 3 within seconds, not a process that retries for ever and logs every attempt
(docs/operations-errors.md). Long-running loops keep their own retries for outages that begin
later; this is only the question at the door. It sits beside the settings it reads, on the ground
floor, so every stage's command can ask it (the shared Kafka runtime may adopt it).
"""

from __future__ import annotations

import asyncio
import logging

from schemas.errors import UnreachableError

BROKER_CONNECT_TIMEOUT_S = 10.0


def check_broker(bootstrap: str, timeout_s: float = BROKER_CONNECT_TIMEOUT_S) -> None:
    """Raise UnreachableError naming host:port unless the Kafka bootstrap servers answer."""
    from aiokafka.client import AIOKafkaClient

    async def probe() -> None:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
        finally:
            await client.close()

    # aiokafka logs every failed attempt; the one line below says it all.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        asyncio.run(probe())
    except Exception as exc:
        raise UnreachableError(
            f"Kafka is not reachable at {bootstrap} (PXSTREAM_KAFKA_BOOTSTRAP): "
            f"{exc or type(exc).__name__}; start it with `pxstream infra up`"
        ) from None
    finally:
        aiokafka_log.setLevel(level)
