"""File import without Kafka: mappings, row conversion, rejected-rows report, XLSX, ledger."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.files.convert import RowConverter
from connectors.files.importer import import_file
from connectors.files.ledger import ImportLedger
from connectors.files.mapping import load_mapping
from connectors.files.progress import ProgressBar
from pxstream.cli import main
from schemas.feedback_event import validate

MAPPINGS = Path(__file__).resolve().parents[2] / "connectors" / "files" / "mappings"

INCIDENTS_CSV = (
    "Incident Ref,Incident Date,Reported Date,Site,Location (exact),Incident Type,Harm Level,Reporter Role,"
    "Description,Action Taken\n"
    "INC-1,03/04/2025 14:30,03/04/2025,RR801,Ward 12,Medication,Low harm,Nurse,Wrong dose given,Reviewed\n"
    "INC-2,01/01/2025 10:00,,RR801,Ward 12,Patient accident,Moderate,Doctor,Fall from bed,\n"
    "INC-3,31/02/2025,,RR801,Ash Ward,Medication,Catastrophic,Nurse,Secret patient detail,\n"
    "INC-4,05/04/2025,,RR801,Ash Ward,Medication,Sort of bad,Porter,Another secret,\n"
    ",06/04/2025,,RR801,Ash Ward,,No harm,,No id here,\n"
    "INC-1,07/04/2025,,RR801,Ash Ward,,No harm,,Same id again,\n"
    ",,,,,,,,,\n"
    "INC-7,08/04/2025,,RR801,Ash Ward,,No harm,,,\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_mapping(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "map.yaml", text)


@pytest.mark.parametrize("name", ["pals", "complaints", "incidents", "fft", "gp_comment_cards"])
def test_shipped_mappings_load(name: str) -> None:
    mapping = load_mapping(MAPPINGS / f"{name}.yaml")
    assert mapping.name and mapping.columns


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("name: x\nsource: pals\nevent_id: {column: A}\ncolumns: {A: occured_at, B: text}\n", "columns.'A'"),
        ("name: x\nsource: pal\nevent_id: {column: A}\ncolumns: {A: occurred_at, B: text}\n", "source"),
        ("name: x\nsource: pals\ncolumns: {A: occurred_at, B: text}\n", "event_id"),
        ("name: X Y\nsource: pals\nevent_id: {column: A}\ncolumns: {A: occurred_at, B: text}\n", "name"),
        ("name: x\nsource: pals\nevent_id: {column: A}\ncolumns: {A: occurred_at}\n", "columns"),
        (
            "name: x\nsource: pals\nevent_id: {column: A}\ncolumns: {A: occurred_at, B: text, C: severity}\n"
            "values: {severity: {Bad: awful}}\n",
            "values.severity.'Bad'",
        ),
        (
            "name: x\nsource: pals\nevent_id: {column: A}\ncolumns: {A: occurred_at, B: text}\n"
            "timezone: Mars/Base\n",
            "timezone",
        ),
        (
            "name: x\nsource: pals\nevent_id: {column: A}\ncolumns: {A: occurred_at, B: text}\nextra: 1\n",
            "extra",
        ),
        ("name: x\nsource: [pals\n", "line 3"),
    ],
)
def test_bad_mappings_are_refused_naming_file_and_key(tmp_path: Path, body: str, where: str) -> None:
    path = write_mapping(tmp_path, body)
    with pytest.raises(ConnectorConfigError) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(f"mapping {path}: {where}")


def test_uk_dates_in_london_time_severity_words_and_joined_text(tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "incidents.yaml")
    converter = RowConverter(mapping, received=datetime.fromisoformat("2025-05-01T00:00:00+00:00"))
    row = {
        "Incident Ref": "INC-1",
        "Incident Date": "03/04/2025 14:30",  # 3 April, BST
        "Reported Date": "04/04/2025",
        "Site": "RR801",
        "Location (exact)": "Ward 12",
        "Incident Type": "Medication",
        "Harm Level": "low harm",
        "Reporter Role": "Nurse",
        "Description": "Wrong dose",
        "Action Taken": "Reviewed",
    }
    event, problems = converter.convert(2, row)
    assert problems == []
    assert event == {
        "event_id": "incident-log:INC-1",
        "source": "incident",
        "occurred_at": "2025-04-03T13:30:00.000Z",
        "received_at": "2025-04-03T23:00:00.000Z",
        "site": "RR801",
        "ward": "Ward 12",
        "category_codes": ["nrls:Medication"],
        "severity": "low",
        "reporter": "staff",
        "text": "Wrong dose\n\nReviewed",
        "attributes": {"reference": "INC-1"},
    }
    winter, _ = converter.convert(3, {**row, "Incident Ref": "INC-2", "Incident Date": "01/01/2025 10:00"})
    assert winter is not None and winter["occurred_at"] == "2025-01-01T10:00:00.000Z"  # GMT


def test_fft_answers_become_ratings_and_hash_ids_are_stable_and_distinct(tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "fft.yaml")
    row = {
        "Response Date": "02/03/2025",
        "Site": "RR801",
        "Ward": "Ward 12",
        "Question Answer": "Very good",
        "Comment": "Lovely staff",
        "Collection Mode": "SMS",
    }
    first = RowConverter(mapping)
    a, _ = first.convert(2, row)
    b, _ = first.convert(3, dict(row))  # an identical second response is a second event
    c, _ = first.convert(4, {**row, "Question Answer": "Don't know", "Comment": ""})
    assert a is not None and b is not None and c is not None
    assert a["rating"] == 1 and c["rating"] == 6 and c["text"] == ""
    assert a["event_id"].startswith("fft-comments:") and b["event_id"] == a["event_id"] + ":2"
    again, _ = RowConverter(mapping).convert(2, row)
    assert again is not None and again["event_id"] == a["event_id"]  # a re-import yields the same id
    bad, problems = first.convert(5, {**row, "Question Answer": "Excellent"})
    assert bad is None and [(p.column, p.field) for p in problems] == [("Question Answer", "rating")]


def test_dry_run_writes_every_rejected_row_with_row_column_field_reason(tmp_path: Path) -> None:
    export = write(tmp_path / "incidents.csv", INCIDENTS_CSV)
    mapping = load_mapping(MAPPINGS / "incidents.yaml")
    seen: list[tuple[int, int, int]] = []
    result = asyncio.run(
        import_file(
            export,
            mapping,
            bootstrap="unused:1",
            data_dir=tmp_path / "state",
            dry_run=True,
            progress=lambda *state: seen.append(state),
        )
    )
    assert (result.rows, result.sent, result.rejected_rows) == (7, 2, 5)
    assert result.report == tmp_path / "incidents.rejected.csv"
    rows = list(csv.reader(result.report.open(encoding="utf-8")))
    assert rows[0] == ["row", "column", "field", "reason"]
    by_row = {(int(r[0]), r[1], r[2]) for r in rows[1:]}
    assert (4, "Incident Date", "occurred_at") in by_row  # 31/02 is no date
    assert (5, "Harm Level", "severity") in by_row
    assert (5, "Reporter Role", "reporter") in by_row  # both problems of row 5
    assert (6, "Incident Ref", "event_id") in by_row
    assert (7, "Incident Ref", "event_id") in by_row  # duplicate of row 2
    assert (9, "Description + Action Taken", "text") in by_row  # row 8 is blank and skipped
    assert "secret" not in result.report.read_text(encoding="utf-8").lower()  # no feedback text
    assert seen[-1][1] == seen[-1][2] > 0


def test_missing_columns_are_refused_naming_file_mapping_and_columns(tmp_path: Path) -> None:
    export = write(tmp_path / "pals.csv", "PALS Reference,Date Received,Summary\nP1,01/02/2025,hello\n")
    with pytest.raises(ConnectorConfigError) as caught:
        asyncio.run(
            import_file(
                export, load_mapping(MAPPINGS / "pals.yaml"), bootstrap="x:1", data_dir=tmp_path, dry_run=True
            )
        )
    message = str(caught.value)
    assert str(export) in message and "pals.yaml" in message and "'Summary of Concern'" in message


def test_wrong_encoding_is_refused_with_the_row(tmp_path: Path) -> None:
    export = tmp_path / "pals.csv"
    header = (
        "PALS Reference,Date Received,Site,Ward/Department,Subject,Contact Method,Raised By,"
        "Summary of Concern\n"
    )
    export.write_bytes(header.encode() + "P1,01/02/2025,,,,,,caf\xe9 was cold\n".encode("cp1252"))
    with pytest.raises(ConnectorConfigError, match=r"row 2 is not utf-8-sig text.*encoding: cp1252"):
        asyncio.run(
            import_file(
                export, load_mapping(MAPPINGS / "pals.yaml"), bootstrap="x:1", data_dir=tmp_path, dry_run=True
            )
        )


def test_xlsx_rows_stream_with_real_dates_and_numbers(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("GP cards")
    sheet.append(["Practice Code", "Date", "Service", "How was your experience", "Comment"])
    sheet.append(["B86001", datetime(2025, 7, 1, 9, 15), "Reception", "Good", "Friendly"])
    sheet.append(["B86001", datetime(2025, 7, 2), "Nurse", 4, "Rushed"])
    sheet.append(["B86001", "not a date", "Nurse", "Good", "x"])
    workbook.save(tmp_path / "cards.xlsx")
    mapping = load_mapping(MAPPINGS / "gp_comment_cards.yaml")
    result = asyncio.run(
        import_file(tmp_path / "cards.xlsx", mapping, bootstrap="x:1", data_dir=tmp_path, dry_run=True)
    )
    assert (result.rows, result.sent, result.rejected_rows) == (3, 2, 1)
    report = list(csv.reader(result.report.open(encoding="utf-8")))  # type: ignore[union-attr]
    assert report[1][:3] == ["4", "Date", "occurred_at"]


def test_ledger_sends_only_new_or_changed_events(tmp_path: Path) -> None:
    base = {"source": "pals", "occurred_at": "2025-01-01T00:00:00.000Z", "text": "t"}
    one = {**base, "event_id": "x:1", "received_at": "2025-01-01T00:00:00.000Z"}
    two = {**base, "event_id": "x:2", "received_at": "2025-01-01T00:00:00.000Z"}
    with ImportLedger(tmp_path, "x") as ledger:
        ledger.record(ledger.unsent([one, two]))  # type: ignore[list-item]
    with ImportLedger(tmp_path, "x") as ledger:
        later = {**one, "received_at": "2026-01-01T00:00:00.000Z"}  # only the import time differs
        changed = {**two, "text": "corrected"}
        new = {**base, "event_id": "x:3", "received_at": "2025-01-01T00:00:00.000Z"}
        assert [e["event_id"] for e, _ in ledger.unsent([later, changed, new])] == ["x:2", "x:3"]  # type: ignore[list-item]


def test_progress_bar_writes_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar("pals.csv", stream=stream, interval_s=0)
    bar.update(500, 50, 100)
    bar.close(1000, 100, 100)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "50.0%" in lines[0] and "100.0%" in lines[1] and "1,000 rows" in lines[1]


def test_cli_dry_run_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("PXSTREAM_DATA_DIR", str(tmp_path / "state"))
    export = write(tmp_path / "incidents.csv", INCIDENTS_CSV)
    report = tmp_path / "out" / "rejected.csv"
    report.parent.mkdir()
    code = main(
        [
            "connect",
            "file",
            str(export),
            "--mapping",
            str(MAPPINGS / "incidents.yaml"),
            "--report",
            str(report),
            "--dry-run",
        ]
    )
    assert code == 0
    out = capsys.readouterr()
    assert "7 rows, 2 sent (dry run: nothing sent)" in out.out and "5 rejected" in out.out
    assert "rows/s" in out.err  # the progress bar
    assert report.exists()
    assert (
        main(["connect", "file", str(tmp_path / "nope.csv"), "--mapping", str(MAPPINGS / "pals.yaml")]) == 2
    )
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_every_accepted_event_is_valid(tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "pals.yaml")
    event, _ = RowConverter(mapping).convert(
        2,
        {
            "PALS Reference": "P-9",
            "Date Received": "28/02/2025 08:05",
            "Site": "RR813",
            "Ward/Department": "J12",
            "Subject": "Communications; Appointments",
            "Contact Method": "Phone",
            "Raised By": "Relative",
            "Summary of Concern": "Could not get through",
        },
    )
    assert event is not None and validate(event) == []
    assert event["category_codes"] == ["ko41a:Communications", "ko41a:Appointments"]
    assert event["reporter"] == "carer"
