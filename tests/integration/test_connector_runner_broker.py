"""Several connectors from one YAML file, sharing a producer, ending on the real broker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from connectors.runner import build_sources, load_config, run_all
from schemas.settings import Settings
from tests.integration.test_connector_reviews_broker import KEY, ReviewsServer
from tests.integration.test_connector_rss_broker import FeedServer
from tests.support.connectors import LocalServer, nottingham_reference
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


def test_yaml_runs_rss_and_care_opinion_together_and_resumes(
    kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    secret = Settings.from_env({"TEST_CO_KEY": KEY}).secret  # the variable the file's api_key_env names
    feeds, reviews = FeedServer(), ReviewsServer()
    reviews.rate_limit_once_at_skip = None

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(feeds.app) as feed_server, LocalServer(reviews.app) as review_server:
            path = tmp_path / "connectors.yaml"
            path.write_text(
                f"""
connectors:
  - name: news
    type: rss
    feeds: [{feed_server.base_url}/health.rss, {feed_server.base_url}/feed.atom]
  - name: careopinion
    type: careopinion
    api_key_env: TEST_CO_KEY
    base_url: {review_server.base_url}/api/v2
    since: "2026-11-01T00:00:00Z"
"""
            )
            for _ in range(2):  # the second run is a restart: nothing new, nothing doubled
                sources = build_sources(load_config(path), nottingham_reference(), secret)
                await run_all(
                    sources,
                    bootstrap=kafka_bootstrap,
                    topic=topic,
                    data_dir=tmp_path,
                    once=True,
                    max_retries=0,
                )
        return await read_topic(kafka_bootstrap, topic, expected=8)

    events = asyncio.run(scenario())
    assert len(events) == 8 and len({e["event_id"] for e in events}) == 8
    assert {e["source"] for e in events} == {"local_media", "web_form"}
    assert (tmp_path / "connectors" / "news.json").exists()
    assert (tmp_path / "connectors" / "careopinion.json").exists()
