"""File import against the real broker: rows end on the topic, re-imports send nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.file_import import bench_file_import
from connectors.exceptions import BrokerUnavailable
from connectors.files.importer import import_file
from connectors.files.mapping import load_mapping
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration
MAPPINGS = Path(__file__).resolve().parents[2] / "connectors" / "files" / "mappings"
HEADER = (
    "PALS Reference,Date Received,Site,Ward/Department,Subject,Contact Method,Raised By,Summary of Concern\n"
)


def read_all(bootstrap: str, topic: str, expected: int) -> list[dict]:
    return asyncio.run(read_topic(bootstrap, topic, expected))


def pals_rows(count: int, start: int = 0) -> str:
    return "".join(
        f"P{n},0{1 + n % 9}/03/2025 10:{n % 60:02d},RR801,Ward {n % 5},"
        f"Communications,Phone,Patient,Concern {n}\n"
        for n in range(start, start + count)
    )


def test_rows_reach_the_topic_and_an_unchanged_reimport_sends_nothing(
    kafka_bootstrap: str, new_topic, tmp_path: Path
) -> None:
    topic = new_topic(partitions=2, prefix="test-file-import")
    mapping = load_mapping(MAPPINGS / "pals.yaml")
    export = tmp_path / "pals.csv"
    export.write_text(HEADER + pals_rows(50) + "P-bad,not a date,,,,,,x\n", encoding="utf-8")
    state = tmp_path / "state"

    def run(**options):  # type: ignore[no-untyped-def]
        return asyncio.run(
            import_file(export, mapping, bootstrap=kafka_bootstrap, data_dir=state, topic=topic, **options)
        )

    first = run()
    assert (first.rows, first.sent, first.rejected_rows) == (51, 50, 1)
    events = read_all(kafka_bootstrap, topic, 50)
    assert sorted(e["event_id"] for e in events) == sorted(f"pals-log:P{n}" for n in range(50))
    assert all(e["source"] == "pals" and e["occurred_at"].endswith("Z") for e in events)

    again = run()
    assert again.already_imported is not None and again.sent == 0

    # Two rows appended and one corrected: only those three are sent.
    export.write_text(
        HEADER + pals_rows(50).replace("Concern 7\n", "Concern 7 (corrected)\n") + pals_rows(2, start=50),
        encoding="utf-8",
    )
    changed = run()
    assert (changed.sent, changed.unchanged) == (3, 49)
    events = read_all(kafka_bootstrap, topic, 53)
    assert len(events) == 53
    assert [e["text"] for e in events if e["event_id"] == "pals-log:P7"][-1] == "Concern 7 (corrected)"

    forced = run(force=True)
    assert forced.sent == 52  # --force re-sends; downstream collapses on event_id


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    export = tmp_path / "pals.csv"
    export.write_text(HEADER + pals_rows(3), encoding="utf-8")
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:9"):
        asyncio.run(
            import_file(
                export, load_mapping(MAPPINGS / "pals.yaml"), bootstrap="127.0.0.1:9", data_dir=tmp_path / "s"
            )
        )


def test_bench_imports_every_row(kafka_bootstrap: str, new_topic) -> None:
    topic = new_topic(partitions=4, prefix="test-import-bench")
    result = bench_file_import(kafka_bootstrap, rows=2_000, topic=topic)
    assert result["import_rows"] == 2_000 and result["import_rows_per_s"] > 0
    assert len(read_all(kafka_bootstrap, topic, 2_000)) == 2_000
