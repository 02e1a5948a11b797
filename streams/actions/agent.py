"""Hosting the actions stage: a tenant of the runtime's loop, run as a task of the Faust worker.

`build_stage` joins the actions file, the engine and the notifier into the tenant; `actions_loop`
hosts it in a `ConsumeLoop` whose group has one active member; `attach` runs that loop in the
worker and stops the worker if it fails, so a supervisor restarts it rather than leave a process
that looks alive and chases nobody. The bench (bench/actions.py) runs the same loop.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any, Final

from runtime.loop import ConsumeLoop, LoopConfig
from runtime.single_owner import SingleOwnerAssignor
from schemas import topics
from schemas.settings import Settings
from streams.actions.config import ActionsConfig, load_actions
from streams.actions.engine import ActionEngine
from streams.actions.notifications import ActionNotifier
from streams.actions.stage import ActionsStage, StageTopics
from streams.hosting import run_in_worker
from streams.hotspots.alertmanager import PusherConfig

log = logging.getLogger(__name__)

DEFAULT_ACTIONS: Final = "infra/actions/actions.yaml"
POLL_TIMEOUT_S: Final = 0.5  # the longest a due reminder or escalation waits for its tick


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
    settings: Settings, config: ActionsConfig, *, topic_names: StageTopics, client_id: str
) -> ActionsStage:
    """The tenant: engine, notifier (when Alertmanager is configured) and the `actions` producer."""
    notifier = None
    if settings.alertmanager_url:
        notifier = ActionNotifier(
            PusherConfig.from_settings(settings, resend_interval_s=config.resend_every_s),
            base_url=settings.web.public_url,
            secret=settings.web.secret_key,
        )
    return ActionsStage(
        bootstrap=settings.kafka_bootstrap,
        topics=topic_names,
        engine=ActionEngine(config),
        notifier=notifier,
        client_id=client_id,
    )


def actions_loop(
    settings: Settings,
    config: ActionsConfig,
    *,
    group_id: str,
    topic_prefix: str = "",
    session_timeout_s: float = 10.0,
) -> ConsumeLoop:
    """The stage the actions file describes, hosted by the runtime's loop (see `host`)."""
    stage = build_stage(settings, config, topic_names=stage_topics(topic_prefix), client_id=group_id)
    return host(stage, group_id=group_id, session_timeout_s=session_timeout_s)


def host(
    stage: ActionsStage, *, group_id: str, session_timeout_s: float = 10.0, started_at: float | None = None
) -> ConsumeLoop:
    """A `ConsumeLoop` over the stage's inputs whose group has one active member (docs/actions.md).

    Every input partition goes to one member (runtime/single_owner.py); any other worker with
    the same app id stands by in the group and takes over within `session_timeout_s` of the
    active one dying. The poll timeout bounds how late a due tick runs.
    """
    loop_config = LoopConfig(
        group_id=group_id,
        topics=stage.topics.inputs,
        max_poll_records=stage.batch_size,
        max_buffered=stage.batch_size,
        poll_timeout_s=POLL_TIMEOUT_S,
        backoff_initial_s=0.5,
        backoff_max_s=10.0,
        session_timeout_s=session_timeout_s,
        consumer_options={"partition_assignment_strategy": (SingleOwnerAssignor(started_at),)},
    )
    return ConsumeLoop(stage.bootstrap, loop_config, stage)


def attach(
    app: Any,
    settings: Settings,
    config: ActionsConfig,
    *,
    app_id: str,
    topic_prefix: str = "",
    session_timeout_s: float = 10.0,
) -> ConsumeLoop:
    """Run the actions stage as a task of the worker's Faust app (group `<app id>.actions`)."""
    loop = actions_loop(
        settings,
        config,
        group_id=f"{app_id}.actions",
        topic_prefix=topic_prefix,
        session_timeout_s=session_timeout_s,
    )

    run_in_worker(app, loop, "actions stage")
    return loop
