"""What started an action, read from the real ClickHouse engine (chDB), one organisation at a time."""

from __future__ import annotations

import asyncio

import pytest

from pxstream.web.owners_evidence import EvidenceSource
from tests.support.seeded_clickhouse import seeded_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def client(tmp_path):  # type: ignore[no-untyped-def]
    ch = seeded_engine(tmp_path / "ch")
    yield ch
    ch.close()


def lookup(source: EvidenceSource, trigger: dict, organisation: str):  # type: ignore[no-untyped-def]
    return asyncio.run(source.lookup({"trigger": trigger}, organisation))


def test_items_and_hotspot_come_from_clickhouse_for_the_organisation_only(client) -> None:  # type: ignore[no-untyped-def]
    source = EvidenceSource(lambda: client)
    found = lookup(source, {"event_id": "q-5"}, "ORG1")
    assert found.available and [i["event_id"] for i in found.items] == ["q-5"]
    assert found.items[0]["source"] == "complaint" and found.items[0]["text"] == "t"
    assert lookup(source, {"event_id": "q-5"}, "ORG2").items == []  # same id, another organisation
    hotspot = lookup(source, {"alert_id": "ep-1"}, "ORG1").hotspot
    assert hotspot is not None and (hotspot["rule_id"], hotspot["count"]) == ("r", 6)
    assert hotspot["window_start"].startswith("2026-03-04T00:00:00")
    assert lookup(source, {"alert_id": "ep-1"}, "ORG2").hotspot is None


def test_clickhouse_away_is_not_an_error_for_the_page() -> None:
    def refuse() -> None:
        raise ConnectionRefusedError("no ClickHouse")

    found = lookup(EvidenceSource(refuse), {"event_id": "e-1"}, "ORG1")
    assert not found.available and found.items == []
