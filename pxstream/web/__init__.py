"""The HTTP server on the top floor: ingest, the actions API (docs/actions-api.md).

`http_app` is what `pxstream connect http` serves. It is handed to that command by
`pxstream.cli` (the connector may not import the floor above it), and imports aiohttp and the
actions stage's calendar only when called, so `pxstream --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from connectors.ingest.server import IngestConfig
    from connectors.ingest.tokens import TokenStore


def http_app(config: IngestConfig, tokens: TokenStore) -> web.Application:
    """The composed server: ingest routes plus the actions routes, deadlines by PXSTREAM_ACTIONS."""
    from pxstream.web.app import create_app
    from pxstream.web.due import due_clock_from_env

    return create_app(config, tokens, due_clock=due_clock_from_env())
