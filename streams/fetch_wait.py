"""Shorter broker fetch waits for Faust's consumer: the hotspot stage's alert latency depends on it.

Faust (0.15.x, ``faust/transport/drivers/aiokafka.py``) builds its aiokafka consumer with a fixed
``fetch_max_wait_ms=1500`` and no setting to change it. aiokafka keeps one fetch request in flight
per broker; a request that only covers partitions with nothing new (the hotspot ticks topic, a quiet
provider's partition, or busy partitions whose last records are still buffered) is held by the
broker for the full 1.5 s, and records arriving meanwhile on the busy partitions wait behind it.
Measured on the worker under 1,000 events/s: the hotspot agent ran a steady ~1.7 s behind the
tagger (alert latency p50 ≈ p99 ≈ 1.6–2.6 s) while the process was far from CPU-bound; with 20 ms
the alert arrives ~70 ms (p50) after the crossing event.

The wait is set on each aiokafka consumer Faust creates for its worker, through the one hook
Faust has for it; an idle worker then sends about 1/wait fetch requests per second.

Since the hotspot stage became a runtime tenant, its own consumer asks for ``FETCH_MAX_WAIT_MS``
(a public aiokafka setting) and no stage reads through Faust's consumer, so the worker no longer
installs this: at 20 ms Faust's consumer sent about 50 empty fetches a second per worker, each
costing the broker about 0.7 ms of CPU on a busy machine and the worker a thread waking for the
GIL (docs/benchmarks.md, "Scaling"). ``install`` stays for a Faust stream that needs it again.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 20
_installed: dict[str, int] = {}


def install(fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS) -> bool:
    """Make Faust's worker consumers use ``fetch_max_wait_ms``; idempotent, process-wide.

    Returns False (and Faust keeps its 1.5 s) when this Faust version lacks the hook, so an
    upgrade degrades latency rather than breaking the worker.
    """
    _installed["ms"] = int(fetch_max_wait_ms)
    try:
        from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    except ImportError:  # pragma: no cover - another transport
        log.warning("Faust's aiokafka driver not found: fetch_max_wait stays at Faust's default")
        return False
    original = getattr(AIOKafkaConsumerThread, "_create_worker_consumer", None)
    if original is None:  # pragma: no cover - a Faust without the hook
        log.warning("Faust has no _create_worker_consumer: fetch_max_wait stays at Faust's default")
        return False
    if getattr(original, "_pxstream_fetch_wait", False):
        return True

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        if hasattr(consumer, "_fetch_max_wait_ms"):  # read when the consumer starts its fetcher
            consumer._fetch_max_wait_ms = _installed["ms"]
        return consumer

    create_worker_consumer._pxstream_fetch_wait = True  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
    return True
