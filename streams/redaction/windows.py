"""Run a bounded pattern only near what every one of its matches must contain.

A full scan of a 4,000-character letter costs Python's engine tens of microseconds per pattern,
whether or not anything is there; a letter went through about twenty such scans. Yet every match
of most patterns holds something rare: a digit (dates of birth, hospital numbers, postcodes,
addresses) or a cue word (the title in "Dr Smith", the "Yours sincerely" of a sign-off). Since
every pattern of this package is bounded (patterns.py), a match is at most ``width`` characters
long, so it can only start within ``width`` characters before such an anchor. ``finditer_near``
scans just those stretches and gives exactly the matches ``pattern.finditer(text)`` gives
(tests/unit/test_redaction_windows.py compares the two on every text of the benchmark):

* an attempt at one position reads at most ``reach`` characters to its right (the widest match
  plus its look-aheads), so a scan bounded at ``end + reach`` decides every start before ``end``
  exactly as a scan of the whole text would; look-behinds and ``\\b`` see the real text before a
  window, because ``pos`` does not cut the string the way a slice would;
* starts outside every window cannot match (no anchor within reach), and a window resumes after
  the last match of the window before it, as ``finditer`` does.

Each window is scanned once, and windows never overlap, so the cost is linear in the text.
"""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parser
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

Window = tuple[int, int]


def _nodes(tree: Any) -> Iterator[tuple[Any, Any]]:
    """Every (op, argument) of a parsed pattern, nested ones included."""
    for op, av in tree.data if isinstance(tree, sre_parser.SubPattern) else tree:
        yield op, av
        for item in av if isinstance(av, (tuple, list)) else ():
            if isinstance(item, sre_parser.SubPattern):
                yield from _nodes(item)
            elif isinstance(item, (tuple, list)):
                for sub in item:
                    if isinstance(sub, sre_parser.SubPattern):
                        yield from _nodes(sub)


def _widest(tree: Any) -> int:
    low, high = tree.getwidth()
    if high >= sre_constants.MAXREPEAT - 1 or low == 0:
        raise ValueError("only bounded patterns that cannot match empty text can be scanned by window")
    return high


@dataclass(frozen=True, slots=True)
class Bounds:
    """How far one attempt of a pattern reads, and how far its cue group sits from its start."""

    width: int  # the longest match
    reach: int  # characters one attempt may read from its start: the widest match plus look-aheads
    lead: int  # the longest stretch from the match start to the end of the cue group (or ``width``)


@cache
def bounds(pattern: re.Pattern[str], cue_group: str | None = None) -> Bounds:
    """The bounds of ``pattern``, read from its parsed form (so a new pattern cannot get them wrong)."""
    tree = sre_parser.parse(pattern.pattern, pattern.flags)
    width = _widest(tree)
    look_ahead = 1  # a \b or a look-ahead right after the last character reads one more
    for op, av in _nodes(tree):
        if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and av[0] == 1:
            look_ahead += av[1].getwidth()[1]
    lead = width
    if cue_group is not None:
        group = pattern.groupindex[cue_group]
        for op, av in _nodes(tree):
            if op is sre_constants.SUBPATTERN and av[0] == group:
                lead = _lead_to_group_end(tree, group)
                break
    return Bounds(width, width + look_ahead, lead)


def _lead_to_group_end(tree: Any, group: int) -> int:
    """The widest stretch from the match start to the end of ``group``: everything before the
    group and the group itself, summed. The group must lie on the pattern's first path: on its
    top level or inside groups on it (not inside a repeat or an alternative), since only then
    does every match pass through it after exactly those nodes.
    """
    lead = _lead_in(tree.data, tree.state, group)
    if lead is None:
        raise ValueError(f"group {group} is not on the first path of the pattern")
    return lead


def _lead_in(items: list, state: Any, group: int) -> int | None:
    total = 0
    for op, av in items:
        if op is sre_constants.SUBPATTERN:
            if av[0] == group:
                return total + sre_parser.SubPattern(state, [(op, av)]).getwidth()[1]
            inner = _lead_in(av[-1].data, state, group)
            if inner is not None:
                return total + inner
        total += sre_parser.SubPattern(state, [(op, av)]).getwidth()[1]
    return None


def merge(windows: Iterable[Window], length: int) -> list[Window]:
    """Sorted, clipped to the text, overlapping or touching windows joined."""
    merged: list[Window] = []
    for start, end in sorted(windows):
        start, end = max(0, start), min(length, end)
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def finditer_near(
    pattern: re.Pattern[str], text: str, starts: list[Window], reach: int
) -> Iterator[re.Match[str]]:
    """The matches of ``pattern.finditer(text)`` that start inside ``starts`` (merged windows).

    ``starts`` must hold every position where a match can start; ``reach`` is ``bounds().reach``.
    """
    resume = 0
    length = len(text)
    for first, stop in starts:
        position = max(first, resume)
        if position >= stop:
            continue
        for match in pattern.finditer(text, position, min(length, stop + reach)):
            if match.start() >= stop:
                break
            resume = match.end()
            yield match


def around(anchors: Iterable[Window], before: int) -> Iterator[Window]:
    """Where a match can start when it holds an anchor ``[a, b)`` within ``before`` of its start."""
    for start, end in anchors:
        yield start - before, end


def match_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """The matches of ``pattern.finditer(text)``, trying only ``starts`` (sorted).

    ``starts`` must hold every position where a match can start: ``finditer`` yields the first
    position at or after the end of its last match where the pattern matches, and so does this.
    """
    resume = 0
    for start in starts:
        if start < resume:
            continue
        match = pattern.match(text, start)
        if match is not None and match.end() > start:
            resume = match.end()
            yield match
