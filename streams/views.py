"""The worker's web pages: `/metrics` for Prometheus and `/healthz` for supervisors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.metrics import Health

if TYPE_CHECKING:
    import faust


def register_views(app: faust.App, health: Health) -> None:
    from prometheus_client import REGISTRY, generate_latest

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # One registry for the process: tagging, hotspot and sink metrics all appear here.
        return web.bytes(generate_latest(REGISTRY), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ok, report = health.report()
        return web.json(report, status=200 if ok else 503)
