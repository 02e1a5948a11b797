"""Redaction on folded text and on labels: detection on a normalised copy, replacement in the original.

Split from test_redaction.py (the kinds of personal data) so each file holds one concern.
"""

from __future__ import annotations

import pytest

from streams.redaction import Redaction, redact, redact_label
from streams.redaction.normalise import normalise

# --- normalisation: detect on folded text, replace in the original ----------------------------


def test_ascii_text_is_its_own_detection_text() -> None:
    folded = normalise("Call 07700 900123")
    assert folded.text == "Call 07700 900123" and folded.sources is None
    assert folded.span(5, 17) == (5, 17)


def test_folding_maps_every_detection_character_back_to_its_original() -> None:
    original = "Zo\u00eb: \uff10\uff17\u200b7\u00ad00\u00a0900\u2013123"
    folded = normalise(original)
    assert folded.text == "Zoe: 07700 900-123"
    start = folded.text.index("0")
    assert folded.span(start, len(folded.text)) == (original.index("\uff10"), len(original))


def test_output_keeps_the_writers_own_characters_outside_the_markers() -> None:
    text = "Très contente – appelez le ０７７００ ９００１２３ « merci », Zoë"
    assert redact(text).text == "Très contente – appelez le [PHONE] « merci », [NAME]"


def test_letters_outside_ascii_keep_their_case_for_detection() -> None:
    assert normalise("Ёлкина").text == "Aaaaaa"
    assert normalise("Łukasz").text == "Aukasz"
    assert redact("Mrs Ёлкина called").text == "Mrs [NAME] called"


# --- labels: ward, site, attribute names, category codes ---------------------------------------


@pytest.mark.parametrize(
    "label",
    ["Victoria", "Elizabeth", "Ward 7", "Mary Seacole Ward", "E11 2AB", "AMU", "Bay 3 Bed 12", "RTD01"],
)
def test_labels_named_after_people_or_coded_are_kept(label: str) -> None:
    assert redact_label(label) == Redaction(label, {})


@pytest.mark.parametrize(
    ("label", "expected", "kind"),
    [
        ("Mrs Smith's bay", "Mrs [NAME]'s bay", "name"),
        ("Leeds LS1 4AB", "Leeds [POSTCODE]", "postcode"),
        ("Ward 7 (call 07700 900123)", "Ward 7 (call [PHONE])", "phone"),
        ("jo.bloggs@nhs.net", "[EMAIL]", "email"),
        ("Side room, NHS 943 476 5919", "Side room, NHS [NHS_NUMBER]", "nhs_number"),
    ],
)
def test_labels_holding_personal_data_are_redacted(label: str, expected: str, kind: str) -> None:
    assert redact_label(label) == Redaction(expected, {kind: 1})


def test_free_text_still_takes_a_first_name_with_no_cue() -> None:
    assert redact("Victoria was kind").text == "[NAME] was kind"
    assert redact_label("Victoria was kind").text == "Victoria was kind"


def test_a_cue_word_after_an_apostrophe_or_in_quotes_still_counts() -> None:
    # the word split keeps apostrophes inside words ("i'm"), so "'dr" once hid the title "dr"
    # from the gate, and the name after it was kept
    assert redact("He saw 'Dr Smith' today").text == "He saw 'Dr [NAME]' today"
    assert redact("nurse said 'Mrs Jones' was fine").text == "nurse said 'Mrs [NAME]' was fine"
    assert redact("'DOB 12/03/1948'").text == "'DOB [DOB]'"
    assert redact("the 'Nurse Led Clinic' was quiet").text == "the 'Nurse Led Clinic' was quiet"
