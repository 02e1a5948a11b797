"""The owners' page's configuration, from the settings (schemas/settings.py; docs/owners-page.md).

`PXSTREAM_WEB_SECRET` signs links and sessions (the actions stage signs its notification links
with the same one); without it the page serves nothing but the sign-in explanation.
`PXSTREAM_PUBLIC_URL` is the page's address as people reach it (https in production: cookies are
then `Secure` with the `__Host-` prefix). The calendar and the escalation chains are the actions
stage's own, read from `PXSTREAM_ACTIONS` with its loader.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pxstream.web.owners_evidence import EvidenceSource
from pxstream.web.owners_page import OwnersPageConfig
from schemas.settings import Settings
from streams.actions.config import ActionsConfig
from streams.actions.engine import ActionEngine
from streams.actions.links import SECRET_ENV
from streams.hotspots.alertmanager import DASHBOARD_PATH

log = logging.getLogger(__name__)


def owners_config(actions: ActionsConfig, settings: Settings) -> OwnersPageConfig:
    secret = settings.web.secret_key
    if secret is None:
        log.warning("owners' page: %s is not set (32+ characters): links and sign-in are off", SECRET_ENV)
    engine = ActionEngine(actions, redactor=lambda text: text)

    def chain_for(action: Mapping[str, Any]) -> tuple[str, ...]:
        return engine._chain(action)  # the stage's own reading of the directory, not a copy of it

    directory = frozenset(name for owner in actions.owners for name in (owner.owner, *owner.escalate_to))
    return OwnersPageConfig(
        secret=secret,
        calendar=actions.calendar,
        chain_for=chain_for,
        directory=directory,
        public_url=settings.web.public_url,
        grafana_url=settings.grafana.url,
        hotspot_dashboard_path=DASHBOARD_PATH,
    )


def evidence_source(settings: Settings) -> EvidenceSource | None:
    """ClickHouse for the triggering items when it is a server; None for the embedded engine, which
    allows one process per data directory and belongs to the worker's sink."""
    url = settings.clickhouse_url
    if not url.startswith(("http://", "https://")):
        return None
    from sinks.client import connect

    return EvidenceSource(lambda: connect(url))
