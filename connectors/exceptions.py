"""Errors raised by connectors, all under the project's single root (`schemas.errors`)."""

from __future__ import annotations

from schemas.errors import ConfigError, PxstreamError, UnreachableError


class ConnectorError(PxstreamError):
    """A connector failed in a way an operator must hear about."""


class ConnectorConfigError(ConnectorError, ConfigError):
    """A connector's options, mapping file or credentials are unusable."""


class SourceUnavailable(ConnectorError, UnreachableError):
    """The external source (API, feed, mailbox) did not answer; the connector backs off."""


class BrokerUnavailable(ConnectorError, UnreachableError):
    """Kafka did not answer at the configured bootstrap servers."""
