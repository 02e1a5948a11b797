# ruff: noqa: E501 — the pack's prose and markup read best unwrapped
"""`pxstream report --organisation CODE --month YYYY-MM --out DIR`: the monthly review pack.

Writes DIR/index.html (self-contained: charts embedded) and every chart as DIR/<name>.png.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from grafana.report import charts
from grafana.report.actions import ActionsMonth, actions_section, load_actions_month
from grafana.report.data import SPC_PERIODS, Month, MonthData, load_month
from grafana.report.html import Figure, change, page, table
from grafana.report.spc import DEFAULT_BASELINE, XmrChart, xmr
from schemas.domains import DOMAIN_IDS, DOMAIN_LABELS, DOMAIN_SHORT_LABELS
from schemas.errors import PxstreamError


class ReportError(PxstreamError):
    """The pack could not be produced (no data, unwritable directory)."""


def build_report(clickhouse_url: str, organisation: str, month_text: str, out: Path) -> Path:
    from sinks.client import connect

    client = connect(clickhouse_url)
    data = load_month(client, organisation, Month.parse(month_text))
    return write_report(data, out, load_actions_month(client, organisation, data.month, data.episodes))


def write_report(data: MonthData, out: Path, actions: ActionsMonth | None = None) -> Path:
    if data.events == 0 and data.events_previous == 0 and not data.episodes:
        raise ReportError(
            f"no feedback for organisation {data.organisation!r} in {data.month.label} or the month before "
            '(check --organisation against `pxstream sql "SELECT DISTINCT organisation FROM feedback_daily"`)'
        )
    figures: list[Figure] = []
    sections = [
        _summary(data),
        _domains(data, figures),
        _sources_and_themes(data, figures),
        _spc(data, figures),
    ]
    sections += [
        _episodes(data),
        *([actions_section(actions, data.month)] if actions else []),
        _changes(data),
    ]
    sections.append(_method())
    try:
        out.mkdir(parents=True, exist_ok=True)
        for figure in figures:
            (out / figure.name).write_bytes(figure.png)
        path = out / "index.html"
        generated = datetime.now(UTC).strftime("%d %B %Y %H:%M UTC")
        path.write_text(
            page(
                f"Patient experience — {data.month.label}",
                f"Organisation {data.organisation} · monthly themes and trends · generated {generated}",
                sections,
            ),
            encoding="utf-8",
        )
    except OSError as exc:
        raise ReportError(f"cannot write the report to {out}: {exc.strerror}") from None
    return path


def _summary(data: MonthData) -> str:
    share = data.negative / data.events if data.events else 0.0
    prev_share = data.negative_previous / data.events_previous if data.events_previous else 0.0
    firing = sum(1 for e in data.episodes if e["status"] == "firing")
    cards = [
        (
            f"{data.events:,}",
            f"feedback items · {change(data.events, data.events_previous)} on last month",
            "",
        ),
        (
            f"{share:.0%}",
            f"negative · {prev_share:.0%} last month",
            "alert" if share > prev_share + 0.05 else "",
        ),
        (f"{len(data.episodes)}", f"hotspot episodes · {firing} still open", "alert" if firing else ""),
        (f"{sum(1 for d in DOMAIN_IDS if _has_concern(data, d))}", "domains with special-cause concern", ""),
    ]
    body = "".join(
        f'<div class="card {cls}"><div class="value">{value}</div><div class="label">{label}</div></div>'
        for value, label, cls in cards
    )
    return f'<div class="cards">{body}</div>'


def _domains(data: MonthData, figures: list[Figure]) -> str:
    fig = Figure(
        "domains.png",
        charts.domain_bars(data.by_domain, data.month.label, data.month.previous.label),
        "Feedback by domain, this month and last",
    )
    figures.append(fig)
    rows = [
        [escape(DOMAIN_LABELS[d]), f"{this:,}", f"{prev:,}", change(this, prev)]
        for d in DOMAIN_IDS
        for this, prev in [data.by_domain[d]]
    ]
    note = '<p class="note">An item that touches two domains counts in each.</p>'
    return (
        f'<section><h2>Feedback by domain</h2><div class="grid2"><div>{fig.img()}</div>'
        f"<div>{table(['Domain', 'This month', 'Last month', 'Change'], rows, {1, 2, 3})}{note}</div></div></section>"
    )


def _sources_and_themes(data: MonthData, figures: list[Figure]) -> str:
    parts = []
    if data.by_source:
        rows = [(s.replace("_", " "), a, b) for s, (a, b) in data.by_source.items()]
        fig = Figure("sources.png", charts.ranked_bars("Feedback by source", rows), "Feedback by source")
        figures.append(fig)
        parts.append(fig.img())
    if data.themes:
        rows = [(t, a, b) for t, a, b, _n in data.themes]
        fig = Figure("themes.png", charts.ranked_bars("Top themes", rows, colour="#330072"), "Top themes")
        figures.append(fig)
        parts.append(fig.img())
    theme_rows = [
        [escape(t.replace("_", " ")), f"{a:,}", f"{n:,}", change(a, b)] for t, a, b, n in data.themes
    ]
    return (
        '<section><h2>Where feedback came from, and what it was about</h2><div class="grid2">'
        + "".join(f"<div>{p}</div>" for p in parts)
        + "</div>"
        + table(["Theme", "This month", "of which negative", "Change on last month"], theme_rows, {1, 2, 3})
        + "</section>"
    )


def _chart_for(data: MonthData, domain: str) -> XmrChart | None:
    values = data.weekly_negative.get(domain, [])
    return xmr(values, baseline=DEFAULT_BASELINE, improvement="decrease") if len(values) >= 2 else None


def _has_concern(data: MonthData, domain: str) -> bool:
    chart = _chart_for(data, domain)
    return bool(chart) and any(
        p.point_type == "special_cause_concern"
        for p, end in zip(chart.points, data.period_ends, strict=True)
        if end >= data.month.start
    )


def _verdict(data: MonthData, chart: XmrChart) -> str:
    recent = [p for p, end in zip(chart.points, data.period_ends, strict=True) if end >= data.month.start]
    rules = []
    for p in recent:
        if p.special_cause:
            rules += [
                name
                for name, hit in (
                    ("outside the limits", p.outside_limits),
                    ("a run of 7 on one side of the mean", p.shift),
                    ("a 7-point trend", p.trend),
                    ("2 of 3 near a limit", p.two_of_three),
                )
                if hit and name not in rules
            ]
    if any(p.point_type == "special_cause_concern" for p in recent):
        return f'<span class="tag concern">special cause — concern</span> this month: {", ".join(rules)}.'
    if any(p.point_type == "special_cause_improvement" for p in recent):
        return f'<span class="tag improvement">special cause — improvement</span> this month: {", ".join(rules)}.'
    return (
        '<span class="tag common">common cause</span> no signal this month: variation within the usual range.'
    )


def _spc(data: MonthData, figures: list[Figure]) -> str:
    blocks = []
    short = len(data.period_ends) < DEFAULT_BASELINE
    for domain in DOMAIN_IDS:
        chart = _chart_for(data, domain)
        if chart is None:
            continue
        fig = Figure(
            f"spc-{domain}.png",
            charts.xmr_chart(DOMAIN_LABELS[domain], data.period_ends, chart, data.month.start),
            f"XmR chart of weekly negative feedback: {DOMAIN_SHORT_LABELS[domain]}",
        )
        figures.append(fig)
        blocks.append(f'<div>{fig.img()}<p class="verdict">{_verdict(data, chart)}</p></div>')
    trial = (
        f'<p class="note">Only {len(data.period_ends)} weeks of data so far: these are trial limits.</p>'
        if short
        else ""
    )
    return (
        "<section><h2>Is anything changing? Weekly negative feedback by domain (XmR)</h2>"
        f'<p class="note">Each dot is one week (7 days ending on the date shown; the last ends on the last day '
        f"of the month), up to {SPC_PERIODS} weeks. The shaded area is {escape(data.month.label)}. Mean and "
        f"limits come from the first {DEFAULT_BASELINE} weeks (dotted line). Orange dots are special cause for "
        "concern, blue dots special cause improvement (fewer negative items), grey dots common cause.</p>"
        f'{trial}<div class="grid2">{"".join(blocks)}</div></section>'
    )


def _episodes(data: MonthData) -> str:
    def when(value) -> str:
        return value.strftime("%d %b %H:%M") if value else "—"

    def where(e) -> str:
        place = " / ".join(v for v in (e["provider"], e["ward"], e["source"]) if v) or "—"
        # The count includes every organisation's events: say whose, so it is read as shared.
        others = [o for o in e.get("organisations") or () if o != data.organisation]
        return place + (f" · shared with {', '.join(others)}" if others else "")

    rows = [
        [
            when(e["fired_at"]),
            f'<span class="tag {e["status"]}">{escape(e["status"])}</span>',
            escape(e["description"] or e["rule_id"]),
            escape(where(e)),
            escape(DOMAIN_SHORT_LABELS.get(e["domain"], e["domain"]) or "—"),
            f"{e['count']:,} (≥ {e['threshold']:g})",
            when(e["resolved_at"]),
        ]
        for e in data.episodes
    ]
    headers = ["Fired", "Status", "Hotspot", "Where", "Domain", "Count (threshold)", "Resolved"]
    return (
        f"<section><h2>Hotspot episodes in {escape(data.month.label)}</h2>"
        + table(headers, rows, {5}, empty="No hotspot episodes fired this month.")
        + "</section>"
    )


def _changes(data: MonthData) -> str:
    providers = [[escape(p), f"{a:,}", f"{b:,}", change(a, b)] for p, a, b in data.providers_changed]
    wards = [[escape(p), escape(w), f"{a:,}", f"{b:,}", change(a, b)] for p, w, a, b in data.wards_changed]
    return (
        "<section><h2>Providers and wards that changed most (all feedback, on last month)</h2>"
        '<div class="grid2"><div>'
        + table(["Provider", "This month", "Last month", "Change"], providers, {1, 2, 3})
        + "</div><div>"
        + table(["Provider", "Ward", "This month", "Last month", "Change"], wards, {2, 3, 4})
        + "</div></div></section>"
    )


def _method() -> str:
    return (
        '<section><h2>How to read this pack</h2><p class="note">Counts are feedback items by the date the '
        "experience happened. \"Negative\" means the tagger's sentiment is below −0.2. SPC follows NHS England's "
        "Making Data Count rules as implemented by NHS-R NHSRplotthedots: a point is special cause when it is "
        "outside the process limits (mean ± 2.66 × mean moving range), in a run of 7 on one side of the mean, in "
        "7 points rising or falling, or 2 of 3 near a limit on the same side. More negative feedback is a concern. "
        "Personal details were removed before anything was stored.</p></section>"
    )
