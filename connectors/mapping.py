"""Small mapping helpers that several source connectors share (placement, text clean-up, ids).

Kept apart from the run loop because they are pure functions over one record, tested on their own.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, Protocol

from schemas.feedback_event import format_timestamp

TEXT_LIMIT = 100_000  # FeedbackEvent v1 `text` maximum
ID_LIMIT = 128  # FeedbackEvent v1 `event_id` maximum


class OrganisationLike(Protocol):
    code: str
    kind: str
    commissioner: str | None
    parent: str | None


class ReferenceLike(Protocol):
    def get(self, code: str) -> Any: ...
    def resolve(self, name: str) -> Any: ...
    def mentions(self, text: str) -> list[Any]: ...


def placement(org: OrganisationLike | None, code: str | None = None) -> dict[str, str]:
    """provider / site / organisation fields for an organisation from the reference data.

    A site is reported under its parent trust (`provider`) with the site code in `site`, so a
    trust's windows count all of its sites. An unknown code still names the provider, because an
    ODS code from the source is better than nothing and the stream may enrich it later.
    """
    if org is None:
        return {"provider": code} if code else {}
    fields: dict[str, str] = {}
    if org.kind == "site" and org.parent:
        fields["provider"] = org.parent
        fields["site"] = org.code
    else:
        fields["provider"] = org.code
    if org.commissioner:
        fields["organisation"] = org.commissioner
    return fields


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"p", "br", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS and self.parts:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(markup: str) -> str:
    """Visible text of an HTML fragment (Mastodon content, RSS descriptions), paragraphs kept."""
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """Long letters are cut at the schema limit rather than refused; the cut is marked."""
    if len(text) <= limit:
        return text
    marker = "\n[… truncated by pxstream]"
    return text[: limit - len(marker)] + marker


def source_id(prefix: str, native_id: str) -> str:
    """`prefix:native id`, hashed when it would exceed the schema's 128 characters."""
    candidate = f"{prefix}:{native_id}"
    if len(candidate) <= ID_LIMIT:
        return candidate
    return f"{prefix}:sha256:{hashlib.sha256(native_id.encode('utf-8')).hexdigest()}"


def text_fingerprint(*parts: str) -> str:
    """A short hash of text normalised for syndication noise (case, accents, punctuation, spaces).

    Two copies of one story (Care Opinion and its syndicated NHS.UK copy) hash the same even when
    the copy has different whitespace, smart quotes or Markdown emphasis.
    """
    joined = " ".join(parts)
    folded = unicodedata.normalize("NFKD", html.unescape(joined)).casefold()
    words = re.findall(r"[a-z0-9]+", folded)
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:24]


def iso_utc(value: str | datetime | None) -> str | None:
    """Any ISO 8601 or RFC 2822 date as UTC `Z`; naive times are UTC (the sources document UTC)."""
    if value is None or value == "":
        return None
    moment: datetime
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                moment = parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)
