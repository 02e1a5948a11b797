"""A member that is handed partitions learns what was announced on them since it started.

The dangerous moment of a two-worker group: one member announced a batch's alerts and died before
storing that batch's state or committing its offsets; another member, running since before those
alerts, takes the partitions over and replays the batch. It must not announce the same transitions
again. Built deterministically: worker A starts and holds every partition; then the leavings of a
member that died mid-batch appear (its alerts for the next inputs, nothing stored, nothing
committed); worker B joins, so A is handed partitions again; then those inputs arrive.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.produce import produce
from streams.hotspots.engine import HotspotEngine
from streams.hotspots.rules import load_rules
from streams.hotspots.table_state import TableState
from tests.integration.test_hotspots_carry_over import leave_state
from tests.integration.test_hotspots_group_kill import spread_feed
from tests.integration.test_hotspots_kill import EVENTS, RULES
from tests.support.hotspots import HotspotWorker, MakeHotspotConfig, read_alerts
from tests.support.kafka import committed, produce_json, read_all
from tests.support.waiting import wait_for
from tests.unit.test_hotspot_engine import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_partitions_taken_over_do_not_announce_again_what_another_member_did(
    tmp_path: Path, bootstrap: str, hotspot_config: MakeHotspotConfig
) -> None:
    from aiokafka import TopicPartition

    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    rules = load_rules(rules_path)
    config = hotspot_config("takeover")
    tagged_topic, alerts_topic = config.tagged_topic, config.alerts_topic
    workers = [
        HotspotWorker(
            tmp_path / name, bootstrap=bootstrap, rules=rules_path, config=config, quiet_after=1e9
        )
        for name in ("a", "b")
    ]  # fmt: skip
    first, second = workers
    events = spread_feed(5)
    half = EVENTS // 2
    produce_json(bootstrap, tagged_topic, events[:half])
    inputs: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
    for partition, offset, _, value in sorted(read_all(bootstrap, tagged_topic), key=lambda r: r[:2]):
        inputs[partition].append(("e", offset, value))
    assert len(inputs) == 4
    # What a member stored and committed before dying: the first half, in the stage's own group.
    stores: dict[int, dict[bytes, bytes]] = {}
    engines: dict[int, HotspotEngine] = {}
    stored_alerts: list[dict[str, Any]] = []
    for partition, partition_inputs in inputs.items():
        stores[partition] = {}
        engines[partition] = HotspotEngine(rules, TableState(stores[partition]), partition=partition)
        stored_alerts += run(engines[partition], partition_inputs)
    offsets = {TopicPartition(tagged_topic, p): batch[-1][1] + 1 for p, batch in inputs.items()}
    asyncio.run(
        leave_state(
            bootstrap, first.group, first.changelog_topic, alerts_topic, stores, stored_alerts, offsets
        )
    )
    # Its last batch: the next inputs' alerts, announced and acknowledged; nothing else of them.
    # Worked out on copies of the stored state, as the dying member did on its staged state.
    last_batch = events[half : half + 600]
    keyed = [(e["provider"].encode(), orjson.dumps(e)) for e in last_batch]
    next_offset = dict(offsets)
    announced: list[dict[str, Any]] = []
    from runtime.produce import _keyed_partition

    by_partition: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
    for event, (key, _) in zip(last_batch, keyed, strict=True):
        tp = TopicPartition(tagged_topic, _keyed_partition(key, 4))
        by_partition[tp.partition].append(("e", next_offset[tp], event))
        next_offset[tp] += 1
    for partition, batch in by_partition.items():
        copy = HotspotEngine(rules, TableState(dict(stores[partition])), partition=partition)
        announced += run(copy, batch)
    assert announced, "the dying member's last batch should announce something"
    try:
        first.start()
        wait_for(lambda: first.log.read_text().count("keys recovered") >= 4, 60, "A to hold every partition")
        asyncio.run(
            produce(bootstrap, alerts_topic, [(a["alert_id"].encode(), orjson.dumps(a)) for a in announced])
        )
        second.start()  # A is handed its partitions again: it must read the alerts above
        wait_for(
            lambda: (
                first.log.read_text().count("keys recovered") > 4
                and "keys recovered" in second.log.read_text()
            ),
            90,
            "the group to rebalance over A and B",
        )
        produce_json(bootstrap, tagged_topic, events[half:])
        wait_for(
            lambda: committed(bootstrap, first.group, tagged_topic) >= EVENTS, 120, "the whole feed counted"
        )

        everything: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
        for partition, offset, _, value in sorted(read_all(bootstrap, tagged_topic), key=lambda r: r[:2]):
            everything[partition].append(("e", offset, value))
        clean_alerts = []
        for partition, partition_inputs in everything.items():
            clean_alerts += run(HotspotEngine(rules, {}, partition=partition), partition_inputs)

        def essence(alerts: list[dict[str, Any]]) -> Counter:
            return Counter((a["alert_id"], a["status"], tuple(a["organisations"])) for a in alerts)

        wait_for(
            lambda: set(essence(read_alerts(bootstrap, alerts_topic))) == set(essence(clean_alerts)),
            60,
            "the group's alerts to match an uninterrupted run",
        )
        transitions = essence(read_alerts(bootstrap, alerts_topic))
        assert max(transitions.values()) == 1, [k for k, n in transitions.items() if n > 1]
        log = first.log.read_text() + second.log.read_text()
        assert "already on" in log  # the replayed batch's transitions were recognised, not re-sent
    finally:
        for worker in workers:
            worker.stop()
