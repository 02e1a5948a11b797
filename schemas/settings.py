"""Process-wide settings read from the environment (CONTRACTS.md, "Environment").

One frozen object, built once at start-up and passed down, so tests can build their own
without patching globals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULTS: dict[str, str] = {
    "PXSTREAM_KAFKA_BOOTSTRAP": "localhost:9092",
    "PXSTREAM_CLICKHOUSE_URL": "chdb://./.pxstream/clickhouse",
    "PXSTREAM_ALERTMANAGER_URL": "http://localhost:9093",
    "PXSTREAM_RULES": "infra/rules/hotspots.yaml",
    "PXSTREAM_DATA_DIR": "./.pxstream",
}


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    clickhouse_url: str
    alertmanager_url: str  # empty: do not push alerts
    rules_path: Path
    data_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(name, DEFAULTS[name])

        return cls(
            kafka_bootstrap=get("PXSTREAM_KAFKA_BOOTSTRAP"),
            clickhouse_url=get("PXSTREAM_CLICKHOUSE_URL"),
            alertmanager_url=get("PXSTREAM_ALERTMANAGER_URL").rstrip("/"),
            rules_path=Path(get("PXSTREAM_RULES")),
            data_dir=Path(get("PXSTREAM_DATA_DIR")),
        )
