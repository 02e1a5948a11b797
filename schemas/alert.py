"""Alert v1 (docs/contracts.md, "Alert v1"): the hotspot alert as `hotspots.alerts` carries it.

The stream builds these and the sink stores them; neither may import the other, so the field
list, the statuses and the fields a rule may group by live here, once.
"""

from __future__ import annotations

from typing import Final

FIRING: Final = "firing"
RESOLVED: Final = "resolved"
MAX_SAMPLE_EVENT_IDS: Final = 10

# What a rule may group by (docs/contracts.md, "Hotspot rules file"); each becomes an Alertmanager label
# and a column of `hotspot_alerts`.
GROUP_FIELDS: Final[tuple[str, ...]] = ("organisation", "provider", "site", "ward", "source", "domain")

ALERT_FIELDS: Final[tuple[str, ...]] = (
    "alert_id",
    "rule_id",
    "status",
    "group",
    "window_start",
    "window_end",
    "count",
    "threshold",
    "severity",
    "description",
    "fired_at",
    "resolved_at",
    "sample_event_ids",
    # Every organisation whose events counted toward the episode, sorted (docs/tenancy.md): each
    # tenant sees, is routed and reports its own hotspots even when the rule does not group by it.
    "organisations",
)
