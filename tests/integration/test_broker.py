"""The real broker carries FeedbackEvents for our client (aiokafka) and for Kafka's own tools."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from infra.broker import CONSOLE_CONSUMER, CONSOLE_PRODUCER, KafkaBroker, kafka_answers
from infra.config import InfraConfig
from schemas.settings import Settings
from tests.support.kafka import produce_json, read_all, topic_names
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def feedback_event(provider: str = "RJ1") -> dict[str, object]:
    """A FeedbackEvent v1 as a source system would send it (docs/contracts.md, "FeedbackEvent v1")."""
    return {
        "event_id": f"test-{uuid.uuid4()}",
        "source": "pals",
        "occurred_at": "2026-11-26T09:15:00+00:00",
        "organisation": "QKK",
        "provider": provider,
        "site": "RJ122",
        "ward": "Ward 7",
        "text": "Nobody told us when the discharge would be; we waited all day.",
        "reporter": "carer",
        "attributes": {"channel": "phone"},
    }


def test_broker_answers_a_metadata_request(kafka_bootstrap: str) -> None:
    assert kafka_answers(kafka_bootstrap)
    assert not kafka_answers("127.0.0.1:1", timeout=1.0)  # nothing listens on port 1


def test_feedback_event_round_trip_through_real_broker(kafka_bootstrap: str, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic(partitions=3)
    events = [feedback_event("RJ1"), feedback_event("RJ1"), feedback_event("RYJ")]

    produce_json(kafka_bootstrap, topic, events)  # keyed by provider
    records = read_all(kafka_bootstrap, topic)  # (partition, offset, key, value)

    assert sorted(value["event_id"] for *_, value in records) == sorted(e["event_id"] for e in events)
    by_id = {value["event_id"]: (partition, key, value) for partition, _, key, value in records}
    for event in events:
        _, key, value = by_id[event["event_id"]]
        assert value == event
        assert key == event["provider"].encode()  # type: ignore[union-attr]
    # keyed by provider: one provider's events share a partition (docs/architecture.md, "Scaling out")
    assert by_id[events[0]["event_id"]][0] == by_id[events[1]["event_id"]][0]


def test_automatic_topic_creation_is_off(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    missing = f"test-never-created-{uuid.uuid4().hex[:12]}"

    async def attempt() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=2000)
        await producer.start()
        try:
            with pytest.raises(KafkaError):
                await asyncio.wait_for(producer.send_and_wait(missing, b"{}"), timeout=10)
        finally:
            await producer.stop()

    asyncio.run(attempt())
    assert missing not in topic_names(kafka_bootstrap)


@pytest.fixture(scope="module")
def kafka_tools(kafka_bootstrap: str) -> KafkaBroker:
    """The broker's own jars (fetched into this data dir if the broker running is someone else's)."""
    broker = KafkaBroker(InfraConfig.from_settings(Settings.from_env()))
    broker.check_installed()
    broker.fetch_jars(lambda message: print(message, file=sys.stderr))
    return broker


def test_kafkas_own_console_clients_interoperate_with_aiokafka(
    kafka_bootstrap: str,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_tools: KafkaBroker,
) -> None:
    """A client outside pxstream's code (Kafka's console producer/consumer) reads and writes our events."""
    topic = new_topic(partitions=1)
    from_console = feedback_event("RJ1")
    producer_args = [
        "--bootstrap-server", kafka_bootstrap, "--topic", topic,
        "--reader-property", "parse.key=true", "--reader-property", "key.separator=\t",
    ]  # fmt: skip
    produced = subprocess.run(
        kafka_tools.java_tool(CONSOLE_PRODUCER, *producer_args),
        input=f"RJ1\t{orjson.dumps(from_console).decode()}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert produced.returncode == 0, produced.stderr

    from_aiokafka = feedback_event("RYJ")
    produce_json(kafka_bootstrap, topic, [from_aiokafka])  # keyed by its provider, RYJ

    records = read_all(kafka_bootstrap, topic)  # (partition, offset, key, value)
    assert [value for *_, value in records] == [from_console, from_aiokafka]
    assert [key for _, _, key, _ in records] == [b"RJ1", b"RYJ"]

    consumer_args = [
        "--bootstrap-server", kafka_bootstrap, "--topic", topic, "--from-beginning",
        "--max-messages", "2", "--timeout-ms", "30000",
        "--formatter-property", "print.key=true", "--formatter-property", "key.separator=\t",
    ]  # fmt: skip
    consumed = subprocess.run(
        kafka_tools.java_tool(CONSOLE_CONSUMER, *consumer_args),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert consumed.returncode == 0, consumed.stderr
    lines = [line.split("\t", 1) for line in consumed.stdout.splitlines() if "\t" in line]
    assert [(key, orjson.loads(value)) for key, value in lines] == [
        ("RJ1", from_console),
        ("RYJ", from_aiokafka),
    ]


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(
    kafka_tools: KafkaBroker, tmp_path: Path
) -> None:
    """About one random cluster id in 64 starts with "-", which the storage tool once took for an
    option ("expected one argument"), failing `pxstream infra up` on a fresh data dir."""
    broker = KafkaBroker(InfraConfig.from_settings(Settings.from_env({"PXSTREAM_DATA_DIR": str(tmp_path)})))
    broker.home.mkdir(parents=True)
    broker.libs_dir.symlink_to(kafka_tools.libs_dir)
    broker.render_config()
    cluster_id = base64.urlsafe_b64encode(b"\xf8" + uuid.uuid4().bytes[1:]).rstrip(b"=").decode()
    assert cluster_id.startswith("-")
    broker.format_storage(lambda message: None, cluster_id=cluster_id)
    assert f"cluster.id={cluster_id}" in (broker.storage_dir / "meta.properties").read_text()


def test_deleting_a_runs_topics_takes_every_topic_under_its_prefix_and_nothing_else(
    kafka_bootstrap: str,
) -> None:
    """Faust's own topics (changelog, assignor, ticks) carry the app id and so the run's prefix: a
    run's clean-up must take them too, and must not touch a topic of another run."""
    from runtime.admin import create_topics, delete_topics_under
    from schemas.topics import TopicSpec

    run = f"test-under-{uuid.uuid4().hex[:10]}."
    other = run.rstrip(".") + "x."  # the same characters and one more: another run's prefix
    mine = [f"{run}feedback.raw", f"{run}app-hotspot-state-changelog", f"{run}app-__assignor-__leader"]
    specs = [TopicSpec(name=name, partitions=1) for name in [*mine, f"{other}feedback.raw"]]
    asyncio.run(create_topics(kafka_bootstrap, specs))
    try:
        assert sorted(asyncio.run(delete_topics_under(kafka_bootstrap, run))) == sorted(mine)

        # Deletion is asynchronous: the broker's metadata drops the topics shortly after the answer.
        def gone() -> set[str] | None:
            names = topic_names(kafka_bootstrap)
            return None if any(name.startswith(run) for name in names) else names

        left = wait_for(gone, 30, f"the topics under {run} to leave the broker's metadata")
        assert f"{other}feedback.raw" in left
        with pytest.raises(ValueError, match="every topic"):
            asyncio.run(delete_topics_under(kafka_bootstrap, ""))
    finally:
        asyncio.run(delete_topics_under(kafka_bootstrap, other))
