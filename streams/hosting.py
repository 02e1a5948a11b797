"""Running a runtime loop (docs/runtime.md) as a task of the Faust worker, the same way for every stage.

A loop that gives up has committed nothing past the batch it failed on. The worker then stops with
a non-zero status so a supervisor restarts it, rather than leave a process that looks alive (its
`/healthz` answering, its other stages running) while this stage does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from runtime.loop import ConsumeLoop

log = logging.getLogger(__name__)


def run_in_worker(app: Any, loop: ConsumeLoop, stage: str) -> None:
    """Register `loop.run()` as a task of `app`; a failure is logged as "<stage> stopped" and
    crashes the app."""

    async def run_stage() -> None:
        try:
            await loop.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.critical("%s stopped: %s: %s", stage, type(exc).__name__, exc)
            await app.crash(exc)

    run_stage.__qualname__ = f"run_stage[{stage}]"  # Faust names the task's traces after it
    app.task(run_stage)
