"""Statistical process control as NHS England's "Making Data Count" does it.

The reference implementation is NHS-R's `NHSRplotthedots` (R); every rule here follows its source,
cited per function, so a chart in our monthly pack flags exactly the points an analyst using
`ptd_spc()` would flag on the same numbers:

- `R/ptd_spc_standard.R`: centre line = mean of the first `fix_after_n_points` values; moving
  ranges are `c(NA, abs(diff(fix_y)))` (the first point has none, so the mean moving range is
  over n − 1 ranges); with `screen_outliers = TRUE` (the default) moving ranges of at least
  3.267 × the mean moving range are dropped and the mean recomputed; limits = mean ± 2.66 × mean MR;
  near-limit band edges = mean ± (2 × 2.66 / 3) × mean MR; `outside_limits` is strict (> / <);
  `close_to_limits` is strictly beyond the band edge and not outside the limits.
- `R/ptd_calculate_point_type.R`: the four special-cause rules and the improvement / concern
  classification (by the point's side of the mean).

We differ in one default only: docs/reference.md ("Statistical process control") asks for a
12-point baseline (Making Data Count's
recommendation), where `ptd_spc()` uses every point unless `fix_after_n_points` is given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# ptd_spc_standard: `limit <- 2.66; limitclose <- 2 * (limit / 3)`; outlier screen at 3.267 × mean MR.
LIMIT_FACTOR = 2.66
NEAR_LIMIT_FACTOR = 2 * (LIMIT_FACTOR / 3)
MR_OUTLIER_FACTOR = 3.267
RUN_LENGTH = 7  # rule 2 (shift) and rule 3 (trend): seven points
DEFAULT_BASELINE = 12

Improvement = Literal["increase", "decrease", "neutral"]
PointType = Literal[
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
]


@dataclass(frozen=True)
class XmrLimits:
    """Centre line, process limits and the near-limit ("2-sigma") band of an XmR chart."""

    mean: float
    mean_moving_range: float
    lower: float
    upper: float
    near_lower: float
    near_upper: float
    baseline_points: int


@dataclass(frozen=True)
class XmrPoint:
    """One plotted point with each rule that made it special cause, so a chart can say why."""

    value: float
    relative_to_mean: int  # −1 below, 0 on, +1 above the centre line
    outside_limits: bool  # rule 1
    shift: bool  # rule 2: part of a run of ≥ 7 on one side of the mean
    trend: bool  # rule 3: part of 7 points strictly increasing or strictly decreasing
    two_of_three: bool  # rule 4: a near-limit point in 2-of-3 on one side
    close_to_limits: bool
    point_type: PointType

    @property
    def special_cause(self) -> bool:
        return self.point_type != "common_cause"


@dataclass(frozen=True)
class XmrChart:
    limits: XmrLimits
    points: tuple[XmrPoint, ...]
    improvement: Improvement

    @property
    def special_cause_indices(self) -> list[int]:
        return [i for i, p in enumerate(self.points) if p.special_cause]


@dataclass(frozen=True)
class CChartLimits:
    """c-chart for counts of events per equal period: c̄ ± 3√c̄ (lower limit floored at 0)."""

    mean: float
    lower: float
    upper: float


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def xmr_limits(
    values: Sequence[float], *, baseline: int | None = DEFAULT_BASELINE, screen_outliers: bool = True
) -> XmrLimits:
    """Limits from the first `baseline` values (all values when None or when there are fewer).

    Mirrors `ptd_spc_standard`: `mr <- c(NA, abs(diff(fix_y)))`, `amr <- mean(mr, na.rm = TRUE)`;
    with screening, ranges not below 3.267 × amr are dropped and amr recomputed once.
    """
    if len(values) < 2:
        raise ValueError(f"an XmR chart needs at least 2 values, got {len(values)}")
    n = len(values) if baseline is None else min(baseline, len(values))
    fixed = [float(v) for v in values[:n]]
    mean = sum(fixed) / n
    ranges = [abs(b - a) for a, b in itertools.pairwise(fixed)]
    amr = sum(ranges) / len(ranges)
    if screen_outliers:
        kept = [r for r in ranges if r < MR_OUTLIER_FACTOR * amr]
        # All ranges equal to zero leave nothing "below" 0: R's mean of an empty vector is NaN;
        # a flat baseline has zero spread, which is what the data say.
        amr = sum(kept) / len(kept) if kept else 0.0
    return XmrLimits(
        mean=mean,
        mean_moving_range=amr,
        lower=mean - LIMIT_FACTOR * amr,
        upper=mean + LIMIT_FACTOR * amr,
        near_lower=mean - NEAR_LIMIT_FACTOR * amr,
        near_upper=mean + NEAR_LIMIT_FACTOR * amr,
        baseline_points=n,
    )


def _seven_on_one_side(side: Sequence[int]) -> list[bool]:
    """Rule 2, `ptd_seven_point_one_side_mean` + `ptd_part_of_seven_trend`.

    A point ends a shift when it and the six before it share a non-zero side; every point of
    such a run is marked (a point on the mean, side 0, breaks the run).
    """
    ends = [
        i >= RUN_LENGTH - 1 and side[i] != 0 and all(side[i - k] == side[i] for k in range(1, RUN_LENGTH))
        for i in range(len(side))
    ]
    return _mark_runs(ends)


def _seven_point_trend(values: Sequence[float]) -> list[bool]:
    """Rule 3, `ptd_seven_point_trend`: seven points, i.e. six consecutive strict increases
    (or six strict decreases); a tie breaks the trend. All seven points are marked."""
    ends = []
    for i in range(len(values)):
        if i < RUN_LENGTH - 1:
            ends.append(False)
            continue
        steps = {_sign(values[j] - values[j - 1]) for j in range(i - RUN_LENGTH + 2, i + 1)}
        ends.append(steps in ({1}, {-1}))
    return _mark_runs(ends)


def _mark_runs(ends: Sequence[bool]) -> list[bool]:
    """`ptd_part_of_seven_trend`: a point belongs to a run if it or one of the next six ends one."""
    return [any(ends[i : i + RUN_LENGTH]) for i in range(len(ends))]


def _two_of_three(close: Sequence[bool], side: Sequence[int]) -> list[bool]:
    """Rule 4, `ptd_two_in_three` + `ptd_part_of_two_in_three`.

    A window of three consecutive points qualifies when at least two are close to the limits and
    all three lie on the same side of the mean; only the close points of a qualifying window are
    marked (not the third point, nor points outside the limits, which rule 1 already flags).
    """
    n = len(close)
    in_window = [False] * n
    for start in range(n - 2):
        window = range(start, start + 3)
        if sum(close[i] for i in window) >= 2 and abs(sum(side[i] for i in window)) == 3:
            for i in window:
                in_window[i] = True
    return [in_window[i] and close[i] for i in range(n)]


def _point_type(special: bool, side: int, improvement: Improvement) -> PointType:
    """`ptd_calculate_point_type`: classified by the point's side of the mean, not by the rule."""
    if not special:
        return "common_cause"
    if improvement == "neutral":
        return "special_cause_neutral_high" if side > 0 else "special_cause_neutral_low"
    improving_side = 1 if improvement == "increase" else -1
    return "special_cause_improvement" if side == improving_side else "special_cause_concern"


def xmr(
    values: Sequence[float],
    *,
    baseline: int | None = DEFAULT_BASELINE,
    improvement: Improvement = "decrease",
    screen_outliers: bool = True,
) -> XmrChart:
    """An XmR chart with the four Making Data Count special-cause rules applied.

    `improvement="decrease"` is the default because pxstream charts complaints and negative
    feedback, where a rise is a concern.
    """
    limits = xmr_limits(values, baseline=baseline, screen_outliers=screen_outliers)
    vals = [float(v) for v in values]
    side = [_sign(v - limits.mean) for v in vals]
    outside = [v > limits.upper or v < limits.lower for v in vals]
    close = [
        not o and (v < limits.near_lower or v > limits.near_upper) for v, o in zip(vals, outside, strict=True)
    ]
    shift = _seven_on_one_side(side)
    trend = _seven_point_trend(vals)
    two3 = _two_of_three(close, side)
    points = tuple(
        XmrPoint(
            value=vals[i],
            relative_to_mean=side[i],
            outside_limits=outside[i],
            shift=shift[i],
            trend=trend[i],
            two_of_three=two3[i],
            close_to_limits=close[i],
            point_type=_point_type(outside[i] or shift[i] or trend[i] or two3[i], side[i], improvement),
        )
        for i in range(len(vals))
    )
    return XmrChart(limits=limits, points=points, improvement=improvement)


def c_chart_limits(counts: Sequence[float]) -> CChartLimits:
    """c̄ ± 3√c̄ — the limit the stream's `spc:` hotspot rules use, for reference.

    See docs/contracts.md, "Hotspot rules file", and docs/reference.md, "Statistical process control".
    """
    if not counts:
        raise ValueError("a c-chart needs at least one count")
    mean = sum(counts) / len(counts)
    spread = 3 * math.sqrt(mean)
    return CChartLimits(mean=mean, lower=max(0.0, mean - spread), upper=mean + spread)
