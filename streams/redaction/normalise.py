"""The text the detectors read, and the way back to the text people read.

Evasion hides an identifier from ASCII-minded patterns without hiding it from a reader: digits
in another script or width ("０７７００", "٠٧٧٠٠"), invisible characters between digits (zero-width
space, soft hyphen, word joiner), no-break or thin spaces, Unicode dashes, letters outside ASCII
("Dr Łukasz Nowak"). The detectors therefore run on a *detection text* in which every such
character is folded to the plain ASCII one a reader would see, and each detection-text
character remembers the original character it came from. A span found in the detection text is
mapped back and replaced in the original, so the output keeps the writer's own spelling
everywhere except where a marker now stands (docs/redaction.md, "Normalisation").

Folding, per character outside ASCII (one pass, linear):

* format characters (category Cf: zero-width space/joiners, soft hyphen, word joiner, BOM) and
  combining marks are dropped;
* decimal digits of any script become 0-9; space separators become " "; line and paragraph
  separators become "\\n"; dashes become "-"; curly apostrophes become "'";
* anything whose compatibility form (NFKC) or accent-stripped form (NFKD without marks) is ASCII
  becomes that ("＠" → "@", "ﬁ" → "fi", "é" → "e");
* any other letter becomes "A" or "a" by its case, so "Ёлкина" still reads as a capitalised word;
* everything else is kept as it is.

ASCII text, the common case, is its own detection text and costs nothing.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

_DASHES: Final = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
_APOSTROPHES: Final = frozenset("\u2018\u2019\u201b\u02bc\u2032\uff07")


@lru_cache(maxsize=8192)
def fold(char: str) -> str:
    """The ASCII (or kept) text that one non-ASCII character stands for in the detection text."""
    category = unicodedata.category(char)
    if category in ("Cf", "Mn", "Me"):
        return ""
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    if char in _DASHES:
        return "-"
    if char in _APOSTROPHES:
        return "'"
    compatible = unicodedata.normalize("NFKC", char)
    if compatible.isascii():
        return compatible
    stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if stripped and stripped.isascii():
        return stripped
    if char.isalpha():
        return "A" if char.isupper() else "a"
    return char


@dataclass(frozen=True, slots=True)
class _Pieces:
    """Where each detection-text character came from, one entry per piece rather than per character.

    A piece is either a run copied from the original (each character maps to its own original
    index) or the output of one folded character (every character maps to that one index), so a
    letter of 4,000 characters with a few curly quotes needs a handful of entries, not 4,000.
    """

    starts: list[int]  # detection-text index where each piece begins (ascending)
    origins: list[int]  # original index of the piece's first character
    copied: list[bool]  # True: a copied run (index advances); False: one folded character

    def at(self, index: int) -> int:
        piece = bisect_right(self.starts, index) - 1
        offset = index - self.starts[piece]
        return self.origins[piece] + (offset if self.copied[piece] else 0)


@dataclass(frozen=True, slots=True)
class Normalised:
    """Detection text plus, for non-ASCII input, where each of its characters came from."""

    original: str
    text: str
    sources: _Pieces | None  # None: the detection text is the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the detection-text span ``[start, end)`` (``end > start``)."""
        if self.sources is None:
            return start, end
        return self.sources.at(start), self.sources.at(end - 1) + 1


def normalise(text: str) -> Normalised:
    """Fold ``text`` for detection in one linear pass (see the module docstring)."""
    if text.isascii():
        return Normalised(text, text, None)
    pieces: list[str] = []
    mapping = _Pieces([], [], [])
    length = 0

    def add(piece: str, origin: int, copied: bool) -> None:
        nonlocal length
        mapping.starts.append(length)
        mapping.origins.append(origin)
        mapping.copied.append(copied)
        pieces.append(piece)
        length += len(piece)

    # one byte per character, "?" for each character outside ASCII: a search for "?" in C finds
    # them (and the text's own question marks, skipped) far faster than a pattern over the text
    marked = text.encode("ascii", "replace")
    done = 0
    index = marked.find(b"?")
    while index >= 0:
        char = text[index]
        if char != "?":
            if index > done:
                add(text[done:index], done, True)
            folded = fold(char)
            if (
                len(folded) == 1
                and mapping.copied
                and mapping.copied[-1]
                and (mapping.origins[-1] + length - mapping.starts[-1] == index)
            ):
                pieces.append(folded)  # one character for one: extends the copied run before it
                length += 1
            elif folded:
                add(folded, index, len(folded) == 1)
            done = index + 1
        index = marked.find(b"?", index + 1)
    if done < len(text):
        add(text[done:], done, True)
    return Normalised(text, "".join(pieces), mapping)
