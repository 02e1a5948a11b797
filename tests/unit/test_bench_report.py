"""The summary of `pxstream bench` (bench/report.py): every goal a row with its ratio, met or not,
and a reason in place of a figure that was not measured."""

from __future__ import annotations

from bench.harness import Figure, part_result, process_cpu_seconds
from bench.load import LoadWatch, describe
from bench.report import GOALS, NOT_MEASURED, PEER_NOT_INSTALLED, collect_figures, format_rows, summary


def _rows(*figures: Figure, unavailable: dict[str, str] | None = None) -> dict[str, object]:
    parts = {"only": part_result(*figures)}
    return {row.goal: row for row in summary(collect_figures(parts), unavailable)}


def test_every_goal_is_a_row_and_says_not_measured_without_figures() -> None:
    rows = _rows()
    assert list(rows) == [goal.key for goal in GOALS]
    assert {row.status for row in rows.values()} == {NOT_MEASURED}
    assert all(row.value is None and row.ratio is None for row in rows.values())


def test_ratio_against_another_parts_figure_decides_met() -> None:
    stage = Figure("hotspot-stage", 9_000.0, "events/s", cpu_us_per_event=100.0)
    rows = _rows(stage, Figure("peer-hotspots", 4_000.0, "events/s", cpu_us_per_event=240.0))
    row = rows["1"]
    assert row.ratio == 2.25
    assert row.reference == 4_000.0
    assert row.status == "met"
    assert row.reference_cpu_us_per_event == 240.0
    slower = _rows(stage, Figure("peer-hotspots", 5_000.0, "events/s"))["1"]
    assert slower.ratio == 1.8
    assert slower.status == "not met"


def test_a_figures_own_reference_is_used_and_the_target_is_on_the_ratio() -> None:
    rows = _rows(Figure("scaling", 1_800.0, "events/s", reference=1_000.0, reference_name="one worker"))
    assert rows["6"].ratio == 1.8 and rows["6"].status == "met"
    rows = _rows(Figure("scaling", 1_600.0, "events/s", reference=1_000.0, reference_name="one worker"))
    assert rows["6"].ratio == 1.6 and rows["6"].status == "not met"


def test_lower_is_better_targets_bound_the_value() -> None:
    rows = _rows(
        Figure("hotspot-engine", 14.9, "µs/event"),
        Figure("redaction", 31.0, "µs/event"),
        Figure("alert-latency-p99", 950.0, "ms"),
        Figure("healthz-failures", 1, "probes"),
    )
    assert rows["2"].status == "met" and rows["2"].target == "≤ 15 µs/event"
    assert rows["4"].status == "not met"
    assert rows["5a"].status == "met"
    assert rows["5b"].status == "not met"


def test_one_figure_serves_two_goals_with_different_references_and_bases() -> None:
    stage = Figure(
        "stateless-stage",
        9_000.0,
        "events/s",
        reference=10_000.0,
        reference_name="pure",
        cpu_us_per_event=100.0,
    )
    peer = Figure("peer-stateless-batching", 8_000.0, "events/s", cpu_us_per_event=125.0)
    rows = _rows(stage, peer)
    assert rows["3a"].ratio == 0.9 and rows["3a"].status == "met"
    # Goal 3b compares events per CPU-second: 10,000 against 8,000.
    assert rows["3b"].unit == "events/CPU-s"
    assert (rows["3b"].value, rows["3b"].reference) == (10_000.0, 8_000.0)
    assert rows["3b"].ratio == 1.25 and rows["3b"].status == "met"
    assert rows["3b"].reference_name == "peer-stateless-batching"
    slower = _rows(stage, Figure("peer-stateless-batching", 20_000.0, "events/s", cpu_us_per_event=90.0))
    assert slower["3b"].ratio == 0.9 and slower["3b"].status == "not met"


def test_a_cpu_based_goal_without_cpu_figures_is_not_measured() -> None:
    stage = Figure("stateless-stage", 9_000.0, "events/s", reference=10_000.0)
    row = _rows(stage, Figure("peer-stateless-batching", 8_000.0, "events/s"))["3b"]
    assert row.ratio is None and row.status.startswith(NOT_MEASURED)
    assert row.value == 9_000.0


def test_the_cpu_ratio_is_shown_beside_a_wall_clock_ratio() -> None:
    stage = Figure("hotspot-stage", 6_000.0, "events/s", cpu_us_per_event=50.0)
    row = _rows(stage, Figure("peer-hotspots", 4_000.0, "events/s", cpu_us_per_event=120.0))["1"]
    assert row.ratio == 1.5 and row.status == "not met"  # goal 1 is judged on events/s
    assert row.cpu_ratio == 2.4


def test_a_missing_reference_gives_its_reason_and_keeps_the_value() -> None:
    stage = Figure("hotspot-stage", 9_000.0, "events/s")
    row = _rows(stage, unavailable={"peer-hotspots": PEER_NOT_INSTALLED})["1"]
    assert row.status == PEER_NOT_INSTALLED
    assert row.value == 9_000.0 and row.ratio is None
    assert _rows(stage)["1"].status == NOT_MEASURED


def test_a_zero_or_absent_own_reference_is_not_a_ratio() -> None:
    row = _rows(Figure("stateless-stage", 9_000.0, "events/s", reference=0.0))["3a"]
    assert row.ratio is None
    assert row.status.startswith(NOT_MEASURED)


def test_figures_round_trip_through_dicts_and_ignore_unknown_keys() -> None:
    figure = Figure("redaction", 12.5, "µs/event", events=1000, note="realistic mix")
    data = {**figure.as_dict(), "added_later": 1}
    assert Figure.from_dict(data) == figure


def test_the_table_has_a_line_per_goal_with_ratio_and_status() -> None:
    rows = summary(collect_figures({"p": part_result(Figure("scaling", 3.0, "x", reference=2.0))}))
    lines = format_rows(rows)
    assert len(lines) == 1 + len(GOALS)
    scaling = next(line for line in lines if line.startswith("6 "))
    assert "1.50×" in scaling and "not met" in scaling


def test_process_cpu_and_load_are_read_from_proc() -> None:
    import os

    before = process_cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert process_cpu_seconds(os.getpid()) > before
    load = LoadWatch().stop()
    assert len(load["load_before"]) == 3 and len(load["load_after"]) == 3
    assert all(entry["pid"] != os.getpid() for entry in load["others_busiest"])
    assert describe(load).startswith("load ")


def test_parts_with_keys_of_their_own_fill_their_goals_rows() -> None:
    from bench.adapters import figures_from_keys

    result = {
        "hotspot_engine": {
            "events": 50_000,
            "engine_cpu_us_per_event": 12.0,
            "minimal_cpu_us_per_event": 6.0,
        },
        "stateless": {
            "events": 20_000,
            "stage_events_per_cpu_s": 9_300,
            "pure_events_per_cpu_s": 10_000,
            "stage_us_per_event": 107.5,
            "stage_events_per_s": 5_000,
            "pure_events_per_s": 6_000,
        },
        "alert_latency_ms": {"p50": 120.0, "p99": 1_400.0, "trials": 50},
        "something_else": {"p99": 1},
    }
    rows = {row.goal: row for row in summary(collect_figures({"p": {"figures": figures_from_keys(result)}}))}
    assert rows["2"].value == 12.0 and rows["2"].status == "met" and rows["2"].ratio == 2.0
    assert rows["3a"].ratio == 0.93 and rows["3a"].status == "met"
    assert rows["5a"].value == 1_400.0 and rows["5a"].status == "not met"
    assert rows["4"].status == NOT_MEASURED


def test_a_part_of_an_unknown_shape_leaves_its_row_not_measured() -> None:
    from bench.adapters import figures_from_keys

    assert figures_from_keys({"stateless": {"ratio": 0.9}, "hotspot_engine": 3}) == []


def test_a_measured_reference_is_shown_when_the_value_is_missing() -> None:
    row = _rows(Figure("peer-hotspots", 3_000.0, "events/s", cpu_us_per_event=120.0))["1"]
    assert row.status == NOT_MEASURED and row.value is None and row.ratio is None
    assert (row.reference, row.reference_cpu_us_per_event) == (3_000.0, 120.0)


def test_a_long_failure_is_cut_in_the_table_and_whole_in_the_row() -> None:
    reason = "failed: RuntimeError: " + "x" * 300
    rows = summary({}, {"redaction": reason})
    assert next(row for row in rows if row.goal == "4").status == reason
    line = next(line for line in format_rows(rows) if line.startswith("4 "))
    assert "failed: RuntimeError" in line and len(line) < 250


def test_the_busy_core_latency_and_healthz_fill_goal_5_before_an_idle_reading() -> None:
    from bench.adapters import figures_from_keys

    result = {
        "alert_latency_busy_ms": {"p50": 200.0, "p99": 800.0, "trials": 50},
        "alert_latency_busy_healthz": {"probes": 120, "unanswered": 0, "worst_ms": 410.0},
        "alert_latency_ms": {"p50": 100.0, "p99": 300.0, "trials": 50},
        "hotspot_stage": {
            "stage_events": 29_000,
            "stage_events_per_s": 8_000,
            "stage_cpu_us_per_event": 90.0,
        },
        "redaction": {"mix_events": 20_000, "mix_us_per_event": 24.0, "mix_mean_chars": 180.0},
    }
    figures = {figure.name: figure for figure in figures_from_keys(result)}
    assert figures["alert-latency-p99"].value == 800.0
    assert "busy" in figures["alert-latency-p99"].note
    rows = {row.goal: row for row in summary(figures)}
    assert rows["5a"].status == "met" and rows["5b"].status == "met"
    assert rows["4"].status == "met" and rows["4"].value == 24.0
    assert rows["1"].value == 8_000 and rows["1"].cpu_us_per_event == 90.0


def test_an_idle_machine_latency_says_so() -> None:
    from bench.adapters import figures_from_keys

    (figure,) = figures_from_keys({"alert_latency_ms": {"p50": 100.0, "p99": 300.0, "trials": 50}})
    assert figure.name == "alert-latency-p99" and "no core kept busy" in figure.note


def test_without_the_peer_extra_its_goals_say_how_to_install_it() -> None:
    from bench.peer.child import not_installed

    parts = {
        "hotspot-stage": part_result(Figure("hotspot-stage", 5_000.0, "events/s")),
        "peer-hotspots": not_installed("peer-hotspots"),
        "peer-stateless": not_installed("peer-stateless-batching", "peer-stateless-apply"),
    }
    unavailable = {k: v for result in parts.values() for k, v in (result.get("unavailable") or {}).items()}
    rows = {row.goal: row for row in summary(collect_figures(parts), unavailable)}
    assert rows["1"].status == PEER_NOT_INSTALLED == "not installed: pip install .[peer]"
    assert rows["1"].value == 5_000.0
    assert rows["3b"].status == NOT_MEASURED  # its own figure is missing first
