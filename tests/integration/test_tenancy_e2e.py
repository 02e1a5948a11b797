"""Two organisations send the same event_id, as an attacker (or two honest source systems) would:
through the real HTTP ingest API, the whole worker (tagging, hotspots, ClickHouse sink) and the
monthly report. Both events are stored, both count toward the hotspot, the alert names both
organisations, and each organisation's report shows its own event and the shared episode."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from bench.harness import WorkerProcess
from connectors.ingest.server import IngestConfig, create_app
from connectors.ingest.tokens import TokenStore
from schemas.settings import Settings
from streams.hotspots.windows import iso_z
from streams.worker_config import WorkerConfig
from tests.integration.test_ingest_http import OTHER_TOKEN, TOKEN, RunningServer, write_tokens
from tests.support.hotspots import read_alerts
from tests.support.kafka import worker_topics
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

RULES = """
rules:
  - id: ward-pair
    description: Two incidents on one ward within an hour
    group_by: [provider, ward]
    window: {size: 1h}
    threshold: 2
"""


@pytest.fixture
def config(kafka_bootstrap: str) -> Iterator[WorkerConfig]:
    settings = Settings.from_env({"PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap})
    with worker_topics(settings, "test-tenancy") as config:
        yield config


def sink_rows(worker: WorkerProcess, table: str) -> float:
    prefix = f'pxstream_sink_rows_total{{table="{table}"}}'
    line = next((x for x in worker.metrics_text().splitlines() if x.startswith(prefix)), "")
    return float(line.split()[-1]) if line else 0.0


def test_the_same_event_id_from_two_organisations_is_two_events_everywhere(
    kafka_bootstrap: str, config: WorkerConfig, tmp_path: Path
) -> None:
    from grafana.report.data import Month, load_month
    from sinks.client import connect

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    clickhouse = f"chdb://{tmp_path / 'clickhouse'}"
    now = time.time()
    incident = {
        "event_id": "INC-1",
        "source": "incident",
        "occurred_at": iso_z(int(now) - 120),
        "provider": "RX1",
        "ward": "Ward 7",
        "text": "Patient fell on the ward overnight",
        "severity": "moderate",
    }
    app = create_app(
        IngestConfig(bootstrap=kafka_bootstrap, topic=config.raw_topic, rate_per_s=100, burst=100),
        TokenStore.load(write_tokens(tmp_path)),
    )
    with RunningServer(app) as server:
        for token in (TOKEN, OTHER_TOKEN):  # QWO first, then QM7 with the same id
            reply = requests.post(
                f"{server.url}/v1/events",
                json=incident,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert (reply.status_code, reply.json()) == (202, {"accepted": 1})

    worker = WorkerProcess(  # the process environment too: the worker child starts with it
        Settings.from_env({**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap}),
        prefix=config.topic_prefix,
        app_id=config.app_id,
        data_dir=tmp_path,
        log_path=tmp_path / "worker.log",
        extra_args=(),
        env={
            "PXSTREAM_RULES": str(rules),
            "PXSTREAM_ALERTMANAGER_URL": "",
            "PXSTREAM_CLICKHOUSE_URL": clickhouse,
        },
    ).start()
    try:
        worker.wait_assigned(timeout_s=120)
        wait_for(
            lambda: sink_rows(worker, "feedback_events") >= 2 and sink_rows(worker, "hotspot_alerts") >= 1,
            120,
            "both events and the alert in ClickHouse",
            interval=0.5,
        )
    finally:
        assert worker.stop() == 0, worker.log_path.read_text()[-3000:]

    (alert,) = read_alerts(kafka_bootstrap, config.alerts_topic)
    assert (alert["status"], alert["count"], alert["organisations"]) == ("firing", 2, ["QM7", "QWO"])
    assert alert["group"] == {"provider": "RX1", "ward": "Ward 7"}

    client = connect(clickhouse)
    stored = client.query("SELECT organisation, event_id FROM feedback_events FINAL ORDER BY organisation")
    assert stored.result_rows == [("QM7", "INC-1"), ("QWO", "INC-1")]
    daily = client.query(
        "SELECT organisation, sum(events) FROM feedback_daily GROUP BY organisation ORDER BY 1"
    )
    assert daily.result_rows == [("QM7", 1), ("QWO", 1)]
    alerts = client.query("SELECT alert_id, organisations FROM hotspot_alerts FINAL").result_rows
    assert alerts == [(alert["alert_id"], ["QM7", "QWO"])]
    month = Month.parse(datetime.fromtimestamp(now - 120, UTC).strftime("%Y-%m"))
    for organisation in ("QWO", "QM7"):
        report = load_month(client, organisation, month)
        assert report.events == 1, organisation
        assert [e["alert_id"] for e in report.episodes] == [alert["alert_id"]], organisation
