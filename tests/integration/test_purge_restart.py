"""A new Kafka under an old worker: the worker starts anyway, rebuilds its state and counts afresh.

The careless operator's sequence, on a private stack (its own data dir and ports): run the worker
with hotspot state, purge Kafka (only Kafka, so the worker's data directory survives, as it did
after every `infra down --purge` before), bring Kafka back empty and start the worker again. When
the hotspot state lived in Faust's RocksDB tables, Faust alone stopped it with ConsistencyError at
every start. The hotspot stage now keeps no local copy: it rebuilds each partition's state from its
changelog as Kafka has it, once per partition, and goes on. Then the whole purge, which must say
what it deletes.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import orjson
import pytest

from bench.harness import WorkerProcess, synthetic_events
from bench.pipeline import _wait_hotspots_caught_up
from infra.broker import KafkaBroker
from infra.config import InfraConfig
from runtime.produce import produce
from runtime.tail import end_offsets
from schemas.settings import Settings
from streams.hotspots.changelog import changelog_topic
from streams.worker_config import WorkerConfig, ensure_topics
from tests.integration.test_infra_cli import kafka_jars, private_stack, pxstream  # noqa: F401 - fixtures
from tests.support.kafka import topic_names

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RULES = Path(__file__).resolve().parents[2] / "infra" / "rules" / "demo.yaml"
# streams/hotspots/stage.py logs each partition's recovery; a new or emptied changelog gives 0 keys.
RECOVERED_EMPTY = r"hotspot partition (\d+): 0 keys recovered from \S+-hotspot-state-changelog"


def _worker(settings: Settings, config: WorkerConfig, data_dir: Path, log: Path) -> WorkerProcess:
    return WorkerProcess(
        settings,
        prefix=config.topic_prefix,
        app_id=config.app_id,
        data_dir=data_dir,
        log_path=log,
        extra_args=("--no-sink",),
        env={"PXSTREAM_RULES": str(RULES), "PXSTREAM_ALERTMANAGER_URL": ""},
    )


def _feed(settings: Settings, config: WorkerConfig, count: int, seed: int) -> None:
    asyncio.run(ensure_topics(settings, config))
    events = synthetic_events(count, seed=seed)
    values = [(e["provider"].encode(), orjson.dumps(e)) for e in events]
    asyncio.run(produce(settings.kafka_bootstrap, config.raw_topic, values))


def test_worker_survives_a_purged_kafka_and_purge_says_what_it_deletes(
    private_stack: tuple[Path, dict[str, str]],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    data_dir, env = private_stack
    settings = Settings.from_env(env)
    config = WorkerConfig(app_id="purge-test", topic_prefix="")
    up = pxstream(env, "up", "kafka")
    assert up.returncode == 0, up.stdout + up.stderr

    first = _worker(settings, config, data_dir, tmp_path / "first.log")
    _feed(settings, config, 60, seed=1)
    with first:
        first.wait_assigned(timeout_s=120)
        _wait_hotspots_caught_up(first, 60, timeout_s=120)
    # The state lives in the changelog (streams/hotspots/changelog.py), nowhere local.
    changelog = changelog_topic(config.app_id)
    assert any(asyncio.run(end_offsets(settings.kafka_bootstrap, changelog)).values()), changelog
    assert not list((data_dir / "worker").rglob("*.db")), "a local table the worker would trust"

    # Only Kafka: the worker's data directory survives, its state's changelog does not.
    down = pxstream(env, "down", "kafka", "--purge")
    assert down.returncode == 0, down.stderr
    assert (data_dir / "worker").exists()
    up = pxstream(env, "up", "kafka")
    assert up.returncode == 0, up.stdout + up.stderr

    second = _worker(settings, config, data_dir, tmp_path / "second.log")
    _feed(settings, config, 25, seed=2)
    with second:
        second.wait_assigned(timeout_s=120)
        # It counts the new events only: the old state was discarded, not carried over.
        _wait_hotspots_caught_up(second, 25, timeout_s=120)
        assert second.health() is not None
    log = (tmp_path / "second.log").read_text()
    assert "ConsistencyError" not in log
    rebuilt = re.findall(RECOVERED_EMPTY, log)
    assert rebuilt, log[-3000:]
    assert len(rebuilt) == len(set(rebuilt))  # once per partition

    # The whole purge names everything it deletes, the worker's tables included.
    down = pxstream(env, "down", "--purge")
    assert down.returncode == 0, down.stderr
    assert f"deleted {data_dir / 'worker'}: worker tables" in down.stdout
    for kafka_state in KafkaBroker(InfraConfig.from_settings(Settings.from_env(env))).state_dirs:
        assert f"deleted {kafka_state}" in down.stdout
    assert not (data_dir / "worker").exists()
    assert (data_dir / "kafka" / "libs").exists()  # the jar cache stays


def test_worker_survives_its_changelog_topics_being_deleted(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Same cluster, deleted changelog: the state is rebuilt from the changelog as it is now."""
    from bench.harness import unique_prefix
    from runtime.admin import delete_topics

    settings = Settings.from_env(  # the process environment too: the worker child starts with it
        {**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_DATA_DIR": str(tmp_path)}
    )
    prefix = unique_prefix("test-changelog-gone")
    config = WorkerConfig(app_id=f"{prefix}app", topic_prefix=prefix)
    first = _worker(settings, config, tmp_path, tmp_path / "first.log")
    _feed(settings, config, 40, seed=3)
    with first:
        first.wait_assigned(timeout_s=120)
        _wait_hotspots_caught_up(first, 40, timeout_s=120)
    changelogs = _topics_named(kafka_bootstrap, f"{config.app_id}-")
    assert any(name.endswith("-changelog") for name in changelogs), changelogs
    asyncio.run(delete_topics(kafka_bootstrap, changelogs))

    second = _worker(settings, config, tmp_path, tmp_path / "second.log")
    try:
        _feed(settings, config, 10, seed=4)
        with second:
            second.wait_assigned(timeout_s=120)
            _wait_hotspots_caught_up(second, 10, timeout_s=120)
        log = (tmp_path / "second.log").read_text()
        assert "ConsistencyError" not in log
        assert re.search(RECOVERED_EMPTY, log), log[-3000:]
    finally:
        names = _topics_named(kafka_bootstrap, prefix) + _topics_named(kafka_bootstrap, f"{config.app_id}-")
        asyncio.run(delete_topics(kafka_bootstrap, names))


def _topics_named(bootstrap: str, start: str) -> list[str]:
    return [name for name in topic_names(bootstrap) if name.startswith(start)]
