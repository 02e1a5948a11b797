"""The Faust app factory: one function builds a configured app, nothing is created at import time.

Tests build many apps in one process (unique app ids and topics on the shared broker), and the
CLI builds exactly one; an import-time app would force every test to reset global state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from schemas import topics
from schemas.settings import Settings

if TYPE_CHECKING:
    import faust

    from streams.pipeline import Pipeline

log = logging.getLogger(__name__)

DEFAULT_APP_ID: Final = "pxstream-worker"
DEFAULT_WEB_PORT: Final = 6066
_PARTITIONS: Final = {spec.name: spec.partitions for spec in topics.TOPICS}
_RETENTION: Final = {spec.name: spec.retention_days for spec in topics.TOPICS}


@dataclass(frozen=True)
class WorkerConfig:
    """What differs between the production worker and a test's worker on the shared broker."""

    app_id: str = DEFAULT_APP_ID
    topic_prefix: str = ""  # prepended to every topic name: unique topics per test or per tenant
    web_host: str = "127.0.0.1"
    web_port: int = DEFAULT_WEB_PORT
    batch_size: int = 1000  # raw messages per take; FAUST-NOTES: per-message overhead dominates
    batch_within_s: float = 0.2  # longest an incomplete batch waits (bounds added latency)
    max_poll_records: int = 1000
    # How long the group waits for a member that died without leaving (kill -9, a lost host)
    # before its partitions go to another worker: the failover time. Faust's default.
    session_timeout_s: float = 60.0
    hotspots: bool = True
    replication_factor: int = 1  # one local broker; a production cluster sets 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> WorkerConfig:
        """`PXSTREAM_APP_ID` and `PXSTREAM_TOPIC_PREFIX` (optional) under the CLI's explicit options."""
        env = os.environ if env is None else env
        config = cls(
            app_id=env.get("PXSTREAM_APP_ID") or DEFAULT_APP_ID,
            topic_prefix=env.get("PXSTREAM_TOPIC_PREFIX", ""),
        )
        return replace(config, **{k: v for k, v in overrides.items() if v is not None})

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

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


def declared_topic(app: faust.App, config: WorkerConfig, name: str, **options: Any) -> faust.TopicT:
    """A raw-bytes topic with the partition count and retention of `schemas.topics` (auto-create is off)."""
    retention_days = _RETENTION.get(name)
    return app.topic(
        config.topic(name),
        partitions=_PARTITIONS[name],
        key_serializer="raw",
        value_serializer="raw",
        retention=timedelta(days=retention_days) if retention_days else None,
        # "internal" only makes Faust declare the topic before it subscribes (auto-create is off).
        internal=True,
        **options,
    )


def create_app(
    settings: Settings,
    config: WorkerConfig | None = None,
    *,
    pipeline: Pipeline | None = None,
    rules: Any = None,
) -> faust.App:
    """Build the worker app: the tagging agent, `/metrics` and `/healthz`, and the hotspot agents.

    `rules` is a loaded RuleSet; when None and `config.hotspots`, the rules file named by the
    settings is loaded here and a bad one raises ConfigError before anything connects.
    """
    import faust

    from streams import fetch_wait
    from streams.agents import register_tagging_agent
    from streams.metrics import Health
    from streams.views import register_views

    config = config or WorkerConfig()
    fetch_wait.install()  # Faust's fixed 1.5 s fetch wait delays hotspot alerts (see the module)
    if config.hotspots and rules is None:
        rules = load_hotspot_rules(settings)
    datadir = settings.data_dir / "worker" / config.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    bootstrap = [f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",") if host.strip()]
    app = faust.App(
        config.app_id,
        broker=bootstrap,
        autodiscover=False,
        store="rocksdb://",
        datadir=str(datadir),
        processing_guarantee="at_least_once",
        topic_partitions=_PARTITIONS[topics.RAW],  # changelogs co-partitioned with the input
        topic_replication_factor=config.replication_factor,
        topic_allow_declare=True,
        broker_max_poll_records=config.max_poll_records,
        broker_session_timeout=config.session_timeout_s,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=True,
        web_host=config.web_host,
        web_port=config.web_port,
        web_in_thread=False,
    )
    health = Health()
    register_tagging_agent(app, settings, config, pipeline or _default_pipeline(), health)
    register_views(app, health)
    if config.hotspots and rules is not None:
        try:
            from streams.hotspots.agent import attach
        except ModuleNotFoundError as exc:
            if exc.name != "streams.hotspots.agent":
                raise
            log.warning("the hotspot agent is not part of this build; running without hotspot alerts")
            return app
        attach(app, settings, rules, tagged_topic=config.tagged_topic, alerts_topic=config.alerts_topic)
    return app


def _default_pipeline() -> Pipeline:
    from streams.pipeline import Pipeline

    return Pipeline.default()


def load_hotspot_rules(settings: Settings) -> Any:
    """The RuleSet named by the settings (ConfigError when invalid); None in a build without hotspots."""
    try:
        from streams.hotspots.rules import load_rules
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("streams.hotspots"):
            log.warning("hotspot rules are not part of this build; running without hotspot alerts")
            return None
        raise
    return load_rules(settings.rules_path)


async def ensure_topics(settings: Settings, config: WorkerConfig, *, timeout_s: float = 15.0) -> list[str]:
    """Create every topic of `schemas.topics` (with the config's prefix) that does not exist yet.

    Run before the worker starts, so that every agent, ours and the hotspot helper's, subscribes
    to topics that exist: a consumer that subscribed to a missing topic only notices it at its
    next metadata refresh, minutes later.
    Returns the names created.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                config.topic(spec.name),
                num_partitions=spec.partitions,
                replication_factor=config.replication_factor,
                topic_configs=spec.configs,
            )
            for spec in topics.TOPICS
            if config.topic(spec.name) not in existing
        ]
        if wanted:
            response = await admin.create_topics(wanted)
            for name, code, *_ in getattr(
                response, "topic_errors", getattr(response, "topic_error_codes", [])
            ):
                if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS, another worker was quicker
                    raise RuntimeError(f"creating topic {name} failed with Kafka error {code}")
        return [topic.name for topic in wanted]
    finally:
        await admin.close()
