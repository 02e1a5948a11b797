"""Settings and process bookkeeping behind `pxstream infra` (no broker needed)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from infra.broker import min_heap
from infra.config import InfraConfig
from infra.procs import (
    free_port,
    owned_pid,
    pid_alive,
    port_accepts,
    port_holder,
    port_is_free,
    start_detached,
    stop_pid,
)
from infra.stack import select_parts
from schemas.errors import ConfigError, PxstreamError
from schemas.settings import Settings
from tests.conftest import wait_for


def infra_config(env: dict[str, str]) -> InfraConfig:
    return InfraConfig.from_settings(Settings.from_env(env))


def test_defaults_follow_the_contract_and_keep_clear_of_alertmanager(tmp_path: Path) -> None:
    config = infra_config({"PXSTREAM_DATA_DIR": str(tmp_path)})
    assert (config.kafka_bootstrap, config.kafka_port) == ("localhost:9092", 9092)
    assert (config.alertmanager_port, config.prometheus_port) == (9093, 9090)
    assert config.controller_port not in (9093, 9094)  # Alertmanager's web and cluster ports
    assert config.data_dir == tmp_path.resolve() and config.kafka_is_local


def test_ports_come_from_the_contract_variables(tmp_path: Path) -> None:
    config = infra_config(
        {
            "PXSTREAM_DATA_DIR": "rel/dir",
            "PXSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:19092,127.0.0.1:19192",
            "PXSTREAM_ALERTMANAGER_URL": "http://localhost:19093/",
            "PXSTREAM_PROMETHEUS_PORT": "19090",
            "PXSTREAM_KAFKA_CONTROLLER_PORT": "19095",
        }
    )
    assert (config.kafka_port, config.alertmanager_port, config.prometheus_port) == (19092, 19093, 19090)
    assert config.controller_port == 19095
    assert config.data_dir.is_absolute()
    assert infra_config({"PXSTREAM_ALERTMANAGER_URL": ""}).alertmanager_port == 9093
    assert not infra_config({"PXSTREAM_KAFKA_BOOTSTRAP": "kafka.example.nhs.uk:9092"}).kafka_is_local


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PXSTREAM_KAFKA_BOOTSTRAP", "localhost"),
        ("PXSTREAM_KAFKA_BOOTSTRAP", "localhost:ninety"),
        ("PXSTREAM_PROMETHEUS_PORT", "70000"),
        ("PXSTREAM_ALERTMANAGER_URL", "http://localhost:port"),
    ],
)
def test_bad_ports_are_config_errors_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        infra_config({name: value})


def test_unknown_part_is_refused() -> None:
    with pytest.raises(PxstreamError, match=r"unknown part.*zookeeper"):
        select_parts(infra_config({}), ["kafka", "zookeeper"])


def test_min_heap_is_half_the_bound() -> None:
    assert min_heap("512m") == "256m"
    assert min_heap("1g") == "512m"
    assert min_heap("2G") == "1024m"


def test_port_holder_names_the_listening_process() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        holder = port_holder(port)
        assert holder is not None and holder.pid == os.getpid()
        assert "python" in holder.command
        assert not port_is_free("127.0.0.1", port) and port_accepts("127.0.0.1", port)
    assert port_holder(port) is None
    assert port_is_free("127.0.0.1", port)


def test_detached_process_outlives_its_session_and_is_owned_only_with_its_marker(tmp_path: Path) -> None:
    marker = tmp_path / "marker.conf"
    marker.write_text("")
    pid_file, log_file = tmp_path / "run" / "part.pid", tmp_path / "logs" / "part.log"
    code = f"import time; print('u' + 'p', flush=True); time.sleep(60)  # {marker}"
    proc = start_detached([sys.executable, "-c", code], log_file=log_file, pid_file=pid_file, cwd=tmp_path)
    try:
        assert (
            os.getsid(proc.pid) == proc.pid != os.getsid(0)
        )  # its own session: Ctrl-C here does not reach it
        # until exec() completes /proc shows the parent's command line, so ownership needs a moment
        wait_for(lambda: owned_pid(pid_file, str(marker)) == proc.pid, 5, "the child's command line")
        assert owned_pid(pid_file, str(tmp_path / "another.conf")) is None  # a reused pid is not ours
        wait_for(lambda: "\nup\n" in log_file.read_text(), 10, "the child's output in its log")
    finally:
        t0 = time.monotonic()
        assert stop_pid(proc.pid, timeout=10) is False  # SIGTERM was enough
        proc.wait()
    assert time.monotonic() - t0 < 10
    assert not pid_alive(proc.pid)
    assert owned_pid(pid_file, str(marker)) is None


def test_stop_pid_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    # the log's header line repeats the command, so the child prints a word the command does not contain
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('rea' + 'dy', flush=True)\ntime.sleep(60)"
    log_file = tmp_path / "stubborn.log"
    proc = start_detached(
        [sys.executable, "-c", code], log_file=log_file, pid_file=tmp_path / "p.pid", cwd=tmp_path
    )
    wait_for(lambda: "\nready" in log_file.read_text(), 10, "the handler to be installed")
    assert stop_pid(proc.pid, timeout=1) is True
    proc.wait(timeout=5)
    assert not pid_alive(proc.pid)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port)
