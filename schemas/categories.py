"""National category codes (KO41a, NRLS, LFPSE) and the domains each one implies.

Sources send ``category_codes`` such as ``ko41a:clinical_treatment`` or ``nrls:medication``.
The mapping is deterministic and follows docs/domains.md ("National category codes");
it is a contract because rules files, dashboards and source adapters spell these slugs, so the
slugs live here rather than in the tagger. ``*:other`` and unknown codes imply no domain: the
free text decides.
"""

from __future__ import annotations

import re
from typing import Final

from schemas.domains import ACCESS, ENVIRONMENT, INFORMATION, RELATIONSHIPS, SAFE

# slug → (human label, domains). Order of domains follows docs/domains.md.
KO41A: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "clinical_treatment": ("Clinical treatment", (SAFE,)),
    "patient_care": ("Patient care incl. nutrition/hydration", (SAFE, ENVIRONMENT)),
    "prescribing": ("Prescribing (errors)", (SAFE,)),
    "restraint": ("Restraint", (SAFE, RELATIONSHIPS)),
    "end_of_life_care": ("End of life care", (SAFE, RELATIONSHIPS)),
    "admissions_discharges_transfers": ("Admissions, discharges and transfers", (SAFE, ACCESS)),
    "integrated_care": ("Integrated care / delayed discharge", (SAFE, ACCESS)),
    "consent": ("Consent", (INFORMATION, SAFE)),
    "access_to_treatment": ("Access to treatment or drugs", (ACCESS, INFORMATION)),
    "commissioning": ("Commissioning decisions", (ACCESS, INFORMATION)),
    "appointments": ("Appointments", (ACCESS,)),
    "waiting_times": ("Waiting times", (ACCESS,)),
    "transport": ("Transport", (ACCESS,)),
    "communications": ("Communications", (INFORMATION, RELATIONSHIPS)),
    "trust_administration": ("Trust administration / records", (INFORMATION,)),
    "staff_attitude": ("Staff (values and behaviours, attitude)", (RELATIONSHIPS,)),
    "staff_numbers": ("Staff numbers", (SAFE, ACCESS)),
    "privacy_dignity_wellbeing": ("Privacy, dignity and wellbeing", (RELATIONSHIPS, ENVIRONMENT)),
    "facilities": ("Facilities services", (ENVIRONMENT,)),
    "other": ("Other", ()),
}

# The 15 national top-level NRLS incident types.
NRLS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "access_admission_transfer_discharge": (
        "Access, admission, transfer, discharge (incl. missing patient)",
        (ACCESS, SAFE),
    ),
    "clinical_assessment": ("Clinical assessment (incl. diagnosis, scans, tests)", (SAFE,)),
    "implementation_of_care": ("Implementation of care and ongoing monitoring/review", (SAFE,)),
    "treatment_procedure": ("Treatment, procedure", (SAFE,)),
    "medication": ("Medication", (SAFE,)),
    "medical_device": ("Medical device/equipment", (SAFE,)),
    "patient_accident": ("Patient accident (incl. falls)", (SAFE,)),
    "self_harm": ("Self-harming behaviour", (SAFE,)),
    "disruptive_behaviour": ("Disruptive, aggressive behaviour", (SAFE,)),
    "consent_communication_confidentiality": (
        "Consent, communication, confidentiality",
        (INFORMATION, RELATIONSHIPS),
    ),
    "documentation": ("Documentation (incl. records, identification)", (SAFE, INFORMATION)),
    "infection_control": ("Infection control incident", (SAFE, ENVIRONMENT)),
    "infrastructure": ("Infrastructure (incl. staffing, facilities, environment)", (ENVIRONMENT, SAFE)),
    "patient_abuse": ("Patient abuse (by staff / third party)", (SAFE, RELATIONSHIPS)),
    "other": ("Other", ()),
}

# LFPSE event types; the harm grades are separate fields, not categories. "good_care" records
# good practice, which says nothing about a domain by itself.
LFPSE: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "incident": ("Patient safety incident", (SAFE,)),
    "outcome": ("Poor outcome", (SAFE,)),
    "risk": ("Risk", (SAFE,)),
    "good_care": ("Good care", ()),
}

SCHEMES: Final[dict[str, dict[str, tuple[str, tuple[str, ...]]]]] = {
    "ko41a": KO41A,
    "nrls": NRLS,
    "lfpse": LFPSE,
}

# Spellings seen in source systems, mapped onto the canonical slug.
ALIASES: Final[dict[str, str]] = {
    "ko41a:clinical": "ko41a:clinical_treatment",
    "ko41a:nutrition_hydration": "ko41a:patient_care",
    "ko41a:prescribing_errors": "ko41a:prescribing",
    "ko41a:end_of_life": "ko41a:end_of_life_care",
    "ko41a:admissions": "ko41a:admissions_discharges_transfers",
    "ko41a:discharge": "ko41a:admissions_discharges_transfers",
    "ko41a:delayed_discharge": "ko41a:integrated_care",
    "ko41a:access_to_treatment_or_drugs": "ko41a:access_to_treatment",
    "ko41a:commissioning_decisions": "ko41a:commissioning",
    "ko41a:waiting_time": "ko41a:waiting_times",
    "ko41a:communication": "ko41a:communications",
    "ko41a:records": "ko41a:trust_administration",
    "ko41a:staff": "ko41a:staff_attitude",
    "ko41a:staff_values_and_behaviours": "ko41a:staff_attitude",
    "ko41a:privacy_dignity": "ko41a:privacy_dignity_wellbeing",
    "ko41a:facilities_services": "ko41a:facilities",
    "nrls:access": "nrls:access_admission_transfer_discharge",
    "nrls:implementation_of_care_and_ongoing_monitoring": "nrls:implementation_of_care",
    "nrls:treatment": "nrls:treatment_procedure",
    "nrls:medical_device_equipment": "nrls:medical_device",
    "nrls:self_harming_behaviour": "nrls:self_harm",
    "nrls:disruptive_aggressive_behaviour": "nrls:disruptive_behaviour",
    "nrls:consent": "nrls:consent_communication_confidentiality",
    "nrls:infection_control_incident": "nrls:infection_control",
    "nrls:abuse": "nrls:patient_abuse",
}

# Codes that must also raise a safeguarding flag wherever they appear.
SAFEGUARDING_CODES: Final[frozenset[str]] = frozenset({"nrls:patient_abuse"})

_SEPARATORS = re.compile(r"[\s/\-]+")


def normalise_code(code: str) -> str:
    """Canonical ``scheme:slug`` form: lower case, spaces/hyphens to underscores, aliases resolved."""
    scheme, _, slug = code.strip().lower().partition(":")
    canonical = f"{scheme.strip()}:{_SEPARATORS.sub('_', slug.strip())}"
    return ALIASES.get(canonical, canonical)


def is_known_code(code: str) -> bool:
    """Whether ``code`` names a category in one of the national schemes."""
    scheme, _, slug = normalise_code(code).partition(":")
    return slug in SCHEMES.get(scheme, {})


def domains_for_code(code: str) -> tuple[str, ...]:
    """Domains a national category code implies; empty for ``other`` and unknown codes."""
    scheme, _, slug = normalise_code(code).partition(":")
    entry = SCHEMES.get(scheme, {}).get(slug)
    return entry[1] if entry else ()


def all_codes() -> list[str]:
    """Every canonical code, for documentation, validation and tests."""
    return [f"{scheme}:{slug}" for scheme, table in SCHEMES.items() for slug in table]
