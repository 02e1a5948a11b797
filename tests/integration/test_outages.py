"""Outages longer than the consumer's session timeout: no eviction, no restart, nothing lost or doubled.

A stage whose effect fails (Alertmanager down, ClickHouse down) is held back by the runtime's loop
(runtime/loop.py): it pauses the partitions and keeps polling. Each test runs the real stage
against the real broker with a consumer session timeout and poll interval of a few seconds, holds
the outage for several times that, and watches the consumer group at its coordinator all along:
same member id (an evicted member re-joins under a new one), group Stable, one assignment only
(no rebalance), nothing committed past what was not delivered. Then the service returns and a
recount shows every record delivered once.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from infra.procs import free_port
from runtime.admin import GroupState
from sinks.client import connect
from sinks.runner import SinkConfig
from streams.hotspots.alertmanager import PusherConfig
from streams.hotspots.pusher import AlertmanagerPusher
from tests.integration.test_alertmanager_push import make_alert
from tests.support.hotspots import Alertmanager, unique
from tests.support.kafka import (
    committed,
    create_topics,
    end_offsets,
    failover_session_timeout,
    group_state,
    produce_json,
)
from tests.support.sink import (
    SinkThread,
    assert_exactly_once,
    produce,
    sink_behind_switch,
    tagged_event,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGES = 4  # an outage lasts this many session timeouts


@pytest.fixture
def session_timeout(kafka_bootstrap: str) -> float:
    """The consumer's session timeout and poll interval: the kill tests' 3 s (or the broker's floor)."""
    return failover_session_timeout(kafka_bootstrap)


def watch_group_through_outage(
    bootstrap: str, group: str, member: GroupState, topic: str, frozen_at: int, seconds: float
) -> int:
    """Observe the group every half second for `seconds`: the same single member, Stable, and no
    commit past `frozen_at`. Returns how many observations were made (each one an assertion)."""
    observations = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        now = group_state(bootstrap, group)
        assert now == member, f"group changed during the outage: {member} → {now}"
        assert committed(bootstrap, group, topic) == frozen_at, "committed past an undelivered record"
        observations += 1
        time.sleep(0.5)  # the observation interval, not a stand-in for a condition
    return observations


def test_alertmanager_outage_longer_than_the_session_timeout(
    tmp_path: Path, kafka_bootstrap: str, session_timeout: float
) -> None:
    topic, group, rule = unique("alerts-outage"), unique("pusher-outage"), unique("rule")
    create_topics(kafka_bootstrap, {topic: 1})
    am = Alertmanager(tmp_path / "am", port=free_port()).start()
    config = PusherConfig(
        am.url,
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
        request_timeout_s=2,
        resend_interval_s=3600,  # no periodic re-send inside the test: every post is counted
        session_timeout_s=session_timeout,
        max_poll_interval_s=session_timeout,
    )
    before = make_alert(rule, ward="Ward 0")
    during = [make_alert(rule, ward=f"Ward {i}") for i in range(1, 6)]

    def send(*alerts: dict) -> None:
        produce_json(kafka_bootstrap, topic, alerts, key=lambda a: a["alert_id"].encode())

    async def scenario() -> None:
        pusher = AlertmanagerPusher(config, bootstrap=kafka_bootstrap, alerts_topic=topic, group_id=group)
        task = asyncio.create_task(pusher.run())
        try:
            await asyncio.to_thread(send, before)
            await asyncio.to_thread(wait_for, lambda: am.alerts(rule), 30, "the first alert in Alertmanager")
            await asyncio.to_thread(
                wait_for, lambda: committed(kafka_bootstrap, group, topic) == 1, 30, "the first commit"
            )
            member = await asyncio.to_thread(group_state, kafka_bootstrap, group)
            assert member.state == "Stable" and len(member.members) == 1, member

            delivered_before_outage = pusher.client.delivered
            await asyncio.to_thread(am.stop)
            await asyncio.to_thread(send, *during)
            await asyncio.to_thread(wait_for, lambda: pusher.client.failures >= 2, 30, "failed posts")
            seen = await asyncio.to_thread(
                watch_group_through_outage,
                kafka_bootstrap,
                group,
                member,
                topic,
                1,
                OUTAGES * session_timeout,
            )
            assert seen >= 10
            assert pusher.loop.paused, "the loop did not pause its partition during the outage"

            await asyncio.to_thread(am.start)
            await asyncio.to_thread(
                wait_for, lambda: len(am.alerts(rule)) == len(during), 60, "the held alerts in Alertmanager"
            )
            await asyncio.to_thread(
                wait_for, lambda: committed(kafka_bootstrap, group, topic) == 6, 30, "everything committed"
            )
            assert not task.done(), "the pusher stopped"
            assert await asyncio.to_thread(group_state, kafka_bootstrap, group) == member
            assert pusher.loop.assignments == 1, "the group rebalanced"
            # Nothing lost, nothing doubled: each held alert posted once accepted, never again
            # (no batch re-posted after it was accepted), and Alertmanager holds exactly those.
            assert pusher.client.delivered - delivered_before_outage == len(during)
            wards = sorted(a["labels"]["ward"] for a in am.alerts(rule))
            assert wards == sorted(a["group"]["ward"] for a in during)
        finally:
            await pusher.stop()
            await asyncio.wait_for(task, 30)

    try:
        asyncio.run(scenario())
    finally:
        am.stop()
    assert end_offsets(kafka_bootstrap, topic) == committed(kafka_bootstrap, group, topic) == 6


def test_clickhouse_outage_longer_than_the_session_timeout(
    kafka_bootstrap, new_topic, tmp_path, session_timeout: float
) -> None:
    """The real engine behind the client boundary of test_sink_kafka's outage test (chDB runs
    in-process and cannot be taken away mid-run), held down for several session timeouts."""
    tagged, alerts = new_topic(partitions=2, prefix="sink-long-outage"), new_topic(prefix="sink-long-a")
    url = f"chdb://{tmp_path / 'ch'}"
    config = SinkConfig(
        batch_size=400,
        linger_s=0.2,
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
        session_timeout_s=session_timeout,
        max_poll_interval_s=session_timeout,
    )
    sink, switch = sink_behind_switch(kafka_bootstrap, url, tagged, alerts, config)
    group = sink.group_id
    rng = random.Random(5)
    events = [tagged_event(i, "long-outage", rng) for i in range(3000)]

    with SinkThread(sink.run):
        produce(kafka_bootstrap, tagged, events[:1000])
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == 1000, 60, "first part committed")
        member = group_state(kafka_bootstrap, group)
        assert member.state == "Stable" and len(member.members) == 1, member

        switch["down"] = True
        produce(kafka_bootstrap, tagged, events[1000:])
        wait_for(lambda: sink.loop.failures >= 2, 60, "failed writes while ClickHouse is down")
        seen = watch_group_through_outage(
            kafka_bootstrap, group, member, tagged, 1000, OUTAGES * session_timeout
        )
        assert seen >= 10
        assert sink.loop.paused

        switch["down"] = False
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == len(events), 90, "backlog committed")
        assert group_state(kafka_bootstrap, group) == member
        assert sink.loop.assignments == 1, "the group rebalanced"
    client = connect(url)
    try:
        assert_exactly_once(client, events)  # the recount: every event once, rollups counted once
    finally:
        client.close()
