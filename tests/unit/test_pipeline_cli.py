"""`pxstream tag`: the stream's pipeline over JSON lines, errors on stderr with line numbers."""

from __future__ import annotations

import argparse
import io

import orjson
import pytest

from streams import cli
from streams.pipeline import Pipeline
from tests.unit.test_pipeline import VALID, StandInTagger, standin_redact


def standin_pipeline() -> Pipeline:
    return Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")


LINES = (
    b"\n".join(
        [
            orjson.dumps({**VALID, "event_id": "a"}),
            b"{broken",
            b"",
            orjson.dumps({**VALID, "event_id": "b", "colour": "red"}),
            orjson.dumps({**VALID, "event_id": "c"}),
        ]
    )
    + b"\n"
)


def test_tag_lines_writes_tagged_events_and_numbered_errors() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    tagged, invalid = cli.tag_lines(io.BytesIO(LINES), out, err, pipeline=standin_pipeline())

    assert (tagged, invalid) == (2, 2)
    events = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event_id"] for e in events] == ["a", "c"]
    assert all("[PHONE]" in e["text"] for e in events)
    errors = [orjson.loads(line) for line in err.getvalue().splitlines()]
    assert [(e["line"], e["reason_code"]) for e in errors] == [(2, "not_json"), (4, "unknown_field")]
    assert all(e["error"] for e in errors)


def test_tag_lines_batches_large_inputs_in_order() -> None:
    lines = b"".join(orjson.dumps({**VALID, "event_id": f"e{i}"}) + b"\n" for i in range(1234))
    out = io.BytesIO()
    cli.tag_lines(io.BytesIO(lines), out, io.BytesIO(), pipeline=standin_pipeline())
    assert [orjson.loads(x)["event_id"] for x in out.getvalue().splitlines()] == [
        f"e{i}" for i in range(1234)
    ]


def test_run_tag_exits_1_when_any_line_was_invalid(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.setattr(Pipeline, "default", classmethod(lambda cls: standin_pipeline()))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(LINES)
    good = tmp_path / "good.jsonl"
    good.write_bytes(orjson.dumps(VALID) + b"\n")

    assert cli.run_tag(argparse.Namespace(file=str(bad))) == 1
    assert cli.run_tag(argparse.Namespace(file=str(good))) == 0
    captured = capsysbinary.readouterr()
    assert captured.out.count(b"\n") == 3
