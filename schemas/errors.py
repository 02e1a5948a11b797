"""The single root of pxstream's own exceptions.

Every package raises a subclass with a message that names *what* failed and *where* (file,
rule id, field, host:port). The CLI turns any of them into one line on stderr and a
non-zero exit, so a person waiting at a terminal never sees a traceback for a known failure.
"""

from __future__ import annotations


class PxstreamError(Exception):
    """A failure with a message fit for an operator."""

    exit_code: int = 1


class ConfigError(PxstreamError):
    """Configuration (rules file, tokens file, mapping file, environment) is invalid."""

    exit_code = 2


class UnreachableError(PxstreamError):
    """A service pxstream depends on (Kafka, ClickHouse, Alertmanager) does not answer."""

    exit_code = 3
