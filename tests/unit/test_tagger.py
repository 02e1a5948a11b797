"""Tagger: public shape, codes, evidence, themes, sentiment and sources (the model file, the labelled
sets, quality floors and evaluation: test_tagger_quality.py)."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.domains import ACCESS, DOMAIN_IDS, ENVIRONMENT, INFORMATION, RELATIONSHIPS, SAFE
from streams.tagging import TAGGER_VERSION, Tagger, Tags
from streams.tagging import phrases as phrase_matcher


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.default()


# --- public shape -----------------------------------------------------------------------------


def test_default_is_loaded_once() -> None:
    assert Tagger.default() is Tagger.default()
    assert isinstance(TAGGER_VERSION, str) and TAGGER_VERSION


def test_tags_shape_and_as_dict(tagger: Tagger) -> None:
    tags = tagger.tag("The nurses were lovely but I waited 6 hours in A&E", "fft")
    assert isinstance(tags, Tags)
    assert dataclasses.is_dataclass(tags)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tags.sentiment = 0.0  # type: ignore[misc]
    as_dict = tags.as_dict()
    assert set(as_dict) == {"domains", "domain_scores", "themes", "sentiment", "evidence"}
    assert set(tags.domain_scores) == set(DOMAIN_IDS)
    assert all(0.0 <= s <= 1.0 for s in tags.domain_scores.values())
    assert -1.0 <= tags.sentiment <= 1.0
    assert tags.domains == [d for d in DOMAIN_IDS if d in tags.domains], "domains in DOMAIN_IDS order"
    for item in tags.evidence:
        assert set(item) == {"domain", "phrase"} and item["domain"] in tags.domains


def test_domains_agree_with_scores(tagger: Tagger) -> None:
    tags = tagger.tag("Rude receptionist and a dirty waiting room", "gp_comment_card")
    assert tags.domains == [d for d in DOMAIN_IDS if tags.domain_scores[d] >= 0.5]


def test_tag_many_matches_tag(tagger: Tagger) -> None:
    items = [
        ("Waited 5 hours for an ambulance", "social_media", ()),
        ("Wrong dose of insulin given", "incident", ("nrls:medication",)),
        ("", "fft", ()),
    ]
    assert tagger.tag_many(items) == [tagger.tag(*item) for item in items]


@pytest.mark.parametrize("text", ["", "   ", "Nothing.", "N/A", "Thank you", "[NAME]"])
def test_texts_that_say_nothing_get_no_domain(tagger: Tagger, text: str) -> None:
    tags = tagger.tag(text, "fft")
    assert tags.domains == []
    assert tags.evidence == []


def test_markers_are_not_features(tagger: Tagger) -> None:
    plain = tagger.tag("The doctor was kind", "fft")
    marked = tagger.tag("The doctor [NAME] [PHONE] was kind", "fft")
    assert marked.domains == plain.domains
    assert marked.domain_scores == pytest.approx(plain.domain_scores, abs=1e-3)


# --- national codes ---------------------------------------------------------------------------


def test_codes_map_deterministically_with_evidence(tagger: Tagger) -> None:
    tags = tagger.tag("See attached.", "complaint", ["ko41a:privacy_dignity_wellbeing"])
    assert tags.domains == [RELATIONSHIPS, ENVIRONMENT]
    assert tags.domain_scores[RELATIONSHIPS] == 1.0
    assert tags.domain_scores[ENVIRONMENT] == 1.0
    assert {"domain": RELATIONSHIPS, "phrase": "code ko41a:privacy_dignity_wellbeing"} in tags.evidence
    assert {"domain": ENVIRONMENT, "phrase": "code ko41a:privacy_dignity_wellbeing"} in tags.evidence


def test_text_adds_to_codes(tagger: Tagger) -> None:
    tags = tagger.tag(
        "Patient waited 9 hours on a trolley in the corridor and was given the wrong dose of insulin.",
        "incident",
        ["NRLS:Medication"],
    )
    assert SAFE in tags.domains and ACCESS in tags.domains
    assert {"domain": SAFE, "phrase": "code nrls:medication"} in tags.evidence
    assert "medication" in tags.themes


def test_other_and_unknown_codes_leave_it_to_the_text(tagger: Tagger) -> None:
    assert tagger.tag("Fine.", "complaint", ["ko41a:other", "made:up"]).domains == []


def test_duplicate_codes_give_one_evidence_item(tagger: Tagger) -> None:
    tags = tagger.tag("x", "incident", ["lfpse:incident", "LFPSE:incident"])
    assert tags.evidence.count({"domain": SAFE, "phrase": "code lfpse:incident"}) == 1


# --- every source -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        (
            "incident",
            "Unwitnessed fall from bed, head injury, CT requested. Falls risk assessment not done.",
            {SAFE},
        ),
        (
            "gp_clinical_concern",
            "Discharge letter omitted the warfarin dose change and nobody told the patient; INR 8.2.",
            {SAFE, INFORMATION},
        ),
        ("mp_letter", "My constituent has waited 14 months for cataract surgery.", {ACCESS}),
        ("social_media", "The state of the toilets in outpatients today, filthy, no soap", {ENVIRONMENT}),
        (
            "pals",
            "Caller wished to thank the team who were so kind and patient with her mother",
            {RELATIONSHIPS},
        ),
        (
            "complaint",
            "Nobody explained the side effects of the new tablets or what to expect",
            {INFORMATION},
        ),
    ],
)
def test_sources_beyond_fft(tagger: Tagger, source: str, text: str, expected: set[str]) -> None:
    assert expected <= set(tagger.tag(text, source).domains)


# --- sources, decisive phrases and the weak ones --------------------------------------------


@pytest.mark.parametrize("source", ["incident", "gp_clinical_concern"])
def test_patient_safety_sources_are_safe_care_whatever_the_words(tagger: Tagger, source: str) -> None:
    tags = tagger.tag("Pt moved to bay 4 overnight, family aware.", source)
    assert SAFE in tags.domains
    assert any(e["domain"] == SAFE and e["phrase"].startswith("source: ") for e in tags.evidence)


def test_other_sources_get_no_safe_care_prior(tagger: Tagger) -> None:
    assert SAFE not in tagger.tag("Pt moved to bay 4 overnight, family aware.", "pals").domains


def test_a_code_already_deciding_safe_care_is_not_repeated_by_the_source(tagger: Tagger) -> None:
    tags = tagger.tag("Pt moved to bay 4 overnight.", "incident", ["nrls:medication"])
    assert [e["phrase"] for e in tags.evidence if e["domain"] == SAFE] == ["code nrls:medication"]


@pytest.mark.parametrize(
    ("text", "domain", "phrase"),
    [
        ("Ward 10 absolutely crawling with ants", ENVIRONMENT, "ants"),
        ("The receptionist rolled her eyes at my mum", RELATIONSHIPS, "rolled her eyes"),
        ("They gave him someone else's tablets", SAFE, "someone else's tablets"),
        ("Nobody ever explained what happens next", INFORMATION, "nobody ever explained"),
        ("On hold for forty minutes again", ACCESS, "on hold"),
    ],
)
def test_one_decisive_phrase_decides_and_is_the_evidence(
    tagger: Tagger, text: str, domain: str, phrase: str
) -> None:
    tags = tagger.tag(text, "social_media")
    assert domain in tags.domains
    assert {"domain": domain, "phrase": phrase} in tags.evidence


def test_one_ambiguous_word_alone_does_not_decide(tagger: Tagger) -> None:
    # "grateful" is praise in "so grateful to the nurses", a formality in a letter's last line.
    text = "I would be grateful for your reply by Friday."
    assert phrase_matcher.analyse(text.lower())[1].get(RELATIONSHIPS) is None
    assert tagger.tag(text, "mp_letter").domains == []
    assert RELATIONSHIPS in tagger.tag("So grateful to the nurses on ward 6.", "mp_letter").domains


def test_a_duration_alone_is_not_a_wait(tagger: Tagger) -> None:
    tags = tagger.tag("Observations not repeated for eight hours overnight.", "incident")
    assert tags.domains == [SAFE]


def test_phrases_end_at_word_ends(tagger: Tagger) -> None:
    # "park" (parking) must not match inside "Parkinson's".
    domains, _, _ = phrase_matcher.analyse("they forgot his parkinson's medication")
    assert ACCESS not in domains


def test_model_evidence_names_content_words_not_function_words(tagger: Tagger) -> None:
    from streams.tagging.model import _FUNCTION_WORDS

    for text in ("It was so good to be home", "Could have been better", "Long time to be seen by anyone"):
        tags = tagger.tag(text, "fft")
        for item in tags.evidence:
            assert not all(word in _FUNCTION_WORDS for word in item["phrase"].split()), item


@pytest.mark.parametrize("text", ["Professionalism.", "The nurses were lovely", "Waited ages for a bed"])
def test_every_domain_chosen_names_its_evidence(tagger: Tagger, text: str) -> None:
    tags = tagger.tag(text, "fft")
    assert tags.domains
    for domain in tags.domains:
        assert any(item["domain"] == domain for item in tags.evidence), (domain, tags.evidence)


def test_boundary_rule_harmful_delay_is_both(tagger: Tagger) -> None:
    tags = tagger.tag(
        "Mum waited 6 hours on the floor for an ambulance after a fall and now has a fractured hip and "
        "pneumonia.",
        "social_media",
    )
    assert {SAFE, ACCESS} <= set(tags.domains)


def test_evidence_names_a_phrase_for_each_domain(tagger: Tagger) -> None:
    tags = tagger.tag("The nurses were rude and the food was cold", "complaint")
    assert {RELATIONSHIPS, ENVIRONMENT} <= set(tags.domains)
    phrases_by_domain = {(e["domain"], e["phrase"]) for e in tags.evidence}
    assert (RELATIONSHIPS, "rude") in phrases_by_domain
    assert (ENVIRONMENT, "food") in phrases_by_domain
    assert {e["domain"] for e in tags.evidence} == set(tags.domains)


# --- themes and sentiment ---------------------------------------------------------------------


def test_themes(tagger: Tagger) -> None:
    tags = tagger.tag(
        "Waited hours, then the wrong medication, toilets were dirty and the receptionist was rude",
        "complaint",
    )
    assert {"waiting_time", "medication", "cleanliness", "staff_attitude"} <= set(tags.themes)


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("The staff were very kind and helpful", 1),
        ("Appalling care, rude staff and a filthy ward", -1),
        ("Staff were not helpful at all", -1),
        ("Nobody was rude, nothing was wrong", 1),
        ("More staff.", -1),
        ("Could be quicker to answer the phone", -1),
        ("", 0),
    ],
)
def test_negation_aware_sentiment(tagger: Tagger, text: str, sign: int) -> None:
    sentiment = tagger.tag(text, "fft").sentiment
    assert (sentiment > 0) - (sentiment < 0) == sign


def test_lexicon_matcher_finds_multi_word_and_hyphenated_phrases() -> None:
    domains, strength, themes = phrase_matcher.analyse(
        "nobody told us; self-harm; c diff outbreak; x-ray; waited for 9 hours in a&e"
    )
    assert "nobody told" in domains[INFORMATION]
    assert {"self-harm", "c diff", "x-ray"} <= set(domains[SAFE])
    assert {"for 9 hours", "waited"} <= set(domains[ACCESS])
    assert strength[INFORMATION] == phrase_matcher.DECISIVE
    assert strength[ACCESS] == phrase_matcher.STRONG
    assert {"self_harm", "infection", "emergency_department"} <= set(themes)
