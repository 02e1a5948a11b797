"""PNG charts for the monthly pack (matplotlib, Agg backend: no display needed).

Colours come from `grafana.style`, so a domain is the same colour on the wall screen and in the
board pack, and SPC points use the Making Data Count colours (grey common cause, orange concern,
blue improvement).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from grafana import style
from grafana.report.spc import XmrChart
from schemas.domains import DOMAIN_IDS, DOMAIN_SHORT_LABELS

DPI = 110
TEXT = "#212B32"  # NHS "black"
GRID = "#D8DDE0"
PREVIOUS = "#AEB7BD"

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 11,
        "axes.edgecolor": GRID,
        "axes.labelcolor": TEXT,
        "xtick.color": TEXT,
        "ytick.color": TEXT,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "bold",
        "axes.titlesize": 13,
        "axes.titlelocation": "left",
    }
)

POINT_COLOURS = {
    "common_cause": style.SPC_COMMON,
    "special_cause_improvement": style.SPC_IMPROVEMENT,
    "special_cause_concern": style.SPC_CONCERN,
    "special_cause_neutral_high": style.SPC_NEUTRAL,
    "special_cause_neutral_low": style.SPC_NEUTRAL,
}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


def _label_bars(ax, bars, values: Sequence[int]) -> None:
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:,}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=10,
            color=TEXT,
        )


def domain_bars(by_domain: dict[str, tuple[int, int]], month_label: str, previous_label: str) -> bytes:
    """This month (domain colour) against last month (grey), one row per domain."""
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    labels = [DOMAIN_SHORT_LABELS[d] for d in DOMAIN_IDS][::-1]
    this = [by_domain[d][0] for d in DOMAIN_IDS][::-1]
    prev = [by_domain[d][1] for d in DOMAIN_IDS][::-1]
    y = range(len(labels))
    ax.barh([i - 0.2 for i in y], prev, height=0.38, color=PREVIOUS, label=previous_label)
    bars = ax.barh(
        [i + 0.2 for i in y],
        this,
        height=0.38,
        color=[style.DOMAIN_COLOURS[d] for d in DOMAIN_IDS][::-1],
        label=month_label,
    )
    _label_bars(ax, bars, this)
    ax.set_yticks(list(y), labels)
    ax.set_title("Feedback by domain")
    ax.xaxis.grid(True, color=GRID)
    ax.set_axisbelow(True)
    ax.legend(
        handles=[
            Line2D([], [], color=TEXT, lw=8, label=month_label),
            Line2D([], [], color=PREVIOUS, lw=8, label=previous_label),
        ],
        loc="lower right",
        frameon=False,
    )
    ax.margins(x=0.12)
    return _png(fig)


def ranked_bars(title: str, rows: list[tuple[str, int, int]], colour: str = style.NHS_BLUE) -> bytes:
    """Horizontal bars, largest at the top, this month coloured and last month as a grey tick."""
    rows = rows[::-1]
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * max(len(rows), 3) + 1.0))
    y = range(len(rows))
    bars = ax.barh(list(y), [r[1] for r in rows], height=0.6, color=colour)
    ax.scatter([r[2] for r in rows], list(y), marker="|", s=300, color=TEXT, linewidths=2, zorder=3)
    _label_bars(ax, bars, [r[1] for r in rows])
    ax.set_yticks(list(y), [r[0].replace("_", " ") for r in rows])
    ax.set_title(title)
    ax.xaxis.grid(True, color=GRID)
    ax.set_axisbelow(True)
    ax.margins(x=0.12)
    ax.legend(
        handles=[
            Line2D([], [], color=colour, lw=8, label="this month"),
            Line2D([], [], color=TEXT, marker="|", markersize=14, lw=0, mew=2, label="last month"),
        ],
        loc="lower right",
        frameon=False,
    )
    return _png(fig)


def xmr_chart(title: str, period_ends: Sequence[date], chart: XmrChart, month_start: date) -> bytes:
    """An XmR chart as Making Data Count draws one: grey line and dots, mean solid, limits dashed,
    special-cause points coloured (orange concern, blue improvement), the reporting month shaded."""
    fig, ax = plt.subplots(figsize=(7.2, 3.1))
    x = list(period_ends)
    values = [p.value for p in chart.points]
    lim = chart.limits
    in_month = [i for i, end in enumerate(x) if end >= month_start]
    if in_month:
        ax.axvspan(
            x[in_month[0]] - (x[1] - x[0]) / 2 if len(x) > 1 else x[0], x[-1], color="#E8EDEE", zorder=0
        )
    ax.plot(x, values, color=style.SPC_COMMON, lw=1.6, zorder=2)
    ax.axhline(lim.mean, color=style.SPC_MEAN, lw=1.2, zorder=1)
    for level in (lim.upper, lim.lower):
        if level >= 0 or level == lim.upper:
            ax.axhline(level, color=style.SPC_LIMIT, lw=1.1, ls="--", zorder=1)
    ax.axvline(x[lim.baseline_points - 1], color=GRID, lw=1, ls=":", zorder=1)
    ax.annotate(
        "◂ baseline", (x[lim.baseline_points - 1], 1), xycoords=("data", "axes fraction"),
        xytext=(-3, -2), textcoords="offset points", ha="right", va="top", fontsize=8, color="#4C6272",
    )  # fmt: skip
    if in_month:
        ax.annotate(
            month_start.strftime("%B"), (x[in_month[0]], 1), xycoords=("data", "axes fraction"),
            xytext=(0, -2), textcoords="offset points", ha="center", va="top", fontsize=8, color="#4C6272",
        )  # fmt: skip
    ax.scatter(x, values, s=34, zorder=3, color=[POINT_COLOURS[p.point_type] for p in chart.points])
    ax.set_ylim(bottom=0, top=max([*values, lim.upper]) * 1.15 + 0.5)
    ax.set_title(title)
    ax.set_ylabel("negative feedback / week")
    ax.yaxis.grid(True, color=GRID)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%d %b"))
    ax.tick_params(axis="x", labelsize=9)
    handles = [
        Line2D([], [], color=style.SPC_MEAN, lw=1.2, label=f"mean {lim.mean:.1f}"),
        Line2D(
            [],
            [],
            color=style.SPC_LIMIT,
            lw=1.1,
            ls="--",
            label=f"limits {max(lim.lower, 0):.1f}–{lim.upper:.1f}",
        ),
        Line2D([], [], color=style.SPC_CONCERN, marker="o", lw=0, label="special cause: concern"),
        Line2D([], [], color=style.SPC_IMPROVEMENT, marker="o", lw=0, label="special cause: improvement"),
    ]
    ax.legend(
        handles=handles, loc="upper left", ncol=4, fontsize=8.5, frameon=False, bbox_to_anchor=(0, -0.12)
    )
    return _png(fig)
