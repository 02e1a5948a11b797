"""The one HTTP server people and source systems talk to: ingest, the actions API, the owners' page.

It reads from several floors (the ingest connector, the actions stage's topics and clock), so it
is composed here on the top floor (docs/actions-api.md): the ingest app as
connectors/ingest/server.py builds it, with the actions routes added to the same router, the same
bearer tokens, the same per-token rate limit and request metrics, and one OpenAPI document for all.
"""

from __future__ import annotations

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from connectors.ingest.server import IngestConfig, IngestService
from connectors.ingest.tokens import TokenStore
from pxstream.web.actions_api import ActionsApi, ActionsApiConfig
from pxstream.web.actions_requests import DueClock
from pxstream.web.actions_view import ActionsView
from pxstream.web.openapi import build_document
from pxstream.web.owners_evidence import EvidenceSource
from pxstream.web.owners_page import OwnersPage, OwnersPageConfig


def create_app(
    config: IngestConfig,
    tokens: TokenStore,
    *,
    due_clock: DueClock,
    actions: ActionsApiConfig | None = None,
    owners: OwnersPageConfig | None = None,
    evidence: EvidenceSource | None = None,
) -> web.Application:
    """The served application; `actions` overrides the actions topics (tests use their own);
    `owners` adds the owners' page (docs/owners-page.md) on the same view and change path."""
    actions = actions or ActionsApiConfig(bootstrap=config.bootstrap)
    ingest = IngestService(config, tokens)
    ingest.document = orjson.dumps(build_document())
    app = ingest.app()
    view = ActionsView(actions.bootstrap, actions.actions_topic)
    api = ActionsApi(actions, tokens, ingest.limiter, view, due_clock)
    api.add_routes(app)
    _export_view_metrics(view, ingest.metrics.registry)
    if owners is not None:
        OwnersPage(owners, view, api, evidence).add_routes(app)
    return app


def _export_view_metrics(view: ActionsView, registry: CollectorRegistry) -> None:
    """On the server's /metrics: whether the view is complete, its size, what it had to skip."""
    for name, documentation, read in (
        (
            "pxstream_actions_view_ready",
            "1 once the actions topic has been read to its end at start",
            view.ready_value,
        ),
        (
            "pxstream_actions_view_actions",
            "Actions held in the server's view of the actions topic",
            view.__len__,
        ),
        (
            "pxstream_actions_view_refused",
            "Records on the actions topic that are not an Action v1",
            view.refused_value,
        ),
    ):
        Gauge(name, documentation, registry=registry).set_function(read)
