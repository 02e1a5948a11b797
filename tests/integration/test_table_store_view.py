"""What the table-store check sees of a changelog on the real broker.

A healthy restart must see each changelog partition's true end offset: read as "ends at 0", every
restart discarded the worker's local tables as if Kafka had been purged (docs/operations-errors.md).
"""

from __future__ import annotations

import asyncio

from streams.table_store import _kafka_view
from tests.support.kafka import produce_json


def test_an_existing_changelog_is_seen_with_its_end_offsets(kafka_bootstrap, new_topic) -> None:
    topic = new_topic(partitions=2, prefix="changelog-view")
    produce_json(kafka_bootstrap, topic, [{"n": n} for n in range(5)], key=lambda record: b"one-key")
    _cluster, ends = asyncio.run(_kafka_view(kafka_bootstrap, [topic, f"{topic}-never-created"], 10.0))
    assert set(ends) == {(topic, 0), (topic, 1)}
    assert sum(ends.values()) == 5
