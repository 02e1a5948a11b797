"""The five NHS patient-experience domains (docs/contracts.md, "Domain ids"; docs/domains.md).

The ids are a public contract: dashboards, rules files and ClickHouse rows use them verbatim.
"""

from __future__ import annotations

from typing import Final

SAFE: Final = "safe_high_quality_care"
RELATIONSHIPS: Final = "building_better_relationships"
INFORMATION: Final = "better_information_more_choice"
ACCESS: Final = "access_and_waiting"
ENVIRONMENT: Final = "clean_comfortable_place"

DOMAIN_IDS: Final[tuple[str, ...]] = (SAFE, RELATIONSHIPS, INFORMATION, ACCESS, ENVIRONMENT)

DOMAIN_LABELS: Final[dict[str, str]] = {
    SAFE: "Safe, high quality, coordinated care",
    RELATIONSHIPS: "Building better (closer) relationships",
    INFORMATION: "Better information, more choice",
    ACCESS: "Access and waiting",
    ENVIRONMENT: "Clean, friendly, comfortable place to be",
}

# Short names for wall screens, where a 60-character label does not fit a tile.
DOMAIN_SHORT_LABELS: Final[dict[str, str]] = {
    SAFE: "Safe care",
    RELATIONSHIPS: "Relationships",
    INFORMATION: "Information",
    ACCESS: "Access & waiting",
    ENVIRONMENT: "Environment",
}
