"""RSS/Atom connector against a local HTTP server serving recorded feeds, ending on the real broker.

The server speaks conditional GET the way real feed servers do (ETag + Last-Modified, 304 when
unchanged), so the test checks that a restart sends If-None-Match and that an updated feed yields
only its new entries: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.news.rss import FeedConfig, RssSource
from connectors.runtime import RunOptions, run_source
from tests.support.connectors import LocalServer, data_file, nottingham_reference
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


class FeedServer:
    def __init__(self) -> None:
        self.documents = {
            "/health.rss": ("v1", data_file("news", "local-paper.rss.xml"), "application/rss+xml"),
            "/feed.atom": ("a1", data_file("news", "regional.atom.xml"), "application/atom+xml"),
        }
        self.requests: list[tuple[str, str | None, int]] = []
        self.app = web.Application()
        self.app.router.add_get("/{name}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        version, body, content_type = self.documents[request.path]
        etag = f'"{version}"'
        if request.headers.get("If-None-Match") == etag:
            self.requests.append((request.path, request.headers.get("If-None-Match"), 304))
            return web.Response(status=304, headers={"ETag": etag})
        self.requests.append((request.path, request.headers.get("If-None-Match"), 200))
        return web.Response(
            body=body,
            headers={
                "ETag": etag,
                "Last-Modified": "Tue, 24 Nov 2026 10:02:11 GMT",
                "Content-Type": f"{content_type}; charset=utf-8",
            },
        )


def test_feeds_conditional_get_and_resume_without_gap_or_duplicate(
    kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    server = FeedServer()
    reference = nottingham_reference()

    async def one_pass(base: str) -> None:
        feeds = [FeedConfig(f"{base}/health.rss"), FeedConfig(f"{base}/feed.atom")]
        await run_source(
            RssSource(feeds, reference),
            bootstrap=kafka_bootstrap,
            topic=topic,
            options=RunOptions(name="rss-test", data_dir=tmp_path, once=True, max_retries=0),
        )

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(server.app) as local:
            await one_pass(local.base_url)
            await one_pass(local.base_url)  # restart, nothing changed: two 304s
            server.documents["/health.rss"] = (
                "v2",
                data_file("news", "local-paper-update.rss.xml"),
                "application/rss+xml",
            )
            await one_pass(local.base_url)  # restart after the feed changed: only the new entry
        return await read_topic(kafka_bootstrap, topic, expected=4)

    events = asyncio.run(scenario())

    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)) == 4
    by_id = {e["event_id"]: e for e in events}
    qmc = by_id["news:chronicle-9871234"]
    assert qmc["source"] == "local_media"
    assert (qmc["provider"], qmc["site"], qmc["organisation"]) == ("RX1", "RX1RA", "QT1")
    assert qmc["occurred_at"] == "2026-11-24T09:15:00.000Z"
    assert "<strong>" not in qmc["text"] and "Queen's Medical Centre" in qmc["text"]
    assert qmc["attributes"]["url"].endswith("9871234")
    assert by_id["news:chronicle-9870555"]["provider"] == "C84001"
    atom = by_id["news:tag:eastmidlands-health.example,2026-11-24:/stories/4411"]
    assert atom["provider"] == "RX1" and atom["occurred_at"] == "2026-11-24T11:00:00.000Z"
    assert by_id["news:chronicle-9872001"]["provider"] == "RHA"
    # unmatched stories (garden, weather) are not feedback about any provider
    assert not any("garden" in e["text"] or "Snow" in e["text"] for e in events)
    # the restarts asked conditionally and were answered 304
    health = [r for r in server.requests if r[0] == "/health.rss"]
    assert health == [("/health.rss", None, 200), ("/health.rss", '"v1"', 304), ("/health.rss", '"v1"', 200)]
    assert [r[2] for r in server.requests if r[0] == "/feed.atom"] == [200, 304, 304]
