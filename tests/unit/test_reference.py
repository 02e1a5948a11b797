"""Reference data: ODS files, wards, aliases, name resolution and mentions in free text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.reference import Organisation, ReferenceData
from pxstream.cli import main


def ods_row(
    code: str, name: str, icb: str = "QWO", postcode: str = "LS1 3EX", status: str = "A"
) -> list[str]:
    row = [""] * 27
    row[0], row[1], row[3], row[9], row[12], row[14] = code, name, icb, postcode, status, "15F"
    return row


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def ref_dir(tmp_path: Path) -> Path:
    write_csv(
        tmp_path / "etr.csv",
        [
            ods_row("RR8", "LEEDS TEACHING HOSPITALS NHS TRUST"),
            ods_row("RWA", "HULL UNIVERSITY TEACHING HOSPITALS NHS TRUST", icb="QOQ"),
            ods_row("RQW", "THE PRINCESS ALEXANDRA HOSPITAL NHS TRUST", icb="QM7"),
            ods_row("RXX", "CLOSED OLD TRUST", status="C"),
        ],
    )
    write_csv(
        tmp_path / "ets.csv",
        [
            ods_row("RR813", "ST JAMES'S UNIVERSITY HOSPITAL", icb=""),
            ods_row("RR801", "LEEDS GENERAL INFIRMARY", icb=""),
            ods_row("RR807", "SEACROFT HOSPITAL", icb=""),
            ods_row("RWA01", "HULL ROYAL INFIRMARY", icb=""),
            ods_row("RQW01", "ROYAL HOSPITAL", icb=""),
        ],
    )
    write_csv(
        tmp_path / "epraccur.csv",
        [
            ods_row("B86001", "BEECHWOOD MEDICAL PRACTICE"),
            ods_row("B86002", "THE SURGERY"),
            ods_row("B86003", "PARK ROAD SURGERY"),
        ],
    )
    (tmp_path / "wards.csv").write_text(
        "site_code,ward,aliases\nRR813,Ward J12,J12|Ward 12 SJUH\n"
        "RR801,Ward 12,\nRR801,Ash Ward,Ash;Ash Unit\n",
        encoding="utf-8",
    )
    (tmp_path / "aliases.yaml").write_text(
        "RR8:\n  names: [LTHT, Leeds Hospitals]\n"
        "  hashtags: ['#LeedsHospitals']\n  handles: ['@LeedsHospitals']\n"
        "RR801:\n  names: [LGI]\n  hashtags: [LGI]\n"
        "RR813: [Jimmy's]\n",
        encoding="utf-8",
    )
    return tmp_path


def test_loads_every_file_with_columns_in_the_ods_positions(ref_dir: Path) -> None:
    ref = ReferenceData.load(ref_dir)
    assert ref.problems == []
    assert ref.get("RR8") == Organisation(
        code="RR8",
        name="LEEDS TEACHING HOSPITALS NHS TRUST",
        kind="trust",
        commissioner="QWO",
        parent="",
        postcode="LS1 3EX",
        active=True,
    )
    site = ref.get("rr813")
    assert site is not None and site.kind == "site" and site.parent == "RR8"
    assert site.commissioner == "QWO"  # inherited from its trust: the site row has no geography
    assert ref.get("B86001").kind == "gp_practice"  # type: ignore[union-attr]
    assert ref.get("RXX").active is False  # type: ignore[union-attr]
    assert ref.summary() == {
        "trusts": 4,
        "sites": 5,
        "gp_practices": 3,
        "active": 11,
        "wards": 3,
        "aliases": 3,
        "problems": 0,
    }


def test_empty_reference_data_answers_nothing() -> None:
    ref = ReferenceData.empty()
    assert ref.get("RR8") is None
    assert ref.resolve("Leeds Teaching Hospitals") is None
    assert ref.mentions("Leeds Teaching Hospitals were great") == []
    assert ref.resolve_ward("RR801", "Ward 12") is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Leeds Teaching Hospitals NHS Trust", "RR8"),
        ("leeds teaching hospitals", "RR8"),
        ("Leeds Teaching", "RR8"),
        ("LTHT", "RR8"),
        ("St James's University Hospital", "RR813"),
        ("Saint James University Hospital", "RR813"),
        ("St. Jamess University", "RR813"),
        ("Jimmy's", "RR813"),
        ("Jimmys", "RR813"),
        ("Leeds General Infirmary", "RR801"),
        ("Princess Alexandra Hospital", "RQW"),
        ("the princess alexandra hospital nhs trust", "RQW"),
        ("Seacroft", "RR807"),
        ("Hull University Teaching Hospitals NHS Foundation Trust", None),  # FT is not its name
        ("Hull University Teaching Hospitals", "RWA"),
        ("RR801", "RR801"),
        ("Beechwood Medical Practice", "B86001"),
        ("Unknown Place Hospital", None),
        ("", None),
    ],
)
def test_resolves_names_and_aliases(ref_dir: Path, name: str, code: str | None) -> None:
    found = ReferenceData.load(ref_dir).resolve(name)
    assert (found.code if found else None) == code


def test_ambiguous_names_resolve_to_nothing(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "epraccur.csv",
        [
            ods_row("A1", "MEADOWS SURGERY"),
            ods_row("A2", "MEADOWS SURGERY"),
            ods_row("A3", "OLD MILL", status="C"),
        ],
    )
    write_csv(tmp_path / "ets.csv", [ods_row("ZZZ01", "OLD MILL")])
    ref = ReferenceData.load(tmp_path)
    assert ref.resolve("Meadows Surgery") is None
    assert ref.resolve("Old Mill").code == "ZZZ01"  # type: ignore[union-attr]  # active wins over closed


def test_mentions_find_names_aliases_hashtags_and_handles_most_specific_first(ref_dir: Path) -> None:
    ref = ReferenceData.load(ref_dir)

    def codes(text: str) -> list[str]:
        return [org.code for org in ref.mentions(text)]

    assert codes("Waited 9 hours in A&E at Leeds General Infirmary last night") == ["RR801"]
    assert codes("Thank you to everyone at St James's and Leeds Teaching Hospitals!") == ["RR813", "RR8"]
    assert codes("Big queues at the #LGI today, well done @LeedsHospitals") == ["RR801", "RR8"]
    assert codes("@leedshospitals.bsky.social please answer the phone") == ["RR8"]
    assert codes("#LeedsTeachingHospitals are brilliant") == ["RR8"]
    assert codes("Seacroft Hospital physio was superb") == ["RR807"]
    assert codes("The Princess Alexandra in Harlow") == ["RQW"]
    assert codes("LTHT and ltht and LTHT") == ["RR8"]


@pytest.mark.parametrize(
    "text",
    [
        "I live in Seacroft and the bus is late",  # a one-word short name is the place, not the hospital
        "The surgery on Park Road was closed",  # generic practice names never match free text
        "Went to the royal hospital in the city",
        "general infirmary opening hours?",
        "Great day out in Leeds",
        "#hospital #nhs @nhs",
        "",
    ],
)
def test_mentions_ignore_common_words(ref_dir: Path, text: str) -> None:
    assert ReferenceData.load(ref_dir).mentions(text) == []


def test_resolves_wards_under_sites_and_trusts(ref_dir: Path) -> None:
    ref = ReferenceData.load(ref_dir)
    assert ref.resolve_ward("RR813", "j12") == "Ward J12"
    assert ref.resolve_ward("RR813", "ward 12 sjuh") == "Ward J12"
    assert ref.resolve_ward("RR801", "ASH") == "Ash Ward"
    assert ref.resolve_ward("RR801", "ash unit") == "Ash Ward"
    assert ref.resolve_ward("rr801", "12") == "Ward 12"
    assert ref.resolve_ward("RR8", "Ash ward") == "Ash Ward"  # a trust code searches its sites
    assert ref.resolve_ward("RR8", "J12") == "Ward J12"
    assert ref.resolve_ward("RR801", "J12") is None  # on another site
    assert ref.resolve_ward("RWA01", "Ward 12") is None


def test_ward_names_shared_by_two_sites_of_a_trust_are_ambiguous_at_trust_level(tmp_path: Path) -> None:
    write_csv(tmp_path / "ets.csv", [ods_row("RR801", "LGI"), ods_row("RR813", "SJUH")])
    (tmp_path / "wards.yaml").write_text(
        "RR801: [Ward 1, {ward: Ward 1A, aliases: [1a]}]\nRR813: [Ward 1]\n", encoding="utf-8"
    )
    ref = ReferenceData.load(tmp_path)
    assert ref.problems == []
    assert ref.resolve_ward("RR8", "ward 1") == "Ward 1"  # the same canonical name either way
    assert ref.resolve_ward("RR8", "1A") == "Ward 1A"
    assert ref.resolve_ward("RR813", "ward 1") == "Ward 1"


def test_row_problems_are_reported_with_file_and_line(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "etr.csv",
        [ods_row("RR8", "LEEDS"), ["RAA", "SHORT ROW"], ods_row("", "NO CODE"), ods_row("RR8", "AGAIN")],
    )
    (tmp_path / "wards.csv").write_text("site_code,ward\nRR801,Ward 1\n,Ward 2\n", encoding="utf-8")
    (tmp_path / "aliases.yaml").write_text(
        "NOPE: [Somewhere]\nRR8: {names: [x], tags: [y]}\n", encoding="utf-8"
    )
    ref = ReferenceData.load(tmp_path)
    shown = [str(problem) for problem in ref.problems]
    assert "etr.csv:2: has 2 columns; ODS bulk files have at least 15" in shown
    assert "etr.csv:3: organisation code (col 1) or name (col 2) is empty" in shown
    assert "etr.csv:4: duplicate code RR8 (first on line 1)" in shown
    assert "wards.csv:3: site_code and ward must both be filled in" in shown
    assert "wards.csv:2: ward 'Ward 1': site code RR801 is not in the ODS files" in shown
    assert "aliases.yaml:1: aliases for NOPE: no such code in the ODS files" in shown
    assert any(p.startswith("aliases.yaml:2: RR8: unknown key(s) tags") for p in shown)
    assert ref.get("RAA") is not None  # a short row still loads what it has
    with pytest.raises(ConnectorConfigError, match=r"etr\.csv:2"):
        ReferenceData.load(tmp_path, strict=True)


def test_wards_yaml_problems_carry_lines(tmp_path: Path) -> None:
    write_csv(tmp_path / "ets.csv", [ods_row("RR801", "LGI")])
    (tmp_path / "wards.yaml").write_text(
        "RR801:\n  - Ward 1\n  - {aliases: [x]}\nRR999: [Ward 9]\n", encoding="utf-8"
    )
    shown = [str(p) for p in ReferenceData.load(tmp_path).problems]
    assert shown[0].startswith("wards.yaml:3: ward entry")
    assert shown[1] == "wards.yaml:4: ward 'Ward 9': site code RR999 is not in the ODS files"


def test_unusable_files_are_refused_with_their_path(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="does not exist"):
        ReferenceData.load(tmp_path / "missing")
    (tmp_path / "aliases.yaml").write_text("RR8: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match=r"aliases\.yaml:\d+: not valid YAML"):
        ReferenceData.load(tmp_path)
    (tmp_path / "aliases.yaml").unlink()
    (tmp_path / "wards.csv").write_text("site,name\nRR8,x\n", encoding="utf-8")
    with pytest.raises(
        ConnectorConfigError, match=r"wards\.csv:1: the header must name columns site_code and ward"
    ):
        ReferenceData.load(tmp_path)


def test_cli_summarises_and_fails_on_problems(ref_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", "reference", "--dir", str(ref_dir)]) == 0
    out = capsys.readouterr().out
    assert "etr.csv, ets.csv, epraccur.csv, wards.csv, aliases.yaml" in out
    assert "gp_practices" in out
    (ref_dir / "wards.csv").write_text("site_code,ward\nRR801,\n", encoding="utf-8")
    assert main(["connect", "reference", "--dir", str(ref_dir)]) == 2
    assert "problem: wards.csv:2" in capsys.readouterr().out
    assert main(["connect", "reference", "--dir", str(ref_dir / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
