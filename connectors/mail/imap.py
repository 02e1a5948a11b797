"""`pxstream connect imap`: complaint letters and PALS emails from an IMAP mailbox.

Why the standard library's `imaplib`, run in a worker thread: a complaints mailbox receives tens of
messages a day, so a blocking client off the event loop costs nothing measurable, and imaplib is
maintained with CPython, speaks IMAP4rev1 completely (UID SEARCH/FETCH, STARTTLS, IMAPS) and adds
no dependency; `aioimaplib` would add one for concurrency this connector does not need.

New messages only: the cursor is (UIDVALIDITY, last UID). Each pass EXAMINEs the mailbox
(read-only: nothing is marked \\Seen, staff reading the mailbox see it unchanged) and fetches
`UID last+1:*` with BODY.PEEK, in chunks; the cursor advances per chunk after Kafka acknowledged.
`--skip-existing` makes a first run start after the messages already there.

UIDVALIDITY change (the mailbox was recreated, restored or migrated, so old UIDs mean nothing):
the connector logs a warning and reads the whole mailbox again from UID 1. Messages already sent
carry the same `event_id` (from their Message-ID), so the run loop's recent-id window drops them
and every later stage collapses any that fall outside it; nothing is skipped.

Mapping: Subject + body become `text` (text/plain preferred, HTML reduced to text), and text
attachments (text/*, e.g. a typed letter saved as .txt) are appended to the same event — one
complaint is one event however it was packaged, so hotspot counts are not doubled. Sender and
recipient addresses, names and attachment file names are never put in an event. `event_id` is a
hash of the Message-ID (or of the whole message when it has none); `occurred_at` is the Date
header, `received_at` the server's INTERNALDATE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import email.utils
import hashlib
import imaplib
import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from connectors.exceptions import ConnectorConfigError, SourceUnavailable
from connectors.mapping import ReferenceLike, clip, iso_utc, placement, strip_html
from connectors.runtime import Batch, Source

log = logging.getLogger(__name__)

SOURCES = ("complaint", "pals", "mp_letter")
SECURITY = ("ssl", "starttls", "plain")
PASSWORD_ENV = "IMAP_PASSWORD"  # the default variable of the password (`password_env` names another)
FETCH_CHUNK = 50
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UID = re.compile(rb"UID (\d+)")


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    user: str
    password: str
    mailbox: str = "INBOX"
    security: str = "ssl"  # plain is for loopback test servers only


def _decode_part(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    return content if isinstance(content, str) else ""


def message_text(message: EmailMessage) -> tuple[str, int]:
    """(Subject + body + text attachments, number of text attachments included)."""
    subject = str(message.get("Subject") or "").strip()
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        body = _decode_part(body_part)  # type: ignore[arg-type]
        if body_part.get_content_subtype() == "html":
            body = strip_html(body)
    attachments = []
    for part in message.iter_attachments():
        if part.get_content_maintype() == "text":
            content = _decode_part(part)  # type: ignore[arg-type]
            if part.get_content_subtype() == "html":
                content = strip_html(content)
            if content.strip():
                attachments.append(content.strip())
    pieces = [piece for piece in (subject, body.strip(), *attachments) if piece]
    return "\n\n".join(pieces).replace("\r\n", "\n"), len(attachments)


def message_event_id(message: EmailMessage, raw: bytes) -> str:
    message_id = str(message.get("Message-ID") or "").strip().strip("<>").strip()
    basis = message_id.encode("utf-8") if message_id else raw
    prefix = "email" if message_id else "email-raw"
    return f"{prefix}:{hashlib.sha256(basis).hexdigest()[:40]}"


def map_message(
    raw: bytes,
    internal_date: str | None,
    *,
    source: str,
    mailbox: str,
    provider: str | None,
    reference: ReferenceLike,
) -> dict[str, Any] | None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, attachment_count = message_text(message)
    if not text:
        return None
    if provider:
        fields = placement(reference.get(provider), provider)
    else:
        named = reference.mentions(text)
        fields = placement(named[0]) if named else {}
    received = _internal_date(internal_date)
    occurred = None
    if message.get("Date"):
        try:
            occurred = iso_utc(email.utils.parsedate_to_datetime(str(message["Date"])))
        except (TypeError, ValueError):
            occurred = None
    attributes = {"mailbox": mailbox}
    if attachment_count:
        attributes["text_attachments"] = str(attachment_count)
    event: dict[str, Any] = {
        "event_id": message_event_id(message, raw),
        "source": source,
        "occurred_at": occurred or received or iso_utc(datetime.now(UTC)),
        "text": clip(text),
        **fields,
        "attributes": attributes,
    }
    if received:
        event["received_at"] = received
    return event


def _internal_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return iso_utc(datetime.strptime(value, "%d-%b-%Y %H:%M:%S %z"))
    except ValueError:
        return None


class ImapSession:
    """The blocking IMAP conversation; every method runs in a worker thread."""

    def __init__(self, config: MailboxConfig, timeout_s: float = 60.0) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self.client: imaplib.IMAP4 | None = None

    @property
    def where(self) -> str:
        return f"imap {self.config.user}@{self.config.host}:{self.config.port}/{self.config.mailbox}"

    def open(self) -> int:
        """Connect, log in, EXAMINE the mailbox; returns its UIDVALIDITY."""
        config = self.config
        try:
            if config.security == "ssl":
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    config.host, config.port, ssl_context=ssl.create_default_context(), timeout=self.timeout_s
                )
            else:
                client = imaplib.IMAP4(config.host, config.port, timeout=self.timeout_s)
                if config.security == "starttls":
                    client.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceUnavailable(f"{self.where}: cannot connect ({exc})") from exc
        self.client = client
        try:
            client.login(config.user, config.password)
        except imaplib.IMAP4.error as exc:
            raise ConnectorConfigError(
                f"{self.where}: login refused ({_text(exc)}); check user and password"
            ) from exc
        status, _ = client.select(_quote(config.mailbox), readonly=True)
        if status != "OK":
            raise ConnectorConfigError(f"{self.where}: no such mailbox")
        _, values = client.response("UIDVALIDITY")
        if not values or values[0] is None:
            raise SourceUnavailable(f"{self.where}: the server did not report UIDVALIDITY")
        return int(values[0])

    def uids_after(self, last_uid: int) -> list[int]:
        assert self.client is not None
        status, data = self.client.uid("SEARCH", None, f"UID {last_uid + 1}:*")
        if status != "OK":
            raise SourceUnavailable(f"{self.where}: UID SEARCH failed")
        # "n:*" always matches the newest message, even when its UID is below n
        return sorted(uid for uid in (int(x) for x in (data[0] or b"").split()) if uid > last_uid)

    def highest_uid(self) -> int:
        assert self.client is not None
        status, data = self.client.uid("SEARCH", None, "ALL")
        uids = [int(x) for x in (data[0] or b"").split()] if status == "OK" else []
        return max(uids, default=0)

    def fetch(self, uids: list[int]) -> list[tuple[int, bytes, str | None]]:
        assert self.client is not None
        wanted = ",".join(str(uid) for uid in uids)
        status, data = self.client.uid("FETCH", wanted, "(UID INTERNALDATE BODY.PEEK[])")
        if status != "OK":
            raise SourceUnavailable(f"{self.where}: UID FETCH failed")
        messages = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            header, raw = item
            uid_match, date_match = _UID.search(header), _INTERNALDATE.search(header)
            if uid_match is None:
                continue
            messages.append(
                (int(uid_match.group(1)), raw, date_match.group(1).decode() if date_match else None)
            )
        return sorted(messages)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self.client.logout()
            self.client = None


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else exc
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class ImapSource(Source):
    kind = "imap"

    def __init__(
        self,
        config: MailboxConfig,
        reference: ReferenceLike,
        *,
        source: str = "complaint",
        provider: str | None = None,
        skip_existing: bool = False,
        poll_interval_s: float = 60.0,
    ) -> None:
        if source not in SOURCES:
            raise ConnectorConfigError(f"imap: --source must be one of {', '.join(SOURCES)}, got {source!r}")
        if config.security not in SECURITY:
            raise ConnectorConfigError(f"imap: --security must be one of {', '.join(SECURITY)}")
        if config.security == "plain" and config.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectorConfigError(
                f"imap: refusing to send a password in clear text to {config.host}; use ssl or starttls"
            )
        if not config.user or not config.password:
            raise ConnectorConfigError("imap: user and password are required (password from IMAP_PASSWORD)")
        if not 0 < config.port < 65536:
            raise ConnectorConfigError(f"imap: port {config.port} is out of range")
        self.config = config
        self.reference = reference
        self.source = source
        self.provider = provider
        self.skip_existing = skip_existing
        self.poll_interval_s = poll_interval_s

    def describe(self, cursor: dict[str, Any]) -> str:
        return f"{self.config.mailbox} after UID {cursor.get('last_uid', 0)}"

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        session = ImapSession(self.config)
        try:
            uidvalidity = await asyncio.to_thread(session.open)
            last_uid = int(cursor.get("last_uid", 0))
            if cursor and cursor.get("uidvalidity") != uidvalidity:
                log.warning(
                    "%s: UIDVALIDITY changed from %s to %s (mailbox recreated or restored); reading it "
                    "again from the start, already-sent messages are dropped by their Message-ID",
                    session.where,
                    cursor.get("uidvalidity"),
                    uidvalidity,
                )
                last_uid = 0
            elif not cursor and self.skip_existing:
                last_uid = await asyncio.to_thread(session.highest_uid)
                yield Batch([], cursor={"uidvalidity": uidvalidity, "last_uid": last_uid})
                return
            uids = await asyncio.to_thread(session.uids_after, last_uid)
            for start in range(0, len(uids), FETCH_CHUNK):
                chunk = await asyncio.to_thread(session.fetch, uids[start : start + FETCH_CHUNK])
                events = []
                for _uid, raw, internal_date in chunk:
                    event = map_message(
                        raw,
                        internal_date,
                        source=self.source,
                        mailbox=self.config.mailbox,
                        provider=self.provider,
                        reference=self.reference,
                    )
                    if event is not None:
                        events.append(event)
                newest = max((uid for uid, _, _ in chunk), default=uids[start + len(chunk) - 1])
                yield Batch(events, cursor={"uidvalidity": uidvalidity, "last_uid": newest})
            if not uids and cursor.get("uidvalidity") != uidvalidity:
                yield Batch([], cursor={"uidvalidity": uidvalidity, "last_uid": last_uid})
        except imaplib.IMAP4.abort as exc:
            raise SourceUnavailable(f"{session.where}: connection lost ({_text(exc)})") from exc
        except imaplib.IMAP4.error as exc:
            raise SourceUnavailable(f"{session.where}: {_text(exc)}") from exc
        finally:
            await asyncio.to_thread(session.close)


def build_source(
    options: dict[str, Any], reference: ReferenceLike, secret: Callable[[str], str]
) -> ImapSource:
    """From the YAML runner; `secret` reads the variable `password_env` names (`Settings.secret`)."""
    security = str(options.get("security", "ssl"))
    config = MailboxConfig(
        host=str(options.get("host", "")),
        port=int(options.get("port", 993 if security == "ssl" else 143)),
        user=str(options.get("user", "")),
        password=secret(str(options.get("password_env", PASSWORD_ENV))),
        mailbox=str(options.get("mailbox", "INBOX")),
        security=security,
    )
    return ImapSource(
        config,
        reference,
        source=str(options.get("source", "complaint")),
        provider=options.get("provider"),
        skip_existing=bool(options.get("skip_existing", False)),
        poll_interval_s=float(options.get("poll_interval_s", 60)),
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser("imap", help="complaint letters / PALS emails from an IMAP mailbox")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, help="default 993 (ssl) or 143 (starttls, plain)")
    parser.add_argument("--security", choices=SECURITY, default="ssl", help="ssl (default), starttls, plain")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", help="file holding the password (default $IMAP_PASSWORD)")
    parser.add_argument("--mailbox", default="INBOX")
    parser.add_argument(
        "--source", choices=SOURCES, default="complaint", help="event source (default complaint)"
    )
    parser.add_argument("--provider", help="ODS code of the organisation this mailbox belongs to")
    parser.add_argument(
        "--skip-existing", action="store_true", help="first run: only messages arriving from now"
    )
    parser.add_argument("--reference", help="reference data directory (ODS files)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between polls (default 60)")
    add_run_arguments(parser, "imap")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.command_line import load_reference, run_source_from_args
    from connectors.reviews.careopinion import read_key

    config = MailboxConfig(
        host=args.host,
        port=args.port or (993 if args.security == "ssl" else 143),
        user=args.user,
        password=read_key(args.settings, PASSWORD_ENV, args.password_file),
        mailbox=args.mailbox,
        security=args.security,
    )
    source = ImapSource(
        config,
        load_reference(Path(args.reference) if args.reference else None),
        source=args.source,
        provider=args.provider,
        skip_existing=args.skip_existing,
        poll_interval_s=args.interval,
    )
    return run_source_from_args(args, source)
