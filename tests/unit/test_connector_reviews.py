"""Care Opinion and NHS.UK review mapping: ids across the two, severity, tags, ratings, config."""

from __future__ import annotations

import json

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.mapping import text_fingerprint
from connectors.reviews.careopinion import CareOpinionSource, map_opinion, tag_codes
from connectors.reviews.nhs_reviews import NhsReviewsSource, comment_event_id, map_comment, stars_to_fft
from tests.support.connectors import data_file, nottingham_reference

REF = nottingham_reference()
OPINIONS = json.loads(data_file("careopinion", "opinions.json"))["opinions"]
TAGS = json.loads(data_file("careopinion", "tags.json"))
COMMENTS = json.loads(data_file("nhsuk", "comments-RX1RA.json"))["comments"]


@pytest.mark.parametrize(
    ("index", "severity"), [(0, "severe"), (1, None), (2, "moderate"), (3, "low"), (4, "severe")]
)
def test_criticality_becomes_severity_lossily(index: int, severity: str | None) -> None:
    opinion = OPINIONS[index]
    event = map_opinion(opinion, TAGS[str(opinion["id"])], REF)
    assert event.get("severity") == severity
    assert event["attributes"]["criticality"] == opinion["criticality"]


def test_opinion_placement_uses_first_known_health_service() -> None:
    gp = map_opinion(OPINIONS[2], [], REF)
    assert (gp["provider"], gp["organisation"]) == ("C84001", "QT1")
    mixed = map_opinion(OPINIONS[4], [], REF)  # RHA (known) and ZZZ99 (unknown)
    assert mixed["provider"] == "RHA" and mixed["attributes"]["healthservices"] == "RHA,ZZZ99"
    unknown = map_opinion({**OPINIONS[0], "links": [{"rel": "healthservice", "id": "ZZZ99"}]}, [], REF)
    assert unknown["provider"] == "ZZZ99" and "organisation" not in unknown


def test_tags_become_hints_and_only_negative_ones_national_codes() -> None:
    codes, attributes = tag_codes(TAGS["1204417"])
    assert codes == [
        "careopinion:waiting_times",
        "ko41a:waiting_times",
        "careopinion:nurses",
        "careopinion:communication",
        "ko41a:communications",
    ]
    assert attributes == {"tags_negative": "waiting times, communication", "tags_positive": "nurses"}


def test_reporter_role_and_no_author_name() -> None:
    carer = map_opinion(OPINIONS[4], [], REF)
    relative = map_opinion(OPINIONS[1], [], REF)
    assert carer["reporter"] == "carer" and relative["reporter"] == "carer"
    assert "a patient" not in json.dumps(carer)


def test_syndicated_comment_takes_the_care_opinion_id_and_fingerprints_match() -> None:
    syndicated = map_comment(COMMENTS[0], REF)
    assert syndicated is not None and syndicated["event_id"] == "careopinion:1204417"
    story = map_opinion(OPINIONS[0], [], REF)
    # Markdown emphasis and whitespace differ between the copies; the fingerprint does not
    assert syndicated["attributes"]["text_fingerprint"] == story["attributes"]["text_fingerprint"]
    assert story["source"] == syndicated["source"] == "web_form"


def test_native_comment_maps_rating_ward_and_not_the_screen_name() -> None:
    native = map_comment(COMMENTS[1], REF)
    assert native is not None
    assert native["event_id"] == "nhsuk:0b5a77e1-3f43-4f1b-8b55-4d1e2f3a4b5c"
    assert native["rating"] == 4  # two stars overall → FFT "poor"
    assert native["ward"] == "Ophthalmology"
    assert native["attributes"]["provider_replied"] == "true"
    assert native["attributes"]["visit_month"] == "2026-11"
    assert "J. Smith" not in json.dumps(native)


def test_removed_comments_are_not_sent() -> None:
    assert map_comment(COMMENTS[2], REF) is None


@pytest.mark.parametrize(
    ("publisher", "expected"),
    [
        ("CareOpinion", "careopinion:42"),
        ("care-opinion", "careopinion:42"),
        ("Patient Opinion", "careopinion:42"),
        ("NHS.UK", "nhsuk:abc"),
        ("", "nhsuk:abc"),
    ],
)
def test_comment_event_id(publisher: str, expected: str) -> None:
    comment = {"commentId": "abc", "publisherID": publisher, "publishersCommentRef": "42"}
    assert comment_event_id(comment) == expected


def test_stars_to_fft() -> None:
    assert [stars_to_fft(s) for s in (5, 4, 3, 2, 1, 0)] == [1, 2, 3, 4, 5, None]


def test_fingerprint_ignores_case_punctuation_and_entities() -> None:
    assert text_fingerprint("Left on a **trolley**", "It's") == text_fingerprint(
        "left on a trolley", "It&#39;s"
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: CareOpinionSource("", REF),
        lambda: CareOpinionSource("k", REF, take=500),
        lambda: CareOpinionSource("k", REF, requests_per_s=10),
        lambda: NhsReviewsSource("k", [], REF),
        lambda: NhsReviewsSource("k", ["RX1; DROP"], REF),
        lambda: NhsReviewsSource("", ["RX1"], REF),
    ],
)
def test_bad_configuration_is_refused(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConnectorConfigError):
        build()
