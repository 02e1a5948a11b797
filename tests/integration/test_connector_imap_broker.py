"""IMAP connector against a real Dovecot on loopback (Debian's dovecot-imapd), ending on the broker.

Checks new-messages-only resume by UID, text attachments, read-only access (no \\Seen flags set),
and what happens when UIDVALIDITY changes: the mailbox is read again and nothing is doubled.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from connectors.cursor import CursorStore
from connectors.exceptions import ConnectorConfigError
from connectors.mail.imap import ImapSource, MailboxConfig
from connectors.runtime import RunOptions, run_source
from tests.support.connectors import Dovecot, data_file, nottingham_reference
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


def eml(name: str) -> bytes:
    return data_file("imap", name)


def pals_message(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Caller {n} <caller{n}@example.org>"
    message["To"] = "pals@nuh.example"
    message["Subject"] = f"PALS enquiry {n}"
    message["Date"] = f"Tue, 24 Nov 2026 1{n}:00:00 +0000"
    message["Message-ID"] = f"<pals-{n}@example.org>"
    message.set_content(f"Question {n} about visiting times on the children's ward.")
    return bytes(message)


def test_mailbox_resume_attachments_read_only_and_uidvalidity_change(
    kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    reference = nottingham_reference()

    with Dovecot() as server:

        def run(mailbox: str, name: str, source: str) -> None:
            config = MailboxConfig("127.0.0.1", server.port, server.user, server.password, mailbox, "plain")
            imap = ImapSource(config, reference, source=source, provider="RX1")
            asyncio.run(
                run_source(
                    imap,
                    bootstrap=kafka_bootstrap,
                    topic=topic,
                    options=RunOptions(name=name, data_dir=tmp_path, once=True, max_retries=0),
                )
            )

        for name in (
            "01-complaint-with-letter.eml",
            "02-pals-html.eml",
            "03-no-message-id-latin1.eml",
            "04-pdf-attachment.eml",
        ):
            server.append(eml(name))
        run("INBOX", "complaints", "complaint")
        cursor = CursorStore(tmp_path, "complaints").load()["position"]
        assert cursor["last_uid"] == 4
        server.append(eml("05-after-restart.eml"), internal_date="25-Nov-2026 14:02:30 +0000")
        run("INBOX", "complaints", "complaint")  # restart: only the new message
        run("INBOX", "complaints", "complaint")  # nothing new: nothing sent

        client = server.client()
        client.create('"PALS"')
        client.logout()
        server.append(pals_message(1), "PALS")
        run("PALS", "pals", "pals")
        first_validity = CursorStore(tmp_path, "pals").load()["position"]["uidvalidity"]
        # the mailbox is deleted and restored: the same message comes back with new UIDs
        client = server.client()
        client.delete('"PALS"')
        client.create('"PALS"')
        client.logout()
        server.append(pals_message(1), "PALS")
        server.append(pals_message(2), "PALS")
        run("PALS", "pals", "pals")
        second = CursorStore(tmp_path, "pals").load()["position"]

        client = server.client()
        client.select('"INBOX"', readonly=True)
        _, flags = client.uid("FETCH", "1:*", "(FLAGS)")
        client.logout()

    assert second["uidvalidity"] != first_validity and second["last_uid"] == 2
    assert all(b"\\Seen" not in item for item in flags)  # staff still see them as unread

    events = asyncio.run(read_topic(kafka_bootstrap, topic, expected=7))
    assert len(events) == 7 and len({e["event_id"] for e in events}) == 7
    complaints = [e for e in events if e["source"] == "complaint"]
    pals = [e for e in events if e["source"] == "pals"]
    assert len(complaints) == 5 and len(pals) == 2
    letter = complaints[0]
    assert letter["text"].startswith("Formal complaint - care of my father on Ward C23\n\nDear Sir or Madam")
    assert "parkinson's medication" in letter["text"]  # the text attachment, decoded from base64
    assert letter["attributes"] == {"mailbox": "INBOX", "text_attachments": "1"}
    assert letter["occurred_at"] == "2026-11-23T19:42:11.000Z"
    assert letter["received_at"] == "2026-11-24T10:00:00.000Z"  # INTERNALDATE
    assert (letter["provider"], letter["organisation"]) == ("RX1", "QT1")
    assert complaints[1]["text"].count("nobody can tell me") == 1  # plain part only, not the HTML twin
    assert "£12" in complaints[2]["text"] and complaints[2]["event_id"].startswith("email-raw:")
    assert "JVBER" not in complaints[3]["text"]  # the PDF is not text
    assert complaints[4]["text"].startswith("Complaint about discharge")
    # the letter's own words may name people (the stream redacts them); nothing else carries the sender
    outside_text = repr([{k: v for k, v in e.items() if k != "text"} for e in events])
    assert "@example" not in outside_text and "M. Example" not in outside_text and "Sam" not in outside_text


def test_wrong_password_is_a_configuration_error(kafka_bootstrap: str, tmp_path: Path) -> None:
    with Dovecot() as server:
        config = MailboxConfig("127.0.0.1", server.port, server.user, "wrong", "INBOX", "plain")
        with pytest.raises(ConnectorConfigError, match="login refused"):
            asyncio.run(
                run_source(
                    ImapSource(config, nottingham_reference()),
                    bootstrap=kafka_bootstrap,
                    topic="unused",
                    options=RunOptions(name="bad", data_dir=tmp_path, once=True, max_retries=2),
                )
            )
