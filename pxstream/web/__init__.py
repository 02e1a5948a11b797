"""The HTTP server on the top floor: ingest, the actions API (docs/actions-api.md), the owners' page
(docs/owners-page.md).

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
    from schemas.settings import Settings


def http_app(settings: Settings, config: IngestConfig, tokens: TokenStore) -> web.Application:
    """The composed server: ingest, the actions API and the owners' page, by PXSTREAM_ACTIONS."""
    from pxstream.web.app import create_app
    from pxstream.web.due import due_clock_for
    from pxstream.web.owners_config import evidence_source, owners_config
    from streams.actions.agent import load_default_actions

    actions = load_default_actions(settings)
    return create_app(
        config,
        tokens,
        due_clock=due_clock_for(actions.calendar),
        owners=owners_config(actions, settings),
        evidence=evidence_source(settings),
    )
