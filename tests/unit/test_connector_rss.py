"""RSS/Atom entry mapping: ids, dates, HTML stripping, provider matching."""

from __future__ import annotations

import feedparser
import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.news.rss import FeedConfig, RssSource, entry_id, map_entry
from tests.support.connectors import data_file, nottingham_reference

REF = nottingham_reference()


def entries(name: str) -> list:
    return feedparser.parse(data_file("news", name)).entries


def test_rss_item_maps_to_local_media_event_at_the_site() -> None:
    qmc = entries("local-paper.rss.xml")[0]
    event = map_entry(qmc, FeedConfig("https://feed"), "Chronicle", REF)
    assert event is not None
    assert event["event_id"] == "news:chronicle-9871234"
    assert event["source"] == "local_media"
    assert event["occurred_at"] == "2026-11-24T09:15:00.000Z"
    assert event["text"].startswith("Patients wait 14 hours in corridors at QMC as A&E demand soars\n\n")
    assert "<p>" not in event["text"]
    assert (event["provider"], event["site"], event["organisation"]) == ("RX1", "RX1RA", "QT1")
    assert event["attributes"]["feed_title"] == "Chronicle"


def test_entry_naming_no_provider_is_skipped_unless_feed_is_bound() -> None:
    garden = entries("local-paper.rss.xml")[1]
    assert map_entry(garden, FeedConfig("https://feed"), "", REF) is None
    bound = map_entry(garden, FeedConfig("https://feed", provider="RHA"), "", REF)
    assert bound is not None and bound["provider"] == "RHA"


def test_atom_entry_hashtag_matches_and_html_title_is_cleaned() -> None:
    event = map_entry(entries("regional.atom.xml")[0], FeedConfig("https://feed"), "", REF)
    assert event is not None
    assert event["provider"] == "RX1"
    assert "<em>" not in event["text"]


def test_entry_without_guid_falls_back_to_link_then_hash() -> None:
    assert entry_id({"link": "https://x/1"}) == "https://x/1"
    hashed = entry_id({"title": "A", "published": "Tue, 24 Nov 2026 09:15:00 +0000"})
    assert hashed.startswith("sha256:") and hashed == entry_id(
        {"title": "A", "published": "Tue, 24 Nov 2026 09:15:00 +0000"}
    )


@pytest.mark.parametrize("feeds", [[], [FeedConfig("ftp://example/feed")]])
def test_bad_configuration_is_refused(feeds: list[FeedConfig]) -> None:
    with pytest.raises(ConnectorConfigError):
        RssSource(feeds, REF)
