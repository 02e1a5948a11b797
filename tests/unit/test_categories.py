"""National category codes map deterministically to domains, as docs/domains.md says."""

from __future__ import annotations

import pytest

from schemas.categories import (
    KO41A,
    LFPSE,
    NRLS,
    SAFEGUARDING_CODES,
    all_codes,
    domains_for_code,
    is_known_code,
    normalise_code,
)
from schemas.domains import ACCESS, DOMAIN_IDS, ENVIRONMENT, INFORMATION, RELATIONSHIPS, SAFE


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ko41a:clinical_treatment", {SAFE}),
        ("ko41a:patient_care", {SAFE, ENVIRONMENT}),
        ("ko41a:prescribing", {SAFE}),
        ("ko41a:restraint", {SAFE, RELATIONSHIPS}),
        ("ko41a:end_of_life_care", {SAFE, RELATIONSHIPS}),
        ("ko41a:admissions_discharges_transfers", {SAFE, ACCESS}),
        ("ko41a:integrated_care", {SAFE, ACCESS}),
        ("ko41a:consent", {INFORMATION, SAFE}),
        ("ko41a:access_to_treatment", {ACCESS, INFORMATION}),
        ("ko41a:commissioning", {ACCESS, INFORMATION}),
        ("ko41a:appointments", {ACCESS}),
        ("ko41a:waiting_times", {ACCESS}),
        ("ko41a:transport", {ACCESS}),
        ("ko41a:communications", {INFORMATION, RELATIONSHIPS}),
        ("ko41a:trust_administration", {INFORMATION}),
        ("ko41a:staff_attitude", {RELATIONSHIPS}),
        ("ko41a:staff_numbers", {SAFE, ACCESS}),
        ("ko41a:privacy_dignity_wellbeing", {RELATIONSHIPS, ENVIRONMENT}),
        ("ko41a:facilities", {ENVIRONMENT}),
        ("ko41a:other", set()),
        ("nrls:access_admission_transfer_discharge", {ACCESS, SAFE}),
        ("nrls:clinical_assessment", {SAFE}),
        ("nrls:implementation_of_care", {SAFE}),
        ("nrls:treatment_procedure", {SAFE}),
        ("nrls:medication", {SAFE}),
        ("nrls:medical_device", {SAFE}),
        ("nrls:patient_accident", {SAFE}),
        ("nrls:self_harm", {SAFE}),
        ("nrls:disruptive_behaviour", {SAFE}),
        ("nrls:consent_communication_confidentiality", {INFORMATION, RELATIONSHIPS}),
        ("nrls:documentation", {SAFE, INFORMATION}),
        ("nrls:infection_control", {SAFE, ENVIRONMENT}),
        ("nrls:infrastructure", {ENVIRONMENT, SAFE}),
        ("nrls:patient_abuse", {SAFE, RELATIONSHIPS}),
        ("nrls:other", set()),
        ("lfpse:incident", {SAFE}),
        ("lfpse:outcome", {SAFE}),
        ("lfpse:risk", {SAFE}),
        ("lfpse:good_care", set()),
    ],
)
def test_reference_table(code: str, expected: set[str]) -> None:
    assert set(domains_for_code(code)) == expected
    assert is_known_code(code)


def test_nrls_has_the_fifteen_national_types() -> None:
    assert len(NRLS) == 15


def test_every_mapped_domain_is_a_real_domain_id() -> None:
    for table in (KO41A, NRLS, LFPSE):
        for _label, domains in table.values():
            assert set(domains) <= set(DOMAIN_IDS)
    assert len(all_codes()) == len(KO41A) + len(NRLS) + len(LFPSE)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("KO41A:Clinical Treatment", "ko41a:clinical_treatment"),
        (" nrls:medical-device/equipment ", "nrls:medical_device"),
        ("ko41a:staff", "ko41a:staff_attitude"),
        ("NRLS:Infection control incident", "nrls:infection_control"),
    ],
)
def test_spellings_are_normalised(written: str, canonical: str) -> None:
    assert normalise_code(written) == canonical
    assert domains_for_code(written) == domains_for_code(canonical)


@pytest.mark.parametrize("code", ["ko41a:made_up", "xyz:medication", "medication", ""])
def test_unknown_codes_imply_nothing(code: str) -> None:
    assert domains_for_code(code) == ()
    assert not is_known_code(code)


def test_patient_abuse_is_a_safeguarding_code() -> None:
    assert "nrls:patient_abuse" in SAFEGUARDING_CODES
    assert all(is_known_code(code) for code in SAFEGUARDING_CODES)
