"""Worked examples for the Making Data Count rules, computed by hand.

Baseline B (12 points): 12 10 14 11 13 12 12 13 11 14 10 12
  sum 144 → mean 12
  moving ranges 2 4 3 2 1 0 1 2 3 4 2 → sum 24 over 11 ranges → mean MR 24/11 = 2.1818…
  (no range reaches 3.267 × 2.18 = 7.13, so outlier screening drops nothing)
  limits 12 ± 2.66 × 24/11 = 12 ± 5.8036 → 6.1964 … 17.8036
  near-limit band edges 12 ± 1.7733 × 24/11 = 12 ± 3.8691 → 8.1309 … 15.8691
Within B: no point beyond the band, no run of 7 on a side, no 7-point trend — all common cause;
B ends on the mean (12), which breaks any run that would continue from it.
"""

from __future__ import annotations

import math

import pytest

from grafana.report.spc import c_chart_limits, xmr, xmr_limits

B = [12, 10, 14, 11, 13, 12, 12, 13, 11, 14, 10, 12]
N = len(B)


def flagged(values, **kw):
    return xmr(values, **kw).special_cause_indices


def test_limits_from_the_baseline():
    lim = xmr_limits(B)
    assert lim.mean == pytest.approx(12.0)
    assert lim.mean_moving_range == pytest.approx(24 / 11)
    assert lim.upper == pytest.approx(12 + 2.66 * 24 / 11)
    assert lim.lower == pytest.approx(12 - 2.66 * 24 / 11)
    assert lim.upper == pytest.approx(17.8036, abs=1e-4)
    assert lim.lower == pytest.approx(6.1964, abs=1e-4)
    assert lim.near_upper == pytest.approx(15.8691, abs=1e-4)
    assert lim.near_lower == pytest.approx(8.1309, abs=1e-4)
    assert lim.baseline_points == 12


def test_baseline_is_all_common_cause():
    assert flagged(B) == []


def test_points_after_the_baseline_do_not_move_the_limits():
    assert xmr([*B, 100, 0, 50]).limits == xmr(B).limits


def test_short_series_uses_every_point_as_trial_baseline():
    lim = xmr_limits([1, 3, 2])
    assert lim.baseline_points == 3
    assert lim.mean == pytest.approx(2.0)
    assert lim.mean_moving_range == pytest.approx(1.5)  # (2 + 1) / 2: the first point has no range


def test_nhsrplotthedots_vignette_outlier_screening():
    """`vignettes/NHSRplotthedots.Rmd`: 'UPL = 4.6, Mean = 1.94, LPL = -0.72' with screening (the
    default) and 6.95 / -3.06 without ('the same output as Excel'); only the 10 is special cause."""
    data = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    screened = xmr(data, baseline=None, improvement="increase")
    assert round(screened.limits.upper, 2) == 4.6
    assert round(screened.limits.mean, 2) == 1.94
    assert round(screened.limits.lower, 2) == -0.72
    assert screened.special_cause_indices == [4]
    assert screened.points[4].point_type == "special_cause_improvement"
    excel = xmr(data, baseline=None, screen_outliers=False)
    assert (round(excel.limits.upper, 2), round(excel.limits.lower, 2)) == (6.95, -3.06)


# Rule 1: outside the process limits (strictly).
def test_rule1_above_upper_limit_is_concern_for_complaints():
    chart = xmr([*B, 18])
    assert chart.special_cause_indices == [N]
    assert chart.points[N].outside_limits
    assert chart.points[N].point_type == "special_cause_concern"


def test_rule1_below_lower_limit_is_improvement_for_complaints():
    chart = xmr([*B, 6])
    assert chart.special_cause_indices == [N]
    assert chart.points[N].point_type == "special_cause_improvement"


def test_rule1_just_inside_the_limit_is_not_outside():
    chart = xmr([*B, 17.8])
    assert not chart.points[N].outside_limits
    assert chart.points[N].close_to_limits
    assert chart.special_cause_indices == []  # one near-limit point alone is common cause


def test_improvement_direction_increase_and_neutral():
    assert xmr([*B, 18], improvement="increase").points[N].point_type == "special_cause_improvement"
    assert xmr([*B, 18], improvement="neutral").points[N].point_type == "special_cause_neutral_high"
    assert xmr([*B, 6], improvement="neutral").points[N].point_type == "special_cause_neutral_low"


# Rule 2: a run of seven or more on one side of the mean.
def test_rule2_seven_above_the_mean_marks_all_seven():
    chart = xmr(B + [13] * 7)
    assert chart.special_cause_indices == list(range(N, N + 7))
    assert all(p.shift and not p.trend and not p.outside_limits for p in chart.points[N:])


def test_rule2_six_is_not_enough():
    assert flagged(B + [13] * 6) == []


def test_rule2_a_point_on_the_mean_breaks_the_run():
    assert flagged([*B, 13, 13, 13, 12, 13, 13, 13]) == []


def test_rule2_longer_run_marks_every_point():
    assert flagged(B + [11] * 9) == list(range(N, N + 9))
    assert xmr(B + [11] * 9).points[N].point_type == "special_cause_improvement"


# Rule 3: seven points all increasing or all decreasing (six strict changes; a tie breaks it).
def test_rule3_seven_increasing_points():
    rising = [9, 10, 11, 12.5, 13, 14, 15]
    chart = xmr(B + rising)
    assert chart.special_cause_indices == list(range(N, N + 7))
    assert all(p.trend for p in chart.points[N:])
    assert not chart.points[N - 1].trend  # the 12 before the 9 is higher: not part of the trend
    # Classified by side of the mean, as ptd_calculate_point_type does.
    types = [p.point_type for p in chart.points[N:]]
    assert types[:3] == ["special_cause_improvement"] * 3
    assert types[3:] == ["special_cause_concern"] * 4


def test_rule3_six_points_are_not_a_trend():
    assert flagged([*B, 9, 10, 11, 12.5, 13, 14]) == []


def test_rule3_a_tie_breaks_the_trend():
    assert flagged([*B, 9, 10, 11, 11, 12.5, 13, 14]) == []


def test_rule3_seven_decreasing_points():
    assert flagged([*B, 15, 14, 13, 11.5, 11, 10, 9]) == list(range(N, N + 7))


# Rule 4: two of three consecutive points beyond the near-limit band on the same side.
def test_rule4_marks_only_the_two_near_limit_points():
    chart = xmr([*B, 16, 13, 16])
    assert chart.special_cause_indices == [N, N + 2]
    assert chart.points[N].two_of_three and not chart.points[N + 1].two_of_three


def test_rule4_needs_all_three_points_on_the_same_side():
    """ptd_two_in_three: `abs(sum(relative_to_mean over the 3)) == 3`."""
    assert flagged([*B, 16, 11, 16]) == []


def test_rule4_low_side_is_improvement_for_complaints():
    chart = xmr([*B, 8, 10, 7])
    assert chart.special_cause_indices == [N, N + 2]
    assert {chart.points[i].point_type for i in (N, N + 2)} == {"special_cause_improvement"}


def test_rule4_a_point_outside_the_limits_is_not_a_near_limit_point():
    chart = xmr([*B, 18, 16, 13])
    assert chart.special_cause_indices == [N]
    assert chart.points[N].outside_limits and not chart.points[N + 1].two_of_three


def test_rule4_window_starting_on_the_mean_does_not_count():
    # windows: (12,16,16) has a point on the mean; no window after the last point.
    assert flagged([*B, 16, 16]) == []
    assert flagged([*B, 16, 16, 13]) == [N, N + 1]


def test_c_chart_limits():
    lim = c_chart_limits([4, 4, 4, 4])
    assert (lim.mean, lim.lower, lim.upper) == (4, 0, 10)
    lim = c_chart_limits([16, 16, 16])
    assert (lim.lower, lim.upper) == (4, 28)
    lim = c_chart_limits([1, 2])
    assert lim.upper == pytest.approx(1.5 + 3 * math.sqrt(1.5))


def test_too_few_points_is_an_error():
    with pytest.raises(ValueError, match="at least 2"):
        xmr([5])
