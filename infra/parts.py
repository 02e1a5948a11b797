"""What every local part (Kafka, Alertmanager, Prometheus) tells the stack about itself.

A part knows how to get ready (fetch, format, render its config), which command runs it, how to
ask it whether it answers, and which file in its command line marks a process as one that this
data dir started. The stack (`infra/stack.py`) does the rest the same way for all of them.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from infra.config import LOOPBACK, InfraConfig
from schemas.errors import PxstreamError

Progress = Callable[[str], None]


class InfraError(PxstreamError):
    """A local part could not be prepared, started or stopped."""


class MissingToolError(InfraError):
    """A program a part needs is not installed."""


class LocalPart(ABC):
    name: str  # short id: file names, CLI arguments
    title: str  # for people
    startup_timeout: float = 60.0

    def __init__(self, config: InfraConfig) -> None:
        self.config = config

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    @abstractmethod
    def port(self) -> int:
        """The port that says the part is up (clients connect here)."""

    @property
    def extra_ports(self) -> tuple[int, ...]:
        """Other ports the part binds; a foreign holder of one of them is a conflict too."""
        return ()

    @property
    def port_variables(self) -> dict[int, str]:
        """Which environment variable moves each port (named in conflict messages)."""
        return {}

    @property
    def pid_file(self) -> Path:
        return self.config.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.config.log_dir / f"{self.name}.log"

    @property
    def state_dirs(self) -> tuple[Path, ...]:
        """What `down --purge` deletes for this part."""
        return ()

    @property
    @abstractmethod
    def marker(self) -> str:
        """A path that appears in the command line of a process this data dir started."""

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"

    def check_installed(self) -> None:  # noqa: B027 - optional hook
        """Raise MissingToolError naming the package when a program is missing."""

    def prepare(self, progress: Progress) -> None:  # noqa: B027 - optional hook
        """Everything before the first start: fetch, format, render config. Idempotent."""

    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def answers(self, timeout: float = 3.0) -> bool:
        """A real request to the service (not just an open port)."""

    def log_hint(self) -> str:
        return f"see {self.log_file}"


def require_program(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise MissingToolError(
            f"{program} not found on PATH: install the Debian package '{package}' (scripts/setup.sh does)"
        )
    return path
