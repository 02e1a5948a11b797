"""Session fixtures for the integration tier: the real broker, fresh topics, a real Alertmanager.

The integration tier never skips for want of a part: if the broker cannot be found or started,
the test fails with the reason (STYLE.md). A broker this fixture starts is left running, like one
from `pxstream infra up` (later sessions — and other checkouts on the same machine — reuse it);
`scripts/test.sh` takes down what it started.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, message: str = "condition", interval: float = 0.05
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    Fails the test after `timeout` seconds with `message`, so a condition never stands in for a sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    """The same `wait_for`, for tests that prefer a fixture to an import."""
    return wait_for


def _progress(message: str) -> None:
    print(f"[kafka_bootstrap] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of a broker that answers: the one at PXSTREAM_KAFKA_BOOTSTRAP, started if need be."""
    from infra import stack
    from infra.broker import kafka_answers
    from infra.config import InfraConfig
    from schemas.errors import PxstreamError

    config = InfraConfig.from_env()
    if kafka_answers(config.kafka_bootstrap, timeout=5.0):
        return config.kafka_bootstrap
    if not config.kafka_is_local:
        pytest.fail(f"Kafka at PXSTREAM_KAFKA_BOOTSTRAP={config.kafka_bootstrap} does not answer")
    try:
        stack.up(config, _progress, ["kafka"])
    except PxstreamError as exc:
        pytest.fail(f"could not start the local Kafka broker for the tests: {exc}")
    return config.kafka_bootstrap


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: `new_topic(partitions=1, prefix="test") -> name` — a fresh topic, deleted after the test."""
    from infra.broker import delete_topics, ensure_topics
    from schemas.topics import TopicSpec

    created: list[str] = []

    def make(partitions: int = 1, prefix: str = "test") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions=partitions)])
        created.append(name)
        return name

    yield make
    try:
        delete_topics(kafka_bootstrap, created)
    except Exception as exc:  # a leftover uniquely named topic harms nobody; say so and move on
        print(f"[new_topic] could not delete {created}: {exc!r}", file=sys.stderr)
