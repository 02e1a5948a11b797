"""Email mapping: text parts and attachments, ids, dates; configuration checks."""

from __future__ import annotations

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.mail.imap import ImapSource, MailboxConfig, map_message
from tests.support.connectors import data_file, nottingham_reference

REF = nottingham_reference()


def mapped(name: str, **kw: object) -> dict:  # type: ignore[type-arg]
    options = {"source": "complaint", "mailbox": "INBOX", "provider": None, "reference": REF, **kw}
    event = map_message(data_file("imap", name), "24-Nov-2026 10:00:00 +0000", **options)  # type: ignore[arg-type]
    assert event is not None
    return event


def test_text_attachment_is_appended_and_provider_found_in_text() -> None:
    event = mapped("01-complaint-with-letter.eml")
    assert "left without his parkinson's medication" in event["text"]
    assert (event["provider"], event["site"]) == ("RX1", "RX1RA")  # "Queen's Medical Centre" in the body
    assert event["attributes"]["text_attachments"] == "1"
    assert "\r" not in event["text"]


def test_configured_provider_wins_over_text_matching() -> None:
    assert mapped("01-complaint-with-letter.eml", provider="RHA")["provider"] == "RHA"


def test_html_only_alternative_is_not_duplicated_and_pdf_ignored() -> None:
    assert mapped("02-pals-html.eml", source="pals")["text"].count("nobody can tell me") == 1
    assert "JVBER" not in mapped("04-pdf-attachment.eml")["text"]


def test_event_id_from_message_id_is_stable_and_hashed() -> None:
    first, again = mapped("02-pals-html.eml"), mapped("02-pals-html.eml")
    assert first["event_id"] == again["event_id"] and "example.net" not in first["event_id"]
    assert mapped("03-no-message-id-latin1.eml")["event_id"].startswith("email-raw:")


def test_dates_are_utc() -> None:
    event = mapped("03-no-message-id-latin1.eml")
    assert event["occurred_at"] == "2026-11-24T08:30:00.000Z"  # +0100 in the Date header
    assert event["received_at"] == "2026-11-24T10:00:00.000Z"


@pytest.mark.parametrize(
    ("config", "kwargs", "match"),
    [
        (MailboxConfig("mail.nhs.example", 143, "u", "p", security="plain"), {}, "clear text"),
        (MailboxConfig("mail.nhs.example", 993, "u", ""), {}, "password"),
        (MailboxConfig("mail.nhs.example", 993, "u", "p"), {"source": "fft"}, "--source"),
        (MailboxConfig("mail.nhs.example", 0, "u", "p"), {}, "port"),
    ],
)
def test_bad_configuration_is_refused(config: MailboxConfig, kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConnectorConfigError, match=match):
        ImapSource(config, REF, **kwargs)  # type: ignore[arg-type]
