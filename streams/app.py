"""The Faust app factory: one function builds a configured app, nothing is created at import time.

Tests build many apps in one process (unique app ids and topics on the shared broker), and the
CLI builds exactly one; an import-time app would force every test to reset global state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from schemas import topics
from schemas.settings import Settings
from streams.worker_config import WorkerConfig

if TYPE_CHECKING:
    import faust

    from streams.pipeline import Pipeline


_PARTITIONS: Final = {spec.name: spec.partitions for spec in topics.TOPICS}
_RETENTION: Final = {spec.name: spec.retention_days for spec in topics.TOPICS}


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
    """Build the worker app: the tagging stage, `/metrics` and `/healthz`, and the hotspot stage.

    `rules` is a loaded RuleSet; when None and `config.hotspots`, the rules file named by the
    settings is loaded here and a bad one raises ConfigError before anything connects.
    """
    import faust

    from streams.agents import register_tagging_agent
    from streams.metrics import Health
    from streams.no_tables import NoTablesManager
    from streams.views import register_views

    config = config or WorkerConfig()
    # Faust's consumer keeps its own 1.5 s fetch wait: no stage reads through it any more (the
    # hotspot stage's consumer asks for its own 100 ms), and at 20 ms its empty fetches cost each
    # worker about 50 broker requests a second, idle or not (docs/benchmarks.md, "Scaling").
    if config.hotspots and rules is None:
        rules = load_hotspot_rules(settings)
    datadir = settings.data_dir / "worker" / config.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    bootstrap = [f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",") if host.strip()]
    app = faust.App(
        config.app_id,
        broker=bootstrap,
        autodiscover=False,
        # No stage keeps a Faust table: the hotspot stage's state is in memory and in its own
        # changelog topic (docs/hotspot-speed.md), so nothing needs RocksDB.
        store="memory://",
        # ... and so Faust's table manager need not wait 1 s at every start for tables to register.
        TableManager=NoTablesManager,
        datadir=str(datadir),
        processing_guarantee="at_least_once",
        topic_partitions=_PARTITIONS[topics.RAW],  # changelogs co-partitioned with the input
        topic_replication_factor=config.replication_factor,
        topic_allow_declare=True,
        broker_max_poll_records=config.max_poll_records,
        broker_session_timeout=config.session_timeout_s,
        # Three heartbeats per session, as the stages' own consumers send (runtime/loop.py): Faust's
        # fixed 3 s would equal a short session and let a live worker be evicted.
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 3),
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
    loops = []
    if config.hotspots and rules is not None:
        from streams.hotspots.agent import attach

        hotspots = attach(
            app,
            settings,
            rules,
            tagged_topic=config.tagged_topic,
            alerts_topic=config.alerts_topic,
            tick_interval_s=config.hotspot_tick_interval_s,
            quiet_after_s=config.hotspot_quiet_after_s,
            batch_size=config.hotspot_batch_size,
            batch_within_s=config.hotspot_batch_within_s,
            session_timeout_s=config.session_timeout_s,
            replication_factor=config.replication_factor,
            pusher_config=_pusher_config(settings, config),
        )
        if hotspots is not None and hotspots.loop is not None:
            loops.append(hotspots.loop)
    register_tagging_agent(app, settings, config, pipeline or _default_pipeline(), health, also=loops)
    register_views(app, health)
    return app


def _pusher_config(settings: Settings, config: WorkerConfig) -> Any:
    """The Alertmanager pusher's settings, or None when alerts are not pushed (no URL)."""
    if not settings.alertmanager_url:
        return None
    from streams.hotspots.alertmanager import PusherConfig

    return PusherConfig.from_settings(settings, resend_interval_s=config.alertmanager_resend_s)


def _default_pipeline() -> Pipeline:
    from streams.pipeline import Pipeline

    return Pipeline.default()


def load_hotspot_rules(settings: Settings) -> Any:
    """The RuleSet named by the settings (ConfigError when invalid)."""
    from streams.hotspots.rules import load_rules

    return load_rules(settings.rules_path)
