"""Pipeline health from Prometheus: is every event getting through, fast, and is nothing lost?"""

from __future__ import annotations

from grafana import builders as b
from grafana import style

UID = "pxstream-pipeline"
RATE = "[$__rate_interval]"

# The metric names the worker exports (ISSUE 4); tests check every expression uses only these.
METRICS = (
    "pxstream_events_in_total",
    "pxstream_events_out_total",
    "pxstream_dead_letters_total",
    "pxstream_redactions_total",
    "pxstream_consumer_lag",
    "pxstream_end_to_end_latency_seconds",
    "pxstream_alerts_firing",
    "pxstream_sink_rows_total",
    "pxstream_sink_errors_total",
    "pxstream_tagging_seconds",
    "pxstream_hotspot_late_events_total",
    "pxstream_hotspot_too_late_total",
    "pxstream_hotspot_duplicates_total",
)


def latency_quantile(q: float) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate(pxstream_end_to_end_latency_seconds_bucket{RATE})))"


def headline_stats(y: int) -> list[dict]:
    return [
        b.stat(
            "Events in /s",
            b.grid(0, y, 6, 4),
            b.promql_target(f"sum(rate(pxstream_events_in_total{RATE}))"),
            unit=style.UNIT_RATE,
        ),
        b.stat(
            "Dead letters /s",
            b.grid(6, y, 6, 4),
            b.promql_target(f"sum(rate(pxstream_dead_letters_total{RATE})) or vector(0)"),
            unit=style.UNIT_RATE,
            steps=style.DEAD_LETTER_STEPS,
        ),
        b.stat(
            "End-to-end latency p99",
            b.grid(12, y, 6, 4),
            b.promql_target(latency_quantile(0.99)),
            unit=style.UNIT_SECONDS,
            steps=style.LATENCY_STEPS,
        ),
        b.stat(
            "Consumer lag",
            b.grid(18, y, 6, 4),
            b.promql_target("sum(pxstream_consumer_lag)"),
            steps=[(None, style.GOOD), (1000, style.WARN), (100000, style.BAD)],
        ),
    ]


def events_in_out(pos: dict) -> dict:
    return b.timeseries(
        "Events in and out per second, by source",
        pos,
        [
            b.promql_target(
                f"sum by (source) (rate(pxstream_events_in_total{RATE}))", "in {{source}}", ref="A"
            ),
            b.promql_target(
                f"sum by (source) (rate(pxstream_events_out_total{RATE}))", "out {{source}}", ref="B"
            ),
        ],
        unit=style.UNIT_RATE,
    )


def dead_letters(pos: dict) -> dict:
    return b.timeseries(
        "Dead letters per second, by reason",
        pos,
        [b.promql_target(f"sum by (reason) (rate(pxstream_dead_letters_total{RATE}))", "{{reason}}")],
        unit=style.UNIT_RATE,
        bars=True,
        stacked=True,
    )


def redactions(pos: dict) -> dict:
    return b.timeseries(
        "Redactions per second, by kind",
        pos,
        [b.promql_target(f"sum by (kind) (rate(pxstream_redactions_total{RATE}))", "{{kind}}")],
        unit=style.UNIT_RATE,
        stacked=True,
    )


def consumer_lag(pos: dict) -> dict:
    return b.timeseries(
        "Consumer lag by topic and partition",
        pos,
        [b.promql_target("sum by (topic, partition) (pxstream_consumer_lag)", "{{topic}}/{{partition}}")],
    )


def latency(pos: dict) -> dict:
    return b.timeseries(
        "End-to-end latency (event received → stored/alerted)",
        pos,
        [
            b.promql_target(latency_quantile(q), f"p{int(q * 100)}", ref=ref)
            for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
        ],
        unit=style.UNIT_SECONDS,
    )


def alerts_firing(pos: dict) -> dict:
    return b.timeseries(
        "Hotspot alerts firing, by rule",
        pos,
        [b.promql_target("sum by (rule) (pxstream_alerts_firing)", "{{rule}}")],
        stacked=True,
    )


def sink(pos: dict) -> dict:
    return b.timeseries(
        "ClickHouse sink rows and errors per second, by table",
        pos,
        [
            b.promql_target(
                f"sum by (table) (rate(pxstream_sink_rows_total{RATE}))", "rows {{table}}", ref="A"
            ),
            b.promql_target(
                f"sum by (table) (rate(pxstream_sink_errors_total{RATE}))", "errors {{table}}", ref="B"
            ),
        ],
        unit=style.UNIT_RATE,
        overrides=[
            {
                "matcher": {"id": "byRegexp", "options": "^errors .*"},
                "properties": [{"id": "color", "value": {"fixedColor": style.BAD, "mode": "fixed"}}],
            }
        ],
    )


def tagging_time(pos: dict) -> dict:
    expr = f"sum(rate(pxstream_tagging_seconds_sum{RATE})) / sum(rate(pxstream_tagging_seconds_count{RATE}))"
    return b.timeseries(
        "Mean tagging time per event", pos, [b.promql_target(expr, "mean")], unit=style.UNIT_SECONDS
    )


def hotspot_input(pos: dict) -> dict:
    """What the rules did not simply count: a rising too-late or duplicate rate needs a look."""
    series = (
        ("pxstream_hotspot_late_events_total", "late, counted", "A"),
        ("pxstream_hotspot_too_late_total", "too late, not counted (per rule)", "B"),
        ("pxstream_hotspot_duplicates_total", "duplicate event, not counted", "C"),
    )
    return b.timeseries(
        "Hotspot stage: late, too late and duplicate events per second",
        pos,
        [b.promql_target(f"sum(rate({metric}{RATE}))", legend, ref=ref) for metric, legend, ref in series],
        unit=style.UNIT_RATE,
    )


def build() -> dict:
    panels = [
        *headline_stats(0),
        events_in_out(b.grid(0, 4, 12, 8)),
        dead_letters(b.grid(12, 4, 12, 8)),
        latency(b.grid(0, 12, 12, 8)),
        consumer_lag(b.grid(12, 12, 12, 8)),
        sink(b.grid(0, 20, 12, 8)),
        alerts_firing(b.grid(12, 20, 12, 8)),
        redactions(b.grid(0, 28, 12, 8)),
        tagging_time(b.grid(12, 28, 12, 8)),
        hotspot_input(b.grid(0, 36, 12, 8)),
    ]
    return b.dashboard(
        uid=UID,
        title="Pipeline health",
        description="Throughput, dead letters, lag, latency, sink and tagging (worker's Prometheus metrics).",
        panels=panels,
        variables=[],
        refresh=style.REFRESH_PIPELINE,
        time_from="now-6h",
    )
