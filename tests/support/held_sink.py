"""`python -m tests.support.held_sink STAGE MARKER [pxstream sink options]`: the production sink
(`pxstream sink`) that stops dead the first time a flush reaches STAGE, for kill -9 tests.

STAGE is "journaled" (batch ranges recorded, nothing inserted) or "inserted" (rows stored,
offsets not committed). On reaching it the process writes its pid to MARKER and sleeps, so the
test can `kill -9` it at exactly that point. The hook rides on the writer's `on_stage` observer;
nothing of it ships in the product.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any


def hold_at(stage: str, marker: str) -> Callable[[str], None]:
    def hold(reached: str) -> None:
        if reached == stage:
            with open(marker, "w") as file:
                file.write(str(os.getpid()))
            while True:
                time.sleep(3600)

    return hold


def main(argv: list[str]) -> int:
    from pxstream.cli import main as pxstream_main
    from sinks.writer import ClickHouseWriter

    stage, marker, *options = argv
    hold = hold_at(stage, marker)
    original_init = ClickHouseWriter.__init__

    def init_with_hold(self: ClickHouseWriter, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.on_stage = hold

    ClickHouseWriter.__init__ = init_with_hold  # type: ignore[method-assign]
    return pxstream_main(["sink", *options])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
