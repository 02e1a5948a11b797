"""A dependency-free progress bar on stderr: redraws in place on a terminal, a line every few
seconds in a log (so `connect file` under systemd or CI still shows it is alive)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, *, stream: TextIO | None = None, interval_s: float | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.interval_s = interval_s if interval_s is not None else (0.2 if self.interactive else 5.0)
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, rows: int, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        fraction = min(done / total, 1.0) if total else 0.0
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        line = f"{self.label} [{bar}] {fraction:6.1%} {rows:>10,} rows {rows / elapsed:>9,.0f} rows/s"
        if self.interactive:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, rows: int, done: int, total: int) -> None:
        self.update(rows, done, total, force=True)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
