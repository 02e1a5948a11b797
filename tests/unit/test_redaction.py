"""Redaction: every kind of personal data is replaced, and clinical numbers survive."""

from __future__ import annotations

import pytest

from streams.redaction import MARKERS, Redaction, redact
from streams.redaction.redactor import is_valid_nhs_number

VALID_NHS = "9434765919"  # passes modulus 11
INVALID_NHS = "9434765918"  # same digits, wrong check digit


def assert_redacted(text: str, kind: str, expected: str, count: int = 1) -> None:
    result = redact(text)
    assert result.text == expected
    assert result.counts == {kind: count}


def assert_kept(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert result.counts == {}


# --- public shape -----------------------------------------------------------------------------


def test_result_is_frozen_with_only_non_zero_counts() -> None:
    result = redact("Call 07700 900123 about Dr Patel")
    assert isinstance(result, Redaction)
    assert result.counts == {"phone": 1, "name": 1}
    with pytest.raises(AttributeError):
        result.text = "x"  # type: ignore[misc]


def test_markers_are_the_contracted_ones() -> None:
    assert MARKERS == {
        "nhs_number": "[NHS_NUMBER]",
        "phone": "[PHONE]",
        "email": "[EMAIL]",
        "postcode": "[POSTCODE]",
        "dob": "[DOB]",
        "address": "[ADDRESS]",
        "hospital_number": "[HOSPITAL_NUMBER]",
        "name": "[NAME]",
    }


def test_empty_and_plain_text_unchanged() -> None:
    assert redact("") == Redaction("", {})
    assert_kept("The nurses were lovely and the ward was clean.")


# --- NHS numbers ------------------------------------------------------------------------------


def test_modulus_11_check() -> None:
    assert is_valid_nhs_number(VALID_NHS)
    assert not is_valid_nhs_number(INVALID_NHS)
    assert not is_valid_nhs_number("123456789")
    # check digit 10 is never valid
    assert not is_valid_nhs_number("1000000010")


@pytest.mark.parametrize("written", ["943 476 5919", "943-476-5919", "9434765919"])
def test_nhs_number_in_any_spacing(written: str) -> None:
    assert_redacted(f"Patient {written} was seen", "nhs_number", "Patient [NHS_NUMBER] was seen")


def test_labelled_nhs_number_redacted_even_with_bad_check_digit() -> None:
    assert_redacted(f"NHS number: {INVALID_NHS}", "nhs_number", "NHS number: [NHS_NUMBER]")


def test_bare_ten_digits_failing_check_and_not_a_phone_stay() -> None:
    assert_kept(f"Reference {INVALID_NHS} on the form")


def test_eleven_digit_and_longer_numbers_are_not_nhs_numbers() -> None:
    assert_kept("Order 943476591912 placed")


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900123",
        "+44 (0)20 7946 0958",
        "(020) 7946 0958",
        "020 7946 0958",
        "0161 496 0000",
        "01632 960123",
        "0800 123 4567",
        "0113-496-0000",
    ],
)
def test_uk_phone_numbers(phone: str) -> None:
    assert_redacted(f"ring me on {phone} today", "phone", "ring me on [PHONE] today")


def test_ten_digits_starting_zero_failing_check_is_a_phone() -> None:
    assert not is_valid_nhs_number("0123456780")
    assert_redacted("call 0123456780", "phone", "call [PHONE]")


@pytest.mark.parametrize(
    "text",
    [
        "Rang 111 and then 999",
        "waited 0 minutes",
        "Called at 10:30 and 14:45",
        "Dated 01/02/2020 and 01-02-2020",
        "We paid £1,250,000 for the unit",
        "Ref 2023/01234/567",
    ],
)
def test_phone_negatives(text: str) -> None:
    assert_kept(text)


# --- e-mail -----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["jo.bloggs@nhs.net", "a+b_c@example.co.uk", "X.Y@trust-name.nhs.uk"])
def test_email(email: str) -> None:
    assert_redacted(f"Write to {email}.", "email", "Write to [EMAIL].")


def test_email_negatives() -> None:
    assert_kept("Meet @ 3pm by the lifts, see @NHSEngland")


# --- postcodes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "postcode", ["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "LS11AB"]
)
def test_postcodes(postcode: str) -> None:
    assert_redacted(f"Lives near {postcode} now", "postcode", "Lives near [POSTCODE] now")


def test_lower_case_spaced_postcode() -> None:
    assert_redacted("at ls1 4ab", "postcode", "at [POSTCODE]")


@pytest.mark.parametrize(
    "text",
    ["Q1 2nd floor", "on T2 3rd level", "Vitamin B12 levels", "Ward A1 at 3pm", "COVID19 jab", "M1 motorway"],
)
def test_postcode_negatives(text: str) -> None:
    assert_kept(text)


# --- dates of birth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DOB: 12/03/1954.", "DOB: [DOB]."),
        ("D.O.B 12.03.54", "D.O.B [DOB]"),
        ("date of birth 3rd March 1954", "date of birth [DOB]"),
        ("Date-of-birth: 1954-03-12", None),
        ("born on 12 March 1954", "born on [DOB]"),
        ("born March 12, 1954", "born [DOB]"),
        ("she was born in 1954", "she was born in [DOB]"),
    ],
)
def test_dates_of_birth(text: str, expected: str | None) -> None:
    result = redact(text)
    assert result.counts == {"dob": 1}
    if expected is not None:
        assert result.text == expected
    assert "1954" not in result.text and "54" not in result.text.replace("[DOB]", "")


@pytest.mark.parametrize(
    "text",
    [
        "Seen on 12/03/2019 and again on 14/03/2019",
        "Admitted 3rd March 2019",
        "The baby was born at 3am weighing 3.2kg",
        "In 2019 the ward moved",
    ],
)
def test_dates_without_birth_context_stay(text: str) -> None:
    assert_kept(text)


# --- street addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live at 12 Acacia Avenue with my son", "I live at [ADDRESS] with my son"),
        ("Flat 3, 21 High Street, Leeds", "[ADDRESS], Leeds"),
        ("at 4B Church Lane.", "at [ADDRESS]."),
        ("sent to 221 Baker St by mistake", "sent to [ADDRESS] by mistake"),
        ("10 Downing Street", "[ADDRESS]"),
    ],
)
def test_addresses(text: str, expected: str) -> None:
    assert_redacted(text, "address", expected)


@pytest.mark.parametrize(
    "text",
    [
        "Moved from Ward 12 Rose Court to bay 3",
        "Bed 4 Park side was noisy",
        "Waited 2 hours in the car park",
        "took 3 Paracetamol Tablets",
        "Oxford Road site was busy",
    ],
)
def test_address_negatives(text: str) -> None:
    assert_kept(text)


# --- hospital and unit numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MRN 12345678 on the wristband", "MRN [HOSPITAL_NUMBER] on the wristband"),
        ("MRN: RX1234567", "MRN: [HOSPITAL_NUMBER]"),
        ("hospital number K123456", "hospital number [HOSPITAL_NUMBER]"),
        ("Hosp no. 0012-3456", "Hosp no. [HOSPITAL_NUMBER]"),
        ("unit number is 445566", "unit number is [HOSPITAL_NUMBER]"),
        ("Hospital No: A 998877", "Hospital No: [HOSPITAL_NUMBER]"),
    ],
)
def test_hospital_numbers(text: str, expected: str) -> None:
    assert_redacted(text, "hospital_number", expected)


@pytest.mark.parametrize(
    "text",
    [
        "the patient no longer needed oxygen",
        "hospital no 1 for stroke care",
        "Unit 4 was closed",
        "the hospital was 20 miles away",
    ],
)
def test_hospital_number_negatives(text: str) -> None:
    assert_kept(text)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "count"),
    [
        ("Dr Patel and Nurse Jones were kind", "Dr [NAME] and Nurse [NAME] were kind", 2),
        ("Mrs J. Smith complained", "Mrs [NAME] complained", 1),
        ("Mr O'Brien-Kelly was seen", None, 1),
        ("thanks to mrs smith", "thanks to mrs [NAME]", 1),
        ("DR PATEL WAS RUDE", "DR [NAME] WAS RUDE", 1),
        ("Nurse Jones's care was great", "Nurse [NAME]'s care was great", 1),
        ("My name is Sarah Jones and I", "My name is [NAME] and I", 1),
        ("my name is john smith and", "my name is [NAME] and", 1),
        ("I am Sarah, his daughter", "I am [NAME], his daughter", 1),
        ("I'm Tom", "I'm [NAME]", 1),
        ("Yours sincerely,\nJohn Smith", "Yours sincerely,\n[NAME]", 1),
        ("Yours faithfully\nA. Khan", "Yours faithfully\n[NAME]", 1),
        ("Kind regards, Jane", "Kind regards, [NAME]", 1),
        ("Thank you, Sarah, for everything", "Thank you, [NAME], for everything", 1),
        ("my husband John was ignored", "my husband [NAME] was ignored", 1),
        ("Rachel took the time with my daughter", "[NAME] took the time with my daughter", 1),
        ("especially the OT Lisa, who helped", "especially the OT [NAME], who helped", 1),
        ("Thanks to Sarah Jones and Tom on reception", "Thanks to [NAME] and [NAME] on reception", 2),
    ],
)
def test_names(text: str, expected: str | None, count: int) -> None:
    result = redact(text)
    assert result.counts == {"name": count}
    if expected is not None:
        assert result.text == expected


@pytest.mark.parametrize(
    "text",
    [
        "I am disappointed with the care",
        "I am Disappointed",
        "I am writing to complain",
        "I am not happy",
        "the nurse was lovely",
        "Dr appointment was cancelled",
        "Thanks, Great service",
        "Thank you. The nurses were great",
        "Love, Mum",
        "I miss playing on my Xbox",
        "my ms flares up",
        "a call off a dr. However the crew were great",
        "talking to the nurse. Palpitations eased",
        "Kind regards to all the staff",
        "Referred to James Cook Hospital",
        "Mary Seacole Ward was clean",
        "Will you call me back? May is a busy month, Grace and Hope ward",
    ],
)
def test_name_negatives(text: str) -> None:
    assert_kept(text)


# --- clinical and operational numbers survive -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Ward 7 bed 12",
        "BP 140/90, pulse 88, sats 94%",
        "INR 2.5 and HbA1c 48 mmol/mol",
        "Parking cost £25 for 3 hours",
        "In 2019 and 2021",
        "Given 10mg morphine and 500 mg paracetamol at 14:00",
        "Rang 999 then 111",
        "Waited 4 hours 30 minutes, 2 days later seen",
        "Temperature 38.5C, GCS 15, NEWS2 score 7",
        "weight 72kg, height 1.75m, BMI 23.5",
        "Referral on 12/03/2019, seen 6 weeks later",
    ],
)
def test_clinical_numbers_survive(text: str) -> None:
    assert_kept(text)


def test_mixed_letter_counts_every_kind() -> None:
    letter = (
        "Dear Sir,\nMy name is Sarah Jones (DOB 12/03/1954, NHS number 943 476 5919, MRN 1234567). "
        "I live at 12 Acacia Avenue, Leeds LS1 4AB; phone 0113 496 0000, email sj@example.com. "
        "On Ward 7 bed 12 my BP was 140/90 and INR 2.5; Dr Patel gave 10mg at 14:00.\n"
        "Yours sincerely,\nSarah Jones"
    )
    result = redact(letter)
    assert result.counts == {
        "name": 3,
        "dob": 1,
        "nhs_number": 1,
        "hospital_number": 1,
        "address": 1,
        "postcode": 1,
        "phone": 1,
        "email": 1,
    }
    for survivor in ("Ward 7 bed 12", "140/90", "INR 2.5", "10mg", "14:00"):
        assert survivor in result.text
    for secret in ("Sarah", "Jones", "1954", "5919", "1234567", "Acacia", "LS1", "496", "sj@", "Patel"):
        assert secret not in result.text
