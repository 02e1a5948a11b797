"""What differs between the production worker and a test's worker on the shared broker.

Its own module, below both the app factory (streams/app.py) and the stages it builds
(streams/agents.py), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from runtime.admin import create_topics
from schemas import topics
from schemas.settings import Settings
from schemas.topics import TopicSpec

DEFAULT_APP_ID: Final = "pxstream-worker"
DEFAULT_WEB_PORT: Final = 6066


@dataclass(frozen=True)
class WorkerConfig:
    app_id: str = DEFAULT_APP_ID
    topic_prefix: str = ""  # prepended to every topic name: unique topics per test or per tenant
    web_host: str = "127.0.0.1"
    web_port: int = DEFAULT_WEB_PORT
    batch_size: int = 1000  # raw messages per poll: per-message overhead dominates, so batch
    batch_within_s: float = 0.2  # longest an incomplete batch waits (bounds added latency)
    max_poll_records: int = 1000
    # How long the group waits for a member that died without leaving (kill -9, a lost host)
    # before its partitions go to another worker: the failover time. Faust's default.
    session_timeout_s: float = 60.0
    hotspots: bool = True
    # The hotspot clock (streams/hotspots/agent.py): how often it ticks, and how long a caught-up
    # partition must be quiet before the wall clock may move its watermark (a quiet ward resolves).
    hotspot_tick_interval_s: float = 2.0
    hotspot_quiet_after_s: float = 5.0
    # The hotspot stage's batches: each touched key is read and written once per batch, so larger
    # batches cost less per event; `within` bounds how long a part-filled batch waits (alert latency).
    hotspot_batch_size: int = 1000
    hotspot_batch_within_s: float = 0.05
    # How often the Alertmanager pusher re-sends what still fires (endsAt moves on each time).
    alertmanager_resend_s: float = 60.0
    replication_factor: int = 1  # one local broker; a production cluster sets 3

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WorkerConfig:
        """`PXSTREAM_APP_ID` and `PXSTREAM_TOPIC_PREFIX` (schemas/settings.py) under the CLI's options."""
        config = cls(app_id=settings.worker.app_id, topic_prefix=settings.worker.topic_prefix)
        return replace(config, **{k: v for k, v in overrides.items() if v is not None})

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def declared_topics(self) -> list[TopicSpec]:
        """Every topic of `schemas.topics`, under this worker's prefix."""
        return [replace(spec, name=self.topic(spec.name)) for spec in topics.TOPICS]

    @property
    def raw_topic(self) -> str:
        return self.topic(topics.RAW)

    @property
    def tagged_topic(self) -> str:
        return self.topic(topics.TAGGED)

    @property
    def dlq_topic(self) -> str:
        return self.topic(topics.DLQ)

    @property
    def alerts_topic(self) -> str:
        return self.topic(topics.ALERTS)


async def ensure_topics(settings: Settings, config: WorkerConfig) -> list[str]:
    """Create every declared topic (with the config's prefix) that does not exist yet.

    Run before the worker starts, so every stage subscribes to topics that exist. Returns the
    names created.
    """
    return await create_topics(
        settings.kafka_bootstrap, config.declared_topics(), replication_factor=config.replication_factor
    )
