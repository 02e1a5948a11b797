"""Faust's worker consumer gets our fetch wait instead of its fixed 1.5 s (streams/fetch_wait.py)."""

from __future__ import annotations

import asyncio

from streams import fetch_wait


def test_faust_worker_consumer_uses_the_short_fetch_wait() -> None:
    import faust

    async def build() -> int:
        assert fetch_wait.install(35)
        assert fetch_wait.install(35)  # idempotent: the hook is wrapped once
        app = faust.App("pxstream-fetch-wait-test", broker="kafka://127.0.0.1:9", autodiscover=False)
        thread = app.consumer._thread
        consumer = thread._create_worker_consumer(app.transport)
        return consumer._fetch_max_wait_ms

    try:
        assert asyncio.run(build()) == 35
    finally:
        fetch_wait.install()  # back to the default for the rest of the process
