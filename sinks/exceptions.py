"""The sink's errors, all under `schemas.errors.PxstreamError` so the CLI prints one line."""

from __future__ import annotations

from schemas.errors import ConfigError, PxstreamError, UnreachableError

__all__ = [
    "ConfigError",
    "EngineBusyError",
    "MigrationError",
    "ReadOnlyQueryError",
    "SinkError",
    "UnreachableError",
]


class SinkError(PxstreamError):
    """Root of sink failures that are not plain configuration or reachability problems."""


class EngineBusyError(SinkError):
    """The embedded engine's data directory is locked by another process.

    chDB runs the ClickHouse engine inside the process and takes an exclusive lock on its data
    directory, so only one process at a time can open it.
    """

    exit_code = 3


class MigrationError(SinkError):
    """A schema migration file failed; the message names the file and statement."""


class ReadOnlyQueryError(SinkError):
    """`pxstream sql` was given something other than a read-only query."""

    exit_code = 2
