"""`pxstream infra up | status | down` as a person runs them, on a private stack.

Each test uses its own data dir and free ports (through the same environment variables an operator
would set), so the shared broker on 9092 and other people's tests are never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.broker import KafkaBroker, ensure_topics
from infra.config import InfraConfig
from infra.procs import free_port, pid_alive, port_is_free, read_pid
from schemas.settings import Settings
from schemas.topics import TOPICS, TopicSpec
from tests.conftest import wait_for
from tests.support.kafka import topic_names

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def stack_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PXSTREAM_DATA_DIR=str(data_dir),
        PXSTREAM_KAFKA_BOOTSTRAP=f"localhost:{free_port()}",
        PXSTREAM_KAFKA_CONTROLLER_PORT=str(free_port()),
        PXSTREAM_ALERTMANAGER_URL=f"http://localhost:{free_port()}",
        PXSTREAM_PROMETHEUS_PORT=str(free_port()),
    )
    env.pop("PXSTREAM_ALERT_WEBHOOK_URL", None)
    return env


def pxstream(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pxstream", "infra", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pids(data_dir: Path) -> dict[str, int | None]:
    return {
        part: read_pid(data_dir / "run" / f"{part}.pid") for part in ("kafka", "alertmanager", "prometheus")
    }


@pytest.fixture(scope="module")
def kafka_jars() -> Path:
    """The jar cache of the default data dir, fetched once (Maven takes ~10 s even from ~/.m2)."""
    broker = KafkaBroker(InfraConfig.from_settings(Settings.from_env()))
    broker.check_installed()
    broker.fetch_jars(lambda message: print(message, file=sys.stderr))
    return broker.libs_dir


def _link_tree(source: Path, target: Path) -> None:
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # another file system: copy
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


@pytest.fixture
def private_stack(tmp_path: Path, kafka_jars: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    data_dir = tmp_path / "pxstream"
    _link_tree(kafka_jars, data_dir / "kafka" / "libs")
    env = stack_env(data_dir)
    yield data_dir, env
    pxstream(env, "down", timeout=120)  # whatever a failed test left running


def test_up_status_second_up_down_and_restart_keep_data(private_stack: tuple[Path, dict[str, str]]) -> None:
    data_dir, env = private_stack
    bootstrap = env["PXSTREAM_KAFKA_BOOTSTRAP"]

    first = pxstream(env, "up")  # jars cached (kafka_jars): formats storage, starts, creates topics
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Kafka: healthy" in first.stdout and "started in" in first.stdout
    started = pids(data_dir)
    assert all(pid and pid_alive(pid) for pid in started.values()), started

    status = pxstream(env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = [line.split() for line in status.stdout.splitlines()[1:]]
    assert [(row[0], row[2], row[3]) for row in rows] == [
        ("Kafka", str(started["kafka"]), "healthy"),
        ("Alertmanager", str(started["alertmanager"]), "healthy"),
        ("Prometheus", str(started["prometheus"]), "healthy"),
    ]
    assert bootstrap in status.stdout

    again = pxstream(env, "up", timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already running") == 3, again.stdout
    assert "starting" not in again.stdout and "created topics" not in again.stdout
    assert pids(data_dir) == started

    kept = f"kept-{time.time_ns()}"
    ensure_topics(bootstrap, [TopicSpec(kept, partitions=2)])

    down = pxstream(env, "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    for pid in started.values():
        assert pid is not None
        wait_for(lambda pid=pid: not pid_alive(pid), 10, f"pid {pid} to exit")
    assert pids(data_dir) == {"kafka": None, "alertmanager": None, "prometheus": None}
    assert port_is_free("127.0.0.1", int(bootstrap.rsplit(":", 1)[1]))
    stopped = pxstream(env, "status")
    assert stopped.returncode == 1 and stopped.stdout.count("stopped") == 3, stopped.stdout

    t0 = time.monotonic()
    restart = pxstream(env, "up", "kafka", "alertmanager")
    elapsed = time.monotonic() - t0
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert elapsed < 60, f"up took {elapsed:.1f} s with the jars cached"  # the acceptance bound
    assert "formatting" not in restart.stdout and "fetching" not in restart.stdout
    assert "created topics" not in restart.stdout  # the project's topics survived the restart

    listed = topic_names(bootstrap)  # the topic made before `down` is still there
    assert {kept, *(spec.name for spec in TOPICS)} <= listed

    purge = pxstream(env, "down", "--purge", timeout=120)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert not (data_dir / "kafka" / "data").exists()
    assert (data_dir / "kafka" / "libs").is_dir(), "the jar cache is not data: purge keeps it"


@pytest.mark.parametrize("part", ["kafka", "alertmanager"])
def test_up_fails_fast_naming_the_port_when_another_process_holds_it(
    part: str, private_stack: tuple[Path, dict[str, str]]
) -> None:
    data_dir, env = private_stack
    with socket.socket() as squatter:  # accepts connections, never answers: not Kafka, not Alertmanager
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        if part == "kafka":
            env["PXSTREAM_KAFKA_BOOTSTRAP"] = f"localhost:{port}"
        else:
            env["PXSTREAM_ALERTMANAGER_URL"] = f"http://localhost:{port}"

        t0 = time.monotonic()
        result = pxstream(env, "up", part, timeout=30)
        elapsed = time.monotonic() - t0

        assert result.returncode != 0
        assert elapsed < 10, f"took {elapsed:.1f} s"
        assert f"port {port}" in result.stderr
        assert f"pid {os.getpid()}" in result.stderr  # names the holder
        assert result.stderr.count("\n") == 1, "one line for a person, no traceback"
        status = pxstream(env, "status", part)
        assert status.returncode == 1 and "conflict" in status.stdout
    assert read_pid(data_dir / "run" / f"{part}.pid") is None


def test_up_names_the_debian_package_when_a_program_is_missing(
    private_stack: tuple[Path, dict[str, str]],
) -> None:
    _, env = private_stack
    env["PATH"] = "/nonexistent"
    result = pxstream(env, "up", "alertmanager", timeout=30)
    assert result.returncode != 0
    assert "prometheus-alertmanager" in result.stderr and "Debian package" in result.stderr


def test_a_running_service_this_data_dir_did_not_start_is_used_not_stopped(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Another checkout's broker on the port is reported as external: `up` uses it, `down` leaves it."""
    env = stack_env(tmp_path / "other")
    env["PXSTREAM_KAFKA_BOOTSTRAP"] = kafka_bootstrap

    up = pxstream(env, "up", "kafka", timeout=60)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "external" in up.stdout
    status = pxstream(env, "status", "kafka")
    assert status.returncode == 0 and "external" in status.stdout
    down = pxstream(env, "down", "kafka")
    assert down.returncode == 0 and "was not running" in down.stdout
    from infra.broker import kafka_answers

    assert kafka_answers(kafka_bootstrap)


def test_a_part_that_dies_at_start_up_fails_up_naming_part_port_and_log(
    private_stack: tuple[Path, dict[str, str]],
) -> None:
    data_dir, env = private_stack
    env["PXSTREAM_KAFKA_HEAP"] = "1k"  # the JVM refuses to start with a heap this small
    result = pxstream(env, "up", "kafka")
    assert result.returncode != 0
    port = env["PXSTREAM_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1]
    first_line = result.stderr.splitlines()[0]
    assert "Kafka exited during start-up" in first_line and f"port {port}" in first_line
    assert str(data_dir / "logs" / "kafka.log") in first_line
    assert read_pid(data_dir / "run" / "kafka.pid") is None  # nothing left for `down` to chase


def test_another_kind_of_service_on_the_port_is_a_conflict(
    private_stack: tuple[Path, dict[str, str]],
) -> None:
    """A Prometheus answering /-/ready on the Alertmanager port is not mistaken for an Alertmanager."""
    _, env = private_stack
    prometheus_port = env["PXSTREAM_PROMETHEUS_PORT"]
    started = pxstream(env, "up", "prometheus", timeout=60)
    assert started.returncode == 0, started.stdout + started.stderr
    env_am = dict(env, PXSTREAM_ALERTMANAGER_URL=f"http://localhost:{prometheus_port}")
    result = pxstream(env_am, "up", "alertmanager", timeout=30)
    assert result.returncode != 0
    assert f"port {prometheus_port}" in result.stderr and "prometheus" in result.stderr
