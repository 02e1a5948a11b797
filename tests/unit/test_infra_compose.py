"""The Docker stack file: `docker compose config` where the compose plugin exists, and the facts
that matter checked directly (they hold whether or not Docker is installed)."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
import yaml

from infra.broker import kafka_version
from infra.config import INFRA_DIR

COMPOSE_FILE = INFRA_DIR / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="no `docker compose` here (docker CLI without compose)")
def test_docker_compose_config_accepts_the_stack() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_stack_has_every_part() -> None:
    parts = {"kafka", "kafka-init", "clickhouse", "worker", "prometheus", "alertmanager", "grafana"}
    assert set(SERVICES) == parts | {"grafana-export"}


def test_kafka_is_the_same_release_as_the_local_broker_and_creates_no_topics_itself() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"] == f"apache/kafka:{kafka_version()}"
    env = kafka["environment"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16  # a KRaft cluster id is a UUID


def test_bind_mounted_files_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and volume.startswith("./"):
                source = volume.split(":")[0]
                assert (INFRA_DIR / source).exists(), f"{name}: {source} is missing"


def test_published_ports_are_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_pxstream_services_get_the_contract_environment() -> None:
    for name in ("worker", "kafka-init"):
        env = SERVICES[name]["environment"]
        assert env["PXSTREAM_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["PXSTREAM_ALERTMANAGER_URL"] == "http://alertmanager:9093"
        assert (
            env["PXSTREAM_CLICKHOUSE_URL"].startswith("http://")
            and "@clickhouse:8123/" in env["PXSTREAM_CLICKHOUSE_URL"]
        )
        assert SERVICES[name]["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}
    assert "--web-host" in SERVICES["worker"]["command"]  # Prometheus scrapes it from another container
    assert (INFRA_DIR / "Dockerfile").is_file()


def test_grafana_gets_the_clickhouse_plugin_and_the_exported_provisioning() -> None:
    grafana = SERVICES["grafana"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
    mounts = {v["target"]: v["volume"]["subpath"] for v in grafana["volumes"] if isinstance(v, dict)}
    assert mounts == {
        "/etc/grafana/provisioning": "provisioning",
        "/var/lib/grafana/dashboards/pxstream": "dashboards",
    }
    assert SERVICES["grafana-export"]["command"] == ["grafana", "export", "/export"]


def test_compose_prometheus_uses_the_same_rules() -> None:
    prometheus = SERVICES["prometheus"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prometheus["volumes"]
    config = yaml.safe_load((INFRA_DIR / "compose" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets["pxstream-worker"] == ["worker:6066"]
