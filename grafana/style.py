"""House style for every pxstream dashboard and report chart: one place to change a colour.

Wall screens hang in public corridors and are read from three metres: large values, few words,
high contrast on a dark background. Domain colours come from the Okabe–Ito palette, which stays
distinguishable for the common forms of colour-blindness; SPC colours are the ones NHS-R's
`NHSRplotthedots` (`R/ptd_spc_colours.R`) uses, so our charts read like every other Making Data
Count chart a board has seen.
"""

from __future__ import annotations

from typing import Final

from schemas.domains import (
    ACCESS,
    DOMAIN_IDS,
    DOMAIN_SHORT_LABELS,
    ENVIRONMENT,
    INFORMATION,
    RELATIONSHIPS,
    SAFE,
)

CLICKHOUSE_UID: Final = "pxstream-clickhouse"
PROMETHEUS_UID: Final = "pxstream-prometheus"
CLICKHOUSE_TYPE: Final = "grafana-clickhouse-datasource"
PROMETHEUS_TYPE: Final = "prometheus"
FOLDER_UID: Final = "pxstream"
FOLDER_TITLE: Final = "pxstream — patient experience"
TAGS: Final = ["pxstream"]
SCHEMA_VERSION: Final = 39  # Grafana 11.x/12.x import and migrate this without changes

DOMAIN_COLOURS: Final[dict[str, str]] = {
    SAFE: "#D55E00",  # vermillion
    RELATIONSHIPS: "#CC79A7",  # reddish purple
    INFORMATION: "#56B4E9",  # sky blue
    ACCESS: "#E69F00",  # orange
    ENVIRONMENT: "#009E73",  # bluish green
}
DOMAINS: Final = DOMAIN_IDS
DOMAIN_LABELS_SHORT: Final = DOMAIN_SHORT_LABELS

# Making Data Count / NHSRplotthedots point colours.
SPC_COMMON: Final = "#7B7D7D"
SPC_IMPROVEMENT: Final = "#289DE0"
SPC_CONCERN: Final = "#FAB428"
SPC_NEUTRAL: Final = "#361475"
SPC_MEAN: Final = "#000000"
SPC_LIMIT: Final = "#7B7D7D"

GOOD: Final = "#1B9E3E"
WARN: Final = "#F2A900"
BAD: Final = "#D7191C"
NEUTRAL_TEXT: Final = "#FFFFFF"
NHS_BLUE: Final = "#005EB8"

# Text sizes (px) for stat panels: wall screens need legible numbers at three metres.
WALL_VALUE_SIZE: Final = 96
WALL_TITLE_SIZE: Final = 36
OFFICE_VALUE_SIZE: Final = 40
OFFICE_TITLE_SIZE: Final = 16

# Units (Grafana unit ids).
UNIT_COUNT: Final = "short"
UNIT_SECONDS: Final = "s"
UNIT_RATIO: Final = "percentunit"
UNIT_RATE: Final = "ops"  # events per second
UNIT_SENTIMENT: Final = "none"

REFRESH_WALL: Final = "1m"
REFRESH_OFFICE: Final = "5m"
REFRESH_PIPELINE: Final = "30s"

# Share of negative feedback: amber from a quarter, red from 40 %.
NEGATIVE_SHARE_STEPS: Final = [(None, GOOD), (0.25, WARN), (0.40, BAD)]
# Open hotspots: any is red.
HOTSPOT_STEPS: Final = [(None, GOOD), (1, BAD)]
# End-to-end latency (s): the alert must reach people within a minute.
LATENCY_STEPS: Final = [(None, GOOD), (10, WARN), (60, BAD)]
# Dead letters per second.
DEAD_LETTER_STEPS: Final = [(None, GOOD), (0.01, WARN), (1, BAD)]


def thresholds(steps: list[tuple[float | None, str]]) -> dict:
    return {"mode": "absolute", "steps": [{"color": colour, "value": value} for value, colour in steps]}


def domain_overrides() -> list[dict]:
    """Fix each domain series' colour by its short label, so a domain looks the same everywhere."""
    return [
        {
            "matcher": {"id": "byName", "options": DOMAIN_SHORT_LABELS[d]},
            "properties": [{"id": "color", "value": {"fixedColor": DOMAIN_COLOURS[d], "mode": "fixed"}}],
        }
        for d in DOMAIN_IDS
    ]
