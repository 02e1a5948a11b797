"""The file-import part of `pxstream bench`: a generated CSV export imported against a real broker.

Measures what an operator sees: reading, mapping, validating and sending every row until Kafka
acknowledged it. It runs on a fresh, uniquely named topic (deleted afterwards) and a throwaway
ledger, so a bench never sends to `feedback.raw` and never skips rows as "already imported".
"""

from __future__ import annotations

import asyncio
import csv
import random
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.files.importer import import_file
from connectors.files.mapping import load_mapping
from runtime.admin import create_topics, delete_topics
from schemas.topics import TopicSpec

_MAPPING = """\
name: bench-pals
source: pals
event_id: {column: Ref}
columns:
  Ref: attributes.reference
  Date Received: occurred_at
  Site: site
  Ward: ward
  Subject: category_codes
  Raised By: reporter
  Summary: text
values:
  reporter: {Patient: patient, Relative: carer}
category_prefix: "ko41a:"
"""
_WARDS = ("Ward 12", "Ash Ward", "A&E", "Maternity", "Outpatients", "Ward J12")
_SUBJECTS = ("Communications", "Appointments", "Clinical treatment", "Staff attitude", "Facilities")
_PHRASES = (
    "Waited four hours to be seen and nobody explained why.",
    "The nurses were kind and kept us informed throughout.",
    "Appointment letter arrived after the appointment date.",
    "The toilets on the ward were not clean.",
    "Discharge was delayed because medication was not ready.",
)


def write_export(path: Path, rows: int, *, seed: int = 7) -> None:
    """A PALS-log-like CSV with UK dates: `rows` data rows."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Ref", "Date Received", "Site", "Ward", "Subject", "Raised By", "Summary"])
        for number in range(rows):
            moment = start + timedelta(minutes=rng.randrange(0, 525_600))
            writer.writerow(
                [
                    f"P{number:07d}",
                    moment.strftime("%d/%m/%Y %H:%M"),
                    rng.choice(("RR801", "RR813")),
                    rng.choice(_WARDS),
                    rng.choice(_SUBJECTS),
                    rng.choice(("Patient", "Relative")),
                    " ".join(rng.sample(_PHRASES, 2)),
                ]
            )


def bench_file_import(bootstrap: str, rows: int = 100_000, topic: str | None = None) -> dict[str, Any]:
    """Generate a `rows`-row CSV, import it to Kafka, return {"import_rows_per_s": …, …}.

    With `topic=None` a fresh topic is created and deleted afterwards; a given topic must exist.
    """
    own_topic = topic is None
    topic = topic or f"bench.import.{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-import-") as scratch:
        directory = Path(scratch)
        export = directory / "pals.csv"
        write_export(export, rows)
        size_mib = export.stat().st_size / 2**20
        (directory / "map.yaml").write_text(_MAPPING, encoding="utf-8")
        mapping = load_mapping(directory / "map.yaml")
        if own_topic:
            asyncio.run(create_topics(bootstrap, [TopicSpec(topic, partitions=4)]))
        try:
            result = asyncio.run(
                import_file(export, mapping, bootstrap=bootstrap, data_dir=directory / "state", topic=topic)
            )
        finally:
            if own_topic:
                asyncio.run(delete_topics(bootstrap, [topic]))
    if result.sent != rows:
        raise RuntimeError(
            f"import bench sent {result.sent} of {rows} rows ({result.rejected_rows} rejected)"
        )
    return {
        "import_rows": result.rows,
        "import_rows_per_s": round(result.rows_per_s),
        "import_seconds": round(result.seconds, 2),
        "import_file_mib": round(size_mib, 1),
    }
