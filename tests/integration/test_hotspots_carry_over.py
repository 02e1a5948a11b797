"""A deployment whose hotspot stage was a Faust agent upgrades with no migration step.

What such a deployment leaves on Kafka is set up as the Faust agent left it: the table's changelog
(`<app id>-hotspot-state-changelog`, each key's bytes as Faust's bytes table stored them through
TableState, on the input's partition), the alerts it announced, and its consumer group `<app id>`
committed part-way through feedback.tagged. The new worker's group has no offsets: it must start
on each partition where the Faust group stopped, from the state in that changelog, and end with the
counts and alerts of one uninterrupted run, announcing nothing twice.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.produce import new_producer, send_to_partition
from streams.hotspots.changelog import Changelog
from streams.hotspots.engine import HotspotEngine
from streams.hotspots.rules import load_rules
from streams.hotspots.table_state import TableState
from tests.integration.test_hotspots_kill import RULES, feed
from tests.support.hotspots import HotspotWorker, MakeHotspotConfig, read_alerts, read_table
from tests.support.kafka import committed, produce_json, read_all
from tests.support.waiting import wait_for
from tests.unit.test_hotspot_engine import brute_force, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 1600


async def leave_state(
    bootstrap: str, group: str, changelog: str, alerts_topic: str, stores: dict[int, dict[bytes, bytes]],
    alerts: list[dict[str, Any]], offsets: dict[Any, int],
) -> None:  # fmt: skip
    """What a hotspot stage that stopped leaves on Kafka: each partition's state on its changelog
    partition, the alerts it announced, and `group`'s committed offsets on feedback.tagged."""
    from aiokafka import AIOKafkaConsumer

    await Changelog(bootstrap, changelog, partitions=4).ensure()
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        pending = []
        for partition, store in stores.items():
            pending += await send_to_partition(producer, changelog, partition, store.items())
        for alert in alerts:
            pending.append(
                await producer.send(alerts_topic, orjson.dumps(alert), key=alert["alert_id"].encode())
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    member = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await member.start()
    try:
        member.assign(list(offsets))
        await member.commit(offsets)
    finally:
        await member.stop()


def test_a_faust_era_state_and_offsets_carry_over(
    tmp_path: Path, bootstrap: str, hotspot_config: MakeHotspotConfig
) -> None:
    from aiokafka import TopicPartition

    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    rules = load_rules(rules_path)
    config = hotspot_config("carry-over")
    tagged_topic, alerts_topic = config.tagged_topic, config.alerts_topic
    worker = HotspotWorker(
        tmp_path / "worker", bootstrap=bootstrap, rules=rules_path, config=config, quiet_after=1e9
    )
    events = feed(11, EVENTS)
    produce_json(bootstrap, tagged_topic, events[: EVENTS // 2])
    before: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
    for partition, offset, _, value in sorted(read_all(bootstrap, tagged_topic), key=lambda r: r[:2]):
        before[partition].append(("e", offset, value))

    # The Faust agent's leavings: state, alerts and committed offsets as of the first half.
    stores: dict[int, dict[bytes, bytes]] = {}
    old_alerts: list[dict[str, Any]] = []
    for partition, inputs in before.items():
        stores[partition] = {}
        old_alerts += run(HotspotEngine(rules, TableState(stores[partition]), partition=partition), inputs)
    offsets = {TopicPartition(tagged_topic, p): inputs[-1][1] + 1 for p, inputs in before.items()}
    assert old_alerts, "the first half should already have announced episodes"
    asyncio.run(
        leave_state(
            bootstrap, config.app_id, worker.changelog_topic, alerts_topic, stores, old_alerts, offsets
        )
    )
    produce_json(bootstrap, tagged_topic, events[EVENTS // 2 :])
    try:
        worker.start()
        wait_for(
            lambda: committed(bootstrap, worker.group, tagged_topic) >= EVENTS, 120, "the whole feed counted"
        )
        log = worker.log.read_text()
        started = {
            int(p): int(o)
            for p, o in re.findall(r"hotspot partition (\d+): \d+ keys recovered .* offset (\d+)", log)
        }
        # Where the Faust group stopped; the partitions it never read (no events) from their start.
        assert started == {p: 0 for p in range(4)} | {tp.partition: n for tp, n in offsets.items()}, log[
            -3000:
        ]
        assert f"continuing where {config.app_id} stopped" in log

        inputs: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
        for partition, offset, _, value in sorted(read_all(bootstrap, tagged_topic), key=lambda r: r[:2]):
            inputs[partition].append(("e", offset, value))
        clean_alerts: list[dict[str, Any]] = []
        clean_engines = {}
        for partition, partition_inputs in inputs.items():
            clean = clean_engines[partition] = HotspotEngine(rules, {}, partition=partition)
            clean_alerts += run(clean, partition_inputs)

        def counts_exact() -> bool:
            state = read_table(bootstrap, worker.changelog_topic)
            for partition, partition_inputs in inputs.items():
                engine, clean = HotspotEngine(rules, state, partition=partition), clean_engines[partition]
                if engine.watermark != clean.watermark:
                    return False
                expected = brute_force(rules, partition_inputs)
                for rule in rules.rules:
                    horizon = clean._horizon(rule, clean.watermark)
                    actual = {k: v for k, v in engine.window_counts(rule.id).items() if k[1] >= horizon}
                    if actual != {k: v for k, v in expected[rule.id].items() if k[1] >= horizon}:
                        return False
            return True

        wait_for(counts_exact, 60, "the changelog to equal the brute-force recount of the whole feed")
        alerts = read_alerts(bootstrap, alerts_topic)
        transitions = Counter((a["alert_id"], a["status"], tuple(a["organisations"])) for a in alerts)
        assert max(transitions.values()) == 1, [k for k, n in transitions.items() if n > 1]
        assert set(transitions) == {
            (a["alert_id"], a["status"], tuple(a["organisations"])) for a in clean_alerts
        }
        assert len(alerts) > len(old_alerts), "the second half should announce episodes of its own"
    finally:
        worker.stop()
