"""Control of a stage run as a child process in tests: is it alive, kill -9 it, stop it.

The hotspot worker and the actions stage wrappers start their processes differently; stopping
and killing them is the same, so it lives here once.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


class StageProcess:
    """Subclasses set `process` when they start one and `log` to its log file."""

    name = "stage"
    stop_timeout_s = 20.0
    process: subprocess.Popen[bytes] | None = None
    log: Path

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}; log {self.log}")
        return True

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
