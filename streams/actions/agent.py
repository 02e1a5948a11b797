"""Hosting the actions stage: in the Faust worker as a task (like the tagging loop), or on its own.

`build_stage` joins the actions file, the engine, the notifier and the Kafka wiring; `attach`
runs it as a task of the worker's Faust app and stops the worker if it fails, so a supervisor
restarts it rather than leave a process that looks alive and chases nobody.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from pathlib import Path
from typing import Any, Final

from schemas import topics
from schemas.settings import Settings
from streams.actions.config import ActionsConfig, load_actions
from streams.actions.engine import ActionEngine
from streams.actions.notifications import ActionNotifier
from streams.actions.stage import ActionsStage, StageTopics
from streams.hotspots.alertmanager import PusherConfig

log = logging.getLogger(__name__)

DEFAULT_ACTIONS: Final = "infra/actions/actions.yaml"


def actions_path(settings: Settings) -> Path:
    """`PXSTREAM_ACTIONS`, else `infra/actions/actions.yaml` here, else the one shipped with pxstream."""
    if settings.actions_path is not None:
        return settings.actions_path
    local = Path(DEFAULT_ACTIONS)
    if local.exists():
        return local
    return Path(str(resources.files("infra").joinpath("actions", "actions.yaml")))


def load_default_actions(settings: Settings) -> ActionsConfig:
    """The actions file the settings name; ConfigError (exit 2) when it is invalid."""
    return load_actions(actions_path(settings))


def stage_topics(prefix: str = "") -> StageTopics:
    return StageTopics(
        tagged=prefix + topics.TAGGED,
        alerts=prefix + topics.ALERTS,
        commands=prefix + topics.ACTION_COMMANDS,
        actions=prefix + topics.ACTIONS,
    )


def build_stage(
    settings: Settings,
    config: ActionsConfig,
    *,
    topic_names: StageTopics,
    group_id: str,
    tick_interval_s: float = 5.0,
    resend_interval_s: float = 60.0,
) -> ActionsStage:
    notifier = None
    if settings.alertmanager_url:
        notifier = ActionNotifier(
            PusherConfig.from_settings(settings, resend_interval_s=resend_interval_s),
            base_url=settings.web.public_url,
            secret=settings.web.secret_key,
        )
    return ActionsStage(
        bootstrap=settings.kafka_bootstrap,
        topics=topic_names,
        group_id=group_id,
        engine=ActionEngine(config),
        notifier=notifier,
        tick_interval_s=tick_interval_s,
    )


def attach(
    app: Any, settings: Settings, config: ActionsConfig, *, app_id: str, topic_prefix: str = ""
) -> ActionsStage:
    """Run the actions stage as a task of the worker's Faust app."""
    stage = build_stage(
        settings, config, topic_names=stage_topics(topic_prefix), group_id=f"{app_id}.actions"
    )

    @app.task
    async def follow_up_actions() -> None:
        try:
            await stage.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.critical("actions stage stopped: %s: %s", type(exc).__name__, exc)
            await app.crash(exc)

    return stage
