"""The summary of `pxstream bench`: each goal of the speed issue as one row — the measured value,
the reference measured in the same run, their ratio, the target, met or not (docs/benchmarks.md).

Parts publish named ``Figure``s (bench/harness.py); this module binds them to goals, so a part can
change how it measures without the summary changing, and a goal whose part did not run (or has
not been written yet) says "not measured" instead of disappearing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.harness import Figure

NOT_MEASURED = "not measured"
PEER_NOT_INSTALLED = "not installed: pip install .[peer]"


@dataclass(frozen=True)
class Goal:
    """One target of the speed issue. ``figure`` names the measured value; ``reference`` names
    another figure whose value is the reference (else the figure's own reference is used);
    ``on_ratio`` says whether the target bounds the ratio or the value itself. With ``basis``
    "cpu" the ratio is of events per CPU-second (1e6 / ``cpu_us_per_event`` of each side): for
    two CPU-bound programs measured minutes apart on a shared machine, the steadier comparison."""

    key: str
    title: str
    figure: str
    target: float
    higher_is_better: bool = True
    on_ratio: bool = True
    reference: str | None = None
    basis: str = "value"
    unit: str = ""  # of the target, when it bounds the value


GOALS: tuple[Goal, ...] = (
    Goal("1", "hotspot stage vs Quix Streams hopping-window count", "hotspot-stage", 2.0,
         reference="peer-hotspots"),
    Goal("2", "hotspot engine, in-process", "hotspot-engine", 15.0, higher_is_better=False, on_ratio=False,
         unit="µs/event"),
    Goal("3a", "stateless stage vs its own pure function", "stateless-stage", 0.9),
    Goal("3b", "stateless stage vs Quix Streams with a batching sink", "stateless-stage", 1.0,
         reference="peer-stateless-batching", basis="cpu"),
    Goal("4", "redactor on realistic text", "redaction", 30.0, higher_is_better=False, on_ratio=False,
         unit="µs/event"),
    Goal("5a", "alert latency p99, 1,000 events/s, one core kept busy", "alert-latency-p99", 1000.0,
         higher_is_better=False, on_ratio=False, unit="ms"),
    Goal("5b", "/healthz failures during that run", "healthz-failures", 0.0, higher_is_better=False,
         on_ratio=False, unit="failed probes"),
    Goal("6", "full pipeline (cheap tagger): two workers vs one", "scaling", 1.7),
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One goal's line of the summary, as printed and as written to JSON."""

    goal: str
    title: str
    value: float | None
    unit: str
    reference: float | None
    reference_name: str
    ratio: float | None
    target: str
    status: str
    cpu_us_per_event: float | None = None
    reference_cpu_us_per_event: float | None = None
    cpu_ratio: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def collect_figures(parts: Mapping[str, Mapping[str, Any]]) -> dict[str, Figure]:
    """Every figure of every part's result, by name (a later part's figure of the same name wins;
    names are unique by convention)."""
    found: dict[str, Figure] = {}
    for result in parts.values():
        for item in result.get("figures") or ():
            figure = item if isinstance(item, Figure) else Figure.from_dict(item)
            found[figure.name] = figure
    return found


def _meets(measured: float, target: float, higher_is_better: bool) -> bool:
    return measured >= target if higher_is_better else measured <= target


def _target_text(goal: Goal) -> str:
    sign = "≥" if goal.higher_is_better else "≤"
    if goal.on_ratio:
        return f"{sign} {goal.target:g}×"
    return f"{sign} {goal.target:g} {goal.unit}".rstrip()


def _absent(goal: Goal, name: str, unavailable: Mapping[str, str]) -> Row:
    """The row of a goal one of whose figures is missing: why, in words."""
    status = unavailable.get(name, NOT_MEASURED)
    return Row(goal.key, goal.title, None, "", None, "", None, _target_text(goal), status)


def _keep_value(row: Row, measured: Figure) -> Row:
    """A row whose reference is missing still shows what was measured."""
    kept = {"value": measured.value, "unit": measured.unit, "cpu_us_per_event": measured.cpu_us_per_event}
    return Row(**{**row.as_dict(), **kept, "note": measured.note})


def goal_row(goal: Goal, figures: Mapping[str, Figure], unavailable: Mapping[str, str]) -> Row:
    """The summary row of one goal from the run's figures. ``unavailable`` maps a figure name to
    why it is absent (e.g. the peer not installed, or a part's error)."""
    measured = figures.get(goal.figure)
    if measured is None:
        row = _absent(goal, goal.figure, unavailable)
        other = figures.get(goal.reference) if goal.reference else None
        if other is None:
            return row
        # The reference was measured: show it, so the peer's figure is not lost with the row.
        return Row(**{**row.as_dict(), "reference": other.value, "reference_name": other.name,
                      "reference_cpu_us_per_event": other.cpu_us_per_event})  # fmt: skip
    reference, reference_name, reference_cpu = measured.reference, measured.reference_name, None
    value, unit = measured.value, measured.unit
    if goal.reference is not None:
        other = figures.get(goal.reference)
        if other is None:
            row = _absent(goal, goal.reference, unavailable)
            return _keep_value(row, measured)
        reference, reference_name = other.value, other.reference_name or other.name
        reference_cpu = other.cpu_us_per_event
        if goal.basis == "cpu":
            if not (measured.cpu_us_per_event and reference_cpu):
                row = _absent(goal, goal.reference, {goal.reference: NOT_MEASURED + " (no CPU figure)"})
                return _keep_value(row, measured)
            value, reference = 1e6 / measured.cpu_us_per_event, 1e6 / reference_cpu
            unit = "events/CPU-s"
    cpu_ratio = (
        reference_cpu / measured.cpu_us_per_event if reference_cpu and measured.cpu_us_per_event else None
    )
    ratio = value / reference if reference else None
    if goal.on_ratio:
        status = NOT_MEASURED + " (no reference)" if ratio is None else ""
        compared = ratio
    else:
        status, compared = "", value
    if compared is not None:
        status = "met" if _meets(compared, goal.target, goal.higher_is_better) else "not met"
    return Row(
        goal=goal.key,
        title=goal.title,
        value=round(value, 2),
        unit=unit,
        reference=round(reference, 2) if reference is not None else None,
        reference_name=reference_name,
        ratio=round(ratio, 3) if ratio is not None else None,
        target=_target_text(goal),
        status=status,
        cpu_us_per_event=measured.cpu_us_per_event,
        reference_cpu_us_per_event=reference_cpu,
        cpu_ratio=round(cpu_ratio, 3) if cpu_ratio is not None else None,
        note=measured.note,
    )


def summary(figures: Mapping[str, Figure], unavailable: Mapping[str, str] | None = None) -> list[Row]:
    return [goal_row(goal, figures, unavailable or {}) for goal in GOALS]


def other_figures(figures: Mapping[str, Figure]) -> list[Figure]:
    """Figures no goal names (the peer's `apply` rate, a minimal counter, …): listed after the goals."""
    named = {goal.figure for goal in GOALS} | {goal.reference for goal in GOALS if goal.reference}
    return [figure for name, figure in figures.items() if name not in named]


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


_STATUS_WIDTH = 60  # a failed part's whole error is in the JSON; the table keeps its first words


def format_rows(rows: Iterable[Row]) -> list[str]:
    """The summary as aligned text lines (goal, value, reference, ratio, target, status, CPU)."""
    table = [
        ("goal", "measured", "reference (same run)", "ratio", "target", "status", "CPU µs/event (ratio)")
    ]
    for row in rows:
        measured = f"{_number(row.value)} {row.unit}".strip() if row.value is not None else "—"
        reference = f"{_number(row.reference)} ({row.reference_name})" if row.reference is not None else "—"
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        cpu = _number(row.cpu_us_per_event)
        if row.reference_cpu_us_per_event is not None:
            cpu += f" vs {_number(row.reference_cpu_us_per_event)}"
        if row.cpu_ratio is not None:
            cpu += f" ({row.cpu_ratio:.2f}×)"
        status = row.status if len(row.status) <= _STATUS_WIDTH else row.status[: _STATUS_WIDTH - 1] + "…"
        table.append((f"{row.goal} {row.title}", measured, reference, ratio, row.target, status, cpu))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in table]


def format_figures(figures: Iterable[Figure]) -> list[str]:
    lines = []
    for figure in figures:
        text = f"{figure.name}: {_number(figure.value)} {figure.unit}"
        if figure.reference is not None and figure.ratio is not None:
            text += f" vs {_number(figure.reference)} ({figure.reference_name}) = {figure.ratio:.2f}×"
        if figure.cpu_us_per_event is not None:
            text += f", {_number(figure.cpu_us_per_event)} CPU µs/event"
        if figure.note:
            text += f"  [{figure.note}]"
        lines.append(text)
    return lines
