"""Care Opinion API v2 and NHS.UK reviews against a local server with recorded JSON pages.

The server behaves like the real APIs where it matters: the Care Opinion subscription-key header
(a wrong key is redirected to a login page, as the API documents), `publishedafter` / `take` /
`skip` paging in publication order, a 429 with `X-RateLimit-Reset` in UNIX epoch seconds, per-story
tag requests, and the NHS.UK `subscription-key` header with `odsCode` / `fromDate` / `offset` / `limit`.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.exceptions import ConnectorConfigError
from connectors.reviews.careopinion import CareOpinionSource
from connectors.reviews.nhs_reviews import NhsReviewsSource
from connectors.runtime import RunOptions, run_source
from tests.support.connectors import LocalServer, data_file, nottingham_reference
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

KEY = "test-subscription-key"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class ReviewsServer:
    def __init__(self) -> None:
        recording = json.loads(data_file("careopinion", "opinions.json"))
        self.opinions: list[dict[str, Any]] = recording["opinions"]
        self.later: list[dict[str, Any]] = recording["published_later"]
        self.tags: dict[str, Any] = json.loads(data_file("careopinion", "tags.json"))
        self.comments = json.loads(data_file("nhsuk", "comments-RX1RA.json"))
        self.rate_limit_once_at_skip: int | None = 2
        self.reset_at: int | None = None
        self.retry_seen_at: float | None = None
        self.opinion_queries: list[dict[str, str]] = []
        self.request_times: list[float] = []
        self.nhs_queries: list[dict[str, str]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/v2/opinions", self.opinions_page)
        self.app.router.add_get("/api/v2/opinions/{id}/tags", self.opinion_tags)
        self.app.router.add_get("/comments/Comments", self.nhs_comments)

    def publish_later_stories(self) -> None:
        self.opinions = self.opinions + self.later

    def _authorised(self, request: web.Request) -> bool:
        self.request_times.append(time.monotonic())
        return request.headers.get("Authorization") == f"SUBSCRIPTION_KEY {KEY}"

    async def opinions_page(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            raise web.HTTPFound("/account/login?ReturnUrl=%2Fapi%2Fv2%2Fopinions")
        query = dict(request.query)
        skip, take = int(query.get("skip", 0)), int(query.get("take", 10))
        if self.rate_limit_once_at_skip == skip:
            self.rate_limit_once_at_skip = None
            self.reset_at = int(time.time()) + 2
            return web.json_response(
                {"message": "Rate limit exceeded"},
                status=429,
                headers={
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(self.reset_at),
                },
            )
        if self.reset_at is not None and skip == 2 and self.retry_seen_at is None:
            self.retry_seen_at = time.time()
        self.opinion_queries.append(query)
        after = _utc(query["publishedafter"].rstrip("Z"))
        matching = [o for o in self.opinions if _utc(o["dateOfPublication"]) > after]
        matching.sort(key=lambda o: (o["dateOfPublication"], o["id"]))
        return web.json_response(matching[skip : skip + take])

    async def opinion_tags(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            raise web.HTTPFound("/account/login")
        return web.json_response(self.tags.get(request.match_info["id"], []))

    async def nhs_comments(self, request: web.Request) -> web.Response:
        if request.headers.get("subscription-key") != KEY:
            return web.json_response(
                {"statusCode": 401, "message": "Access denied due to invalid subscription key."}, status=401
            )
        query = dict(request.query)
        self.nhs_queries.append(query)
        items = [
            c
            for c in self.comments["comments"]
            if c["comment"]["odsCode"] == query["odsCode"]
            and c["comment"]["dateSubmitted"][:10] >= query["fromDate"]
        ]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return web.json_response({"comments": items[offset : offset + limit], "totalCount": len(items)})


def test_care_opinion_pages_honours_429_and_resumes_without_gap_or_duplicate(
    kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    server = ReviewsServer()
    reference = nottingham_reference()

    async def one_pass(base: str) -> None:
        source = CareOpinionSource(
            KEY, reference, base_url=f"{base}/api/v2", since=_utc("2026-11-01T00:00:00"), take=2
        )
        await run_source(
            source,
            bootstrap=kafka_bootstrap,
            topic=topic,
            options=RunOptions(name="co-test", data_dir=tmp_path, once=True, max_retries=0),
        )

    first_run_requests: list[float] = []

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(server.app) as local:
            await one_pass(local.base_url)
            first_run_requests.extend(server.request_times)
            server.publish_later_stories()
            await one_pass(local.base_url)
        return await read_topic(kafka_bootstrap, topic, expected=6)

    events = asyncio.run(scenario())
    ids = [e["event_id"] for e in events]
    assert ids == [
        "careopinion:1204417",
        "careopinion:1204452",
        "careopinion:1204460",
        "careopinion:1204511",
        "careopinion:1204598",
        "careopinion:1204650",
    ]
    # the 429 was honoured: the retried page came after the reset second
    assert server.reset_at is not None and server.retry_seen_at is not None
    assert server.retry_seen_at >= server.reset_at - 0.05
    # paging then resume from the newest publication date (minus one second)
    assert [(q["skip"], q["take"]) for q in server.opinion_queries[:3]] == [
        ("0", "2"),
        ("2", "2"),
        ("4", "2"),
    ]
    assert server.opinion_queries[-1]["publishedafter"] == "2026-11-20T16:44:59Z"
    # never more than 5 requests in any one second (within one run)
    times = first_run_requests
    assert all(times[i + 5] - times[i] >= 0.95 for i in range(len(times) - 5))
    first = events[0]
    assert first["source"] == "web_form" and first["severity"] == "severe"
    assert (first["provider"], first["site"], first["organisation"]) == ("RX1", "RX1RA", "QT1")
    assert (
        "ko41a:waiting_times" in first["category_codes"] and "careopinion:nurses" in first["category_codes"]
    )
    assert first["occurred_at"] == "2026-11-18T21:40:12.000Z"
    assert "author" not in json.dumps(first["attributes"])


def test_syndicated_nhs_review_becomes_the_same_event_as_the_care_opinion_story(
    kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    server = ReviewsServer()
    server.rate_limit_once_at_skip = None
    reference = nottingham_reference()

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(server.app) as local:
            options = RunOptions(name="co", data_dir=tmp_path, once=True, max_retries=0)
            await run_source(
                CareOpinionSource(
                    KEY, reference, base_url=f"{local.base_url}/api/v2", since=_utc("2026-11-01T00:00:00")
                ),
                bootstrap=kafka_bootstrap,
                topic=topic,
                options=options,
            )
            for _ in range(2):  # a restart re-reads the newest day: nothing is sent twice
                await run_source(
                    NhsReviewsSource(
                        KEY,
                        ["RX1RA"],
                        reference,
                        base_url=f"{local.base_url}/comments",
                        since=_utc("2026-11-01T00:00:00"),
                    ),
                    bootstrap=kafka_bootstrap,
                    topic=topic,
                    options=RunOptions(name="nhs", data_dir=tmp_path, once=True, max_retries=0),
                )
        return await read_topic(kafka_bootstrap, topic, expected=7)

    events = asyncio.run(scenario())
    co_story = [e for e in events if e["event_id"] == "careopinion:1204417"]
    assert len(co_story) == 2  # delivered by both connectors, one event id: one event downstream
    assert co_story[0]["attributes"]["text_fingerprint"] == co_story[1]["attributes"]["text_fingerprint"]
    assert {e["source"] for e in co_story} == {"web_form"}
    native = [e for e in events if e["event_id"].startswith("nhsuk:")]
    assert [e["event_id"] for e in native] == ["nhsuk:0b5a77e1-3f43-4f1b-8b55-4d1e2f3a4b5c"]
    assert native[0]["rating"] == 4 and native[0]["ward"] == "Ophthalmology"
    assert len(events) == 7  # 5 Care Opinion + syndicated copy + 1 native; the removed review is not sent
    assert [q["fromDate"] for q in server.nhs_queries] == ["2026-11-01", "2026-11-19"]


def test_wrong_key_is_refused_with_a_clear_error(kafka_bootstrap: str, tmp_path: Path) -> None:
    server = ReviewsServer()

    async def scenario() -> None:
        async with LocalServer(server.app) as local:
            await run_source(
                CareOpinionSource("wrong", nottingham_reference(), base_url=f"{local.base_url}/api/v2"),
                bootstrap=kafka_bootstrap,
                topic="unused-topic",
                options=RunOptions(name="co-bad", data_dir=tmp_path, once=True, max_retries=3),
            )

    with pytest.raises(ConnectorConfigError, match="HTTP 302 redirect to /account/login"):
        asyncio.run(scenario())
