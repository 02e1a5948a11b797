"""Personal names: found by their cues, since a name on its own looks like any capitalised word.

Cues, strongest first: a title ("Dr Smith", "Dr.Smith", "dr smith", "DR.SMITH"), a role word
("Sister Jones", "Staff Nurse Okafor", "Consultant Mr Reid"), a self-introduction ("my name is",
"I am Sarah"), a relative ("my husband John"), a sign-off ("Yours sincerely,\\n John Smith"),
and a list of common first names. A name is up to three words, each capitalised, in capitals,
an initial, or with a prefix (McDonald, MacLeod, O'Connor, D'Souza, van der Berg, de la Cruz,
al-Hassan); letters outside ASCII reach these patterns already folded (normalise.py), so
"Dr Łukasz Nowak" reads as "Dr Aukasz Nowak". The run stops at the first ordinary word
(wordlists.NOT_NAMES), so "Nurse Led Clinic" and "I am Deaf" keep their words.

Every pattern is bounded (see patterns.py), and each returns spans of the detection text
covering only the name, never its cue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Final

from streams.redaction import wordlists as w
from streams.redaction.windows import match_at
from streams.redaction.wordlists import word_set

Span = tuple[str, int, int]

# --- one name word, and a run of up to three ------------------------------------------------
_CAP = (
    r"(?:(?:Mc|Mac|Fitz)[A-Z][a-z]{1,20}+|[ODL]'(?:[A-Z][a-z]{1,20}+|[A-Z]{2,20}+)|[A-Z][a-z]{1,24}+"
    r"|[A-Z]{2,24}+)"
)
_PARTICLE = r"(?:(?:van|von|de|del|della|der|den|du|da|di|la|le|ap|ab|bin|ibn|al|el|ter|ten)[ \t-]{1,2}){0,3}"
_WORD = r"(?:" + _PARTICLE + _CAP + r"(?:-" + _CAP + r"){0,2}|[A-Z]\.?)"
# the run ends at a word boundary; a possessive "'s" may follow ("Nurse Jones's care")
_RUN = r"(?P<name>" + _WORD + r"(?:[ \t]{1,2}" + _WORD + r"){0,2})(?![A-Za-z])(?!'[A-Za-z]{2})"

_TITLES = r"Mrs|Mr|Ms|Miss|Mx|Dr|Prof|Mister|Doctor|Professor|Sir|Dame|Rev|Reverend|Father|Lady|Lord"
# Each cue pattern starts with a look-ahead naming its possible first letters: the engine then
# skips every other position without entering the pattern (several times faster on letters).
TITLE_NAME: Final = re.compile(
    r"(?=[MDPSRFL])\b(?P<title>(?:"
    + _TITLES
    + r"|"
    + _TITLES.upper()
    + r")(?:\.[ \t]{0,2}|[ \t]{1,2}))"
    + _RUN
)
_ROLES = (
    r"(?:(?:Staff|Charge|Senior|Ward|Theatre|Student|Community|District|Specialist|Head|Deputy)[ \t]{1,2})?"
    r"(?:Nurse[ \t]{1,2}Practitioner|Ward[ \t]{1,2}Manager|Healthcare[ \t]{1,2}Assistant"
    r"|Health[ \t]{1,2}Visitor"
    r"|Nurse|Sister|Matron|Midwife|Surgeon|Consultant|Paramedic|Receptionist|Manager|Physio"
    r"|Physiotherapist|Pharmacist|Porter|Registrar|Therapist|Doctor|HCA|SHO)"
)
ROLE_NAME: Final = re.compile(
    r"(?=[SCWTDHNMPR])\b(?P<title>" + _ROLES + r"[ \t]{1,2}(?:(?:Mrs|Mr|Ms|Miss|Dr)\.?[ \t]{1,2})?)" + _RUN
)
# A lower-case title is still a title: "dr smith", "mrs.jones", "dr. a. kowalski".
LOWER_TITLE_NAME: Final = re.compile(
    r"(?=[MmDdPp])\b(?P<title>(?:[Mm][Rr][Ss]?|[Mm][Ss]|[Dd][Rr]|[Pp]rof|[Mm]x)(?:\.[ \t]{0,2}|[ \t]{1,2}))"
    r"(?P<name>(?:[a-z]\.[ \t]{0,2})?(?:mc|mac|o'|d')?[a-z]{2,24}+(?:-[a-z]{2,24}+)?)(?![A-Za-z'])"
)
# Words before a lower-case "ms" or "dr" that make it something else ("my ms flares up").
_NOT_TITLE_BEFORE: Final = re.compile(
    r"(?i)(?=[mhtywo])\b(?:my|his|her|their|your|our|with|have|has|had|of)\s{1,2}$"
)
# After a lower-case role word only a known surname is taken: "doctor evans", not "doctor explained".
LOWER_ROLE_NAME: Final = re.compile(
    r"(?=[dnsmc])\b(?P<title>(?:doctor|nurse|sister|matron|midwife|consultant|surgeon)[ \t]{1,2})"
    r"(?P<name>[a-z'’]{2,24}+)"
    r"(?![A-Za-z])"
)
SELF_INTRO: Final = re.compile(
    r"(?=[MmNnPpSs])(?P<title>\b(?:[Mm]y[ \t]{1,2}name[ \t]{1,2}is|MY[ \t]{1,2}NAME[ \t]{1,2}IS"
    r"|[Nn]ame[ \t]{0,2}:"
    r"|[Pp]atient[ \t]{1,2}name[ \t]{0,2}:?|[Ss]igned[ \t]{0,2}:?)[ \t]{1,3})"
    r"(?P<name>[A-Za-z][A-Za-z'-]{0,24}+(?:[ \t]{1,2}[A-Za-z][A-Za-z'-]{0,24}+){0,2})"
)
I_AM: Final = re.compile(r"(?=I)(?P<title>\b(?:I[ \t]{1,2}am|I'm|Im)[ \t]{1,2})" + _RUN)
RELATIVE: Final = re.compile(
    r"(?=[Mm])(?P<title>\b[Mm]y[ \t]{1,2}(?:husband|wife|son|daughter|mum|mom|mother|dad|father|partner|"
    r"brother|"
    r"sister|grandson|granddaughter|grandmother|grandfather|nan|nana|gran|grandad|grandpa|grandma|"
    r"baby|child|uncle|aunt|auntie|friend|neighbour|carer|niece|nephew|fiancee?|boyfriend|girlfriend)"
    r",?[ \t]{1,2})" + _RUN
)
SIGN_OFF: Final = re.compile(
    r"(?=[YyKkBbWwMmRrTtCcLlFfSs])(?P<title>\b(?:[Yy]ours[ \t]{1,2}(?:sincerely|faithfully|truly)"
    r"|YOURS[ \t]{1,2}(?:SINCERELY|FAITHFULLY)"
    r"|(?:[Kk]ind|[Bb]est|[Ww]arm|[Mm]any)[ \t]{1,2}(?:regards|wishes|thanks)|[Rr]egards|[Bb]est|[Tt]hanks"
    r"|[Tt]hank[ \t]{1,2}you|[Cc]heers|[Ll]ove|[Ff]rom|[Ss]igned)"
    r"[ \t]{0,4}(?:[,.\-][ \t]{0,4}(?:\r?\n[ \t]{0,8}){0,4}|(?:\r?\n[ \t]{0,8}){1,4}))" + _RUN
)
# Cues where a following capitalised word is not a name without the comma or line break.
SIGN_OFF_WEAK: Final = frozenset({"best", "thanks", "thank you", "cheers", "love", "from", "signed"})
_CAPITALISED: Final = re.compile(
    r"(?=[A-Z])(?<![\w\['-])(?P<name>[A-Z][a-z]{1,15}+"
    r"(?:[ \t](?:[A-Z][a-z]?'[A-Z][a-z]{1,20}+|[A-Z][a-z]{1,24}+"
    r"(?:-[A-Z][a-z]{1,24}+)?))?)(?![\w'])"
)


def _name_words(run: str) -> list[str]:
    """The leading words of ``run`` that can be a name (stop at the first ordinary word)."""
    words: list[str] = []
    for word in run.split():
        is_initial = len(word) == 2 and word.endswith(".")
        if not is_initial and word.rstrip(".").lower() in w.NOT_NAMES:
            break
        words.append(word)
    return words


def _followed_by(text: str, end: int, words: frozenset[str]) -> bool:
    following = text[end : end + 30].split(None, 1)
    return bool(following) and following[0].strip(".,;:!?'s").lower() in words


def _followed_by_place(text: str, end: int) -> bool:
    return _followed_by(text, end, w.PLACE_WORDS)


def _run_span(match: re.Match[str], text: str) -> Span | None:
    """The span of the name words at the start of the match's run, or None when there are none."""
    run = match.group("name")
    words = _name_words(run)
    if not words:
        return None
    start = match.start("name")
    end = start
    for word in words:
        end = run.index(word, end - start) + len(word) + start
    if _followed_by_place(text, end) and len(words) == len(run.split()):
        return None  # "Sister Dora Ward", "Nurse Cavell Unit": a place named after someone
    if _followed_by(text, end, w.SERVICE_WORDS):
        return None  # "Nurse Specialist Clinic", "Midwife Led Unit": a service, not a person
    return ("name", start, end)


def _title(match: re.Match[str], text: str) -> Span | None:
    return _run_span(match, text)


def _lower_title(match: re.Match[str], text: str) -> Span | None:
    name = match.group("name")
    title = match.group("title").strip(" .\t").lower()
    if name.split(".")[-1].strip().lower() in w.NOT_NAMES:
        return None
    if title in ("ms", "dr") and _NOT_TITLE_BEFORE.search(text, max(0, match.start() - 12), match.start()):
        return None
    return ("name", match.start("name"), match.end("name"))


def _lower_role(match: re.Match[str], text: str) -> Span | None:
    if match.group("name").replace("’", "'").lower() not in w.SURNAMES:
        return None
    return ("name", match.start("name"), match.end("name"))


def _self_intro(match: re.Match[str], text: str) -> Span | None:
    return _run_span(match, text)


def _i_am(match: re.Match[str], text: str) -> Span | None:
    # "I am Deaf", "I am Autistic": only a known first name or a two-word name is taken.
    words = _name_words(match.group("name"))
    if not words or (words[0] not in w.FIRST_NAMES and len(words) < 2):
        return None
    return _run_span(match, text)


def _sign_off(match: re.Match[str], text: str) -> Span | None:
    cue = " ".join(match.group("title").strip().rstrip(",.-").split()).lower()
    weak = cue in SIGN_OFF_WEAK
    if weak and "," not in match.group("title") and "\n" not in match.group("title"):
        return None
    span = _run_span(match, text)
    if span is None or not weak:
        return span
    # "Thanks, Great service" is not a sign-off: a weak cue's name must end the line or clause.
    rest = text[span[2] : span[2] + 1]
    if len(_name_words(match.group("name"))) == len(match.group("name").split()) and rest not in (
        "",
        "\n",
        "\r",
        ",",
        ".",
        "!",
    ):
        return None
    return span


_TITLE_WORDS: Final = word_set(
    "mrs mr ms miss mx dr prof mister doctor professor sir dame rev reverend father lady lord"
)
_ROLE_WORDS: Final = word_set(
    "nurse practitioner manager assistant visitor sister matron midwife surgeon consultant paramedic "
    "receptionist physio physiotherapist pharmacist porter registrar therapist doctor hca sho"
)
_LOWER_ROLE_WORDS: Final = word_set("doctor nurse sister matron midwife consultant surgeon")
_INTRO_WORDS: Final = word_set("name signed")
_I_AM_WORDS: Final = word_set("am i'm im")
_SIGN_OFF_WORDS: Final = word_set("yours regards wishes thanks thank cheers love from signed best")
_RELATIVE_WORDS: Final = word_set(
    "husband wife son daughter mum mom mother dad father partner brother sister grandson granddaughter "
    "grandmother grandfather nan nana gran grandad grandpa grandma baby child uncle aunt auntie friend "
    "neighbour carer niece nephew fiancee fiance boyfriend girlfriend"
)
_FIRST_NAMES_LOWER: Final = frozenset(name.lower() for name in w.FIRST_NAMES)

_Decide = Callable[[re.Match[str], str], Span | None]
# Where each cue pattern can start: (whole word that must be in the text, the lower-case literals a
# match starts with). Every match starts with one of these words ("Dr", "Staff Nurse", "Kind
# regards", "my husband", "I'm"), so the pattern is tried only where one occurs (windows.py)
# instead of at every position of the text; tests/unit/test_redaction_windows.py checks that
# the matches are the same as a scan of the whole text.
_Starts = tuple[tuple[str, tuple[bytes, ...]], ...]


def _each(words: str) -> _Starts:
    return tuple((word, (word.encode(),)) for word in words.split())


_TITLE_STARTS: Final = _each(
    "mrs mr ms miss mx dr prof mister doctor professor sir dame rev reverend father lady lord"
)
_ROLE_STARTS: Final = _each(
    "staff charge senior ward theatre student community district specialist head deputy nurse "
    "healthcare health sister matron midwife surgeon consultant paramedic receptionist manager physio "
    "physiotherapist pharmacist porter registrar therapist doctor hca sho"
)
_LOWER_TITLE_STARTS: Final = _each("mrs mr ms dr prof mx")
_LOWER_ROLE_STARTS: Final = _each("doctor nurse sister matron midwife consultant surgeon")
_INTRO_STARTS: Final = _each("my name patient signed")
_I_AM_STARTS: Final = (("i", (b"i ", b"i\t", b"i'm")), ("i'm", (b"i'm",)), ("im", (b"im",)))
_RELATIVE_STARTS: Final = _each("my")
_SIGN_OFF_STARTS: Final = _each("yours kind best warm many regards thanks thank cheers love from signed")
_ALL_START_WORDS: Final = frozenset(
    word
    for starts in (
        _TITLE_STARTS,
        _ROLE_STARTS,
        _LOWER_TITLE_STARTS,
        _LOWER_ROLE_STARTS,
        _INTRO_STARTS,
        _I_AM_STARTS,
        _RELATIVE_STARTS,
        _SIGN_OFF_STARTS,
    )
    for word, _ in starts
)
# (pattern, decision, words of which the text must have one for the pattern to be worth running,
#  where its matches can start)
_CUES: Final[tuple[tuple[re.Pattern[str], _Decide, frozenset[str], _Starts], ...]] = (
    (TITLE_NAME, _title, _TITLE_WORDS, _TITLE_STARTS),
    (ROLE_NAME, _title, _ROLE_WORDS, _ROLE_STARTS),
    (LOWER_TITLE_NAME, _lower_title, _TITLE_WORDS, _LOWER_TITLE_STARTS),
    (LOWER_ROLE_NAME, _lower_role, _LOWER_ROLE_WORDS, _LOWER_ROLE_STARTS),
    (SELF_INTRO, _self_intro, _INTRO_WORDS, _INTRO_STARTS),
    (I_AM, _i_am, _I_AM_WORDS, _I_AM_STARTS),
    (RELATIVE, _title, _RELATIVE_WORDS, _RELATIVE_STARTS),
    (SIGN_OFF, _sign_off, _SIGN_OFF_WORDS, _SIGN_OFF_STARTS),
)


# A text with none of these has no cue for any pattern above.
_ANY_CUE_WORD: Final = frozenset().union(*(cue for _, _, cue, _ in _CUES))

# Every word a gate of this module asks about: the redactor keeps only these of a text's words.
GATE_WORDS: Final = frozenset().union(_FIRST_NAMES_LOWER, _ALL_START_WORDS, *(cue for _, _, cue, _ in _CUES))


def _start_words(words: frozenset[str]) -> frozenset[str]:
    """The cue words the text holds (a small set, not a copy of every word of a letter)."""
    return _ALL_START_WORDS.intersection(words)


@cache
def _literals_by_word(starts: _Starts) -> dict[str, tuple[bytes, ...]]:
    return dict(starts)


def _places(lower: bytes, literal: bytes) -> list[int]:
    """Every place ``literal`` occurs in ``lower``, inside words too (a superset), ascending."""
    places = []
    at = lower.find(literal)
    while at >= 0:
        places.append(at)
        at = lower.find(literal, at + 1)
    return places


def _matches(
    pattern: re.Pattern[str],
    text: str,
    lower: bytes | None,
    present: frozenset[str],
    starts: _Starts,
    found: dict[bytes, list[int]] | None = None,
) -> Iterator[re.Match[str]]:
    """The pattern's matches in the text, tried only where a cue word starts when that is known.

    ``found`` keeps each literal's places across the cue patterns of one text ("my", "doctor"
    and the titles start several).
    """
    if lower is None:
        return pattern.finditer(text)
    found = {} if found is None else found
    literals_by_word = _literals_by_word(starts)
    places: set[int] = set()
    for word in present:  # the few cue words the text holds, not every cue word of the pattern
        for literal in literals_by_word.get(word, ()):
            if literal not in found:
                found[literal] = _places(lower, literal)
            places.update(found[literal])
    return match_at(pattern, text, sorted(places))


def _first_names(text: str) -> list[Span]:
    """Common first names without any cue ("Rachel took the time"), with a following surname."""
    spans: list[Span] = []
    for match in _CAPITALISED.finditer(text):
        words = match.group("name").split()
        if words[0] not in w.FIRST_NAMES:
            continue
        if _followed_by_place(text, match.end()):
            continue  # "James Cook Hospital", "Mary Seacole Ward"
        if len(words) == 2 and words[1].lower() in w.PLACE_WORDS:
            continue
        if len(words) == 2 and words[1].lower() in w.NOT_NAMES:
            spans.append(("name", match.start(), match.start() + len(words[0])))
        else:
            spans.append(("name", match.start(), match.end()))
    return spans


def find_names(
    text: str, words: frozenset[str], *, first_names: bool = True, lower: bytes | None = None
) -> list[Span]:
    """(kind, start, end) of the names in the detection text, cue patterns first.

    ``words`` are the text's lower-case words: a pattern whose cue words are all absent cannot
    match, so it is not run (most feedback has no title, role or sign-off at all).
    ``first_names=False`` leaves out common first names that have no cue (for labels such as
    ward names, which are often named after people). ``lower`` is ``text.lower()`` one byte per
    character (``encode("ascii", "replace")``) when it has the text's positions: the cue
    patterns are then tried only where their cue words occur.
    """
    if words.isdisjoint(_ANY_CUE_WORD):  # most feedback: no title, role, sign-off or relative
        return _first_names(text) if first_names and not words.isdisjoint(_FIRST_NAMES_LOWER) else []
    spans: list[Span] = []
    present = _start_words(words)
    found: dict[bytes, list[int]] = {}
    for pattern, decide, cue_words, starts in _CUES:
        if words.isdisjoint(cue_words):
            continue
        for match in _matches(pattern, text, lower, present, starts, found):
            span = decide(match, text)
            if span is not None:
                spans.append(span)
    if first_names and not words.isdisjoint(_FIRST_NAMES_LOWER):
        spans.extend(_first_names(text))
    return spans
