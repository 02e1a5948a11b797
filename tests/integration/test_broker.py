"""The real broker carries FeedbackEvents for our client (aiokafka) and for Kafka's own tools."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import orjson
import pytest

from infra.broker import CONSOLE_CONSUMER, CONSOLE_PRODUCER, KafkaBroker, kafka_answers
from infra.config import InfraConfig
from schemas.settings import Settings

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


async def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> list[int]:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        results = [await producer.send_and_wait(topic, value, key=key) for key, value in messages]
    finally:
        await producer.stop()
    return [result.partition for result in results]


async def _consume(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list:  # type: ignore[type-arg]
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


def test_broker_answers_a_metadata_request(kafka_bootstrap: str) -> None:
    assert kafka_answers(kafka_bootstrap)
    assert not kafka_answers("127.0.0.1:1", timeout=1.0)  # nothing listens on port 1


def test_feedback_event_round_trip_through_real_broker(kafka_bootstrap: str, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic(partitions=3)
    events = [feedback_event("RJ1"), feedback_event("RJ1"), feedback_event("RYJ")]
    messages = [(event["provider"].encode(), orjson.dumps(event)) for event in events]  # type: ignore[union-attr]

    partitions = asyncio.run(_produce(kafka_bootstrap, topic, messages))
    records = asyncio.run(_consume(kafka_bootstrap, topic, count=3))

    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(e["event_id"] for e in events)
    by_id = {orjson.loads(r.value)["event_id"]: r for r in records}
    for event in events:
        record = by_id[event["event_id"]]
        assert orjson.loads(record.value) == event
        assert record.key == event["provider"].encode()  # type: ignore[union-attr]
    # keyed by provider: one provider's events share a partition (docs/architecture.md, "Scaling out")
    assert partitions[0] == partitions[1]


def test_automatic_topic_creation_is_off(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    missing = f"test-never-created-{uuid.uuid4().hex[:12]}"

    async def attempt() -> list[str]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=2000)
        await producer.start()
        try:
            with pytest.raises(KafkaError):
                await asyncio.wait_for(producer.send_and_wait(missing, b"{}"), timeout=10)
        finally:
            await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            return await admin.list_topics()
        finally:
            await admin.close()

    topics = asyncio.run(attempt())
    assert missing not in topics


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
    asyncio.run(_produce(kafka_bootstrap, topic, [(b"RYJ", orjson.dumps(from_aiokafka))]))

    records = asyncio.run(_consume(kafka_bootstrap, topic, count=2))
    assert [orjson.loads(r.value) for r in records] == [from_console, from_aiokafka]
    assert records[0].key == b"RJ1"

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
