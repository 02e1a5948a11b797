"""Pushing to a real Alertmanager: labels, resolution, outage and restart without loss."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from infra.procs import free_port
from streams.hotspots.alertmanager import AlertmanagerClient, PusherConfig, alertmanager_alerts
from streams.hotspots.alerts import build_alert
from streams.hotspots.pusher import AlertmanagerPusher
from streams.hotspots.windows import iso_z
from tests.support.hotspots import Alertmanager, unique
from tests.support.kafka import create_topics, produce_json
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def make_alert(rule: str, status: str = "firing", ward: str = "Ward 7") -> dict:
    now = time.time()
    return build_alert(
        rule_id=rule,
        status=status,
        group={"provider": "RXX", "ward": ward},
        window_start=int(now) - 60,
        window_end=int(now) + 60,
        count=6,
        threshold=5,
        severity="warning",
        description="test alert",
        fired_at=now - 5,
        resolved_at=now if status == "resolved" else None,
        sample_event_ids=["e1"],
    )


def push(url: str, record: dict) -> bool:
    """One Alert v1 record to Alertmanager as the pusher sends it; True when accepted."""
    config = PusherConfig(url)
    client = AlertmanagerClient(config)

    async def send() -> bool:
        try:
            return await client.deliver(alertmanager_alerts(record, config, time.time()))
        finally:
            await client.close()

    return asyncio.run(send())


def test_firing_then_resolved_against_real_alertmanager(tmp_path: Path) -> None:
    am = Alertmanager(tmp_path / "am").start()
    try:
        rule = unique("rule")
        assert push(am.url, make_alert(rule))
        (listed,) = wait_for(lambda: am.alerts(rule), 10, "alert listed by Alertmanager")
        assert listed["labels"]["provider"] == "RXX" and listed["labels"]["ward"] == "Ward 7"
        assert listed["labels"]["alertname"] == "PatientExperienceHotspot"
        assert set(listed["annotations"]) == {"summary", "description", "dashboard"}
        assert push(am.url, make_alert(rule, "resolved"))
        wait_for(lambda: not am.alerts(rule, active_only=True), 10, "alert no longer active")
    finally:
        am.stop()


def test_resolution_stamped_before_its_firing_is_accepted(tmp_path: Path) -> None:
    """Clock skew between the worker that fired and the one that resolved must not strand the alert."""
    am = Alertmanager(tmp_path / "am").start()
    try:
        rule = unique("rule")
        firing = make_alert(rule)
        fired_at = datetime.fromisoformat(firing["fired_at"]).timestamp()
        skewed = {**firing, "status": "resolved", "resolved_at": iso_z(fired_at - 10)}

        assert push(am.url, firing)
        wait_for(lambda: am.alerts(rule, active_only=True), 10, "alert active in Alertmanager")
        assert push(am.url, skewed)
        wait_for(lambda: not am.alerts(rule, active_only=True), 10, "alert no longer active")
    finally:
        am.stop()


def test_unreachable_alertmanager_is_retried_until_it_answers(tmp_path: Path) -> None:
    am = Alertmanager(tmp_path / "am", port=free_port())  # not started yet
    rule = unique("rule")
    config = PusherConfig(am.url, backoff_initial_s=0.2, backoff_max_s=1.0, request_timeout_s=2)
    client = AlertmanagerClient(config)
    starter = threading.Timer(3.0, am.start)
    starter.start()
    try:

        async def send() -> bool:
            try:
                return await client.deliver(alertmanager_alerts(make_alert(rule), config, time.time()))
            finally:
                await client.close()

        assert asyncio.run(send())
        assert client.failures >= 2
        wait_for(lambda: am.alerts(rule), 10, "alert delivered once Alertmanager is up")
    finally:
        starter.join()
        am.stop()


def test_pusher_outbox_survives_outage_and_restart(tmp_path: Path, bootstrap: str) -> None:
    """Alerts on the topic reach Alertmanager after an outage, also across a pusher restart."""
    topic = unique("alerts")
    create_topics(bootstrap, {topic: 1})
    am = Alertmanager(tmp_path / "am", port=free_port())  # down at first
    group = unique("pusher")
    config = PusherConfig(am.url, backoff_initial_s=0.2, backoff_max_s=1.0, request_timeout_s=2)
    rule = unique("rule")
    first, second = make_alert(rule, ward="Ward 1"), make_alert(rule, ward="Ward 2")

    async def produce(*records: dict) -> None:
        await asyncio.to_thread(produce_json, bootstrap, topic, records, key=lambda r: r["alert_id"].encode())

    async def run_pusher_until_it_failed_twice() -> AlertmanagerPusher:
        pusher = AlertmanagerPusher(config, bootstrap=bootstrap, alerts_topic=topic, group_id=group)
        task = asyncio.create_task(pusher.run())
        deadline = time.monotonic() + 30
        while pusher.client.failures < 2:
            assert time.monotonic() < deadline, "pusher never tried the (down) Alertmanager"
            assert not task.done(), task
            await asyncio.sleep(0.1)
        await pusher.stop()
        await asyncio.wait_for(task, 15)
        return pusher

    async def scenario() -> None:
        await produce(first)
        stopped = await run_pusher_until_it_failed_twice()  # Alertmanager down: nothing committed
        assert stopped.client.failures >= 1 and stopped.client.delivered == 0
        await produce(second)
        await asyncio.to_thread(am.start)
        pusher = AlertmanagerPusher(config, bootstrap=bootstrap, alerts_topic=topic, group_id=group)
        task = asyncio.create_task(pusher.run())
        try:
            await asyncio.to_thread(
                wait_for, lambda: len(am.alerts(rule)) == 2, 30, "both alerts in Alertmanager"
            )
            wards = sorted(a["labels"]["ward"] for a in am.alerts(rule))
            assert wards == ["Ward 1", "Ward 2"]
            assert len(pusher.registry) == 2  # tracked for re-sending
        finally:
            await pusher.stop()
            await asyncio.wait_for(task, 15)

    try:
        asyncio.run(scenario())
    finally:
        am.stop()
