"""Compiled patterns for the identifiers that are not names, all linear-time by construction.

Every repetition in every pattern of this package has a fixed upper bound (``{0,3}``, never
``*`` or ``+``), and runs whose end is decided by the next character are possessive
(``{1,64}+``), so one attempt at one position costs a constant, and a scan of n characters
costs O(n) however hostile the text: a label followed by 100,000 spaces is tried once and
fails after a few characters. ``tests/unit/test_redaction_linear.py`` checks the bound on the
parsed patterns and times every pattern family on adversarial text at the maximum size.

The patterns read the detection text (``normalise.py``): ASCII digits, plain spaces and dashes.
"""

from __future__ import annotations

import re
from typing import Final

from streams.redaction.wordlists import word_set

# Whitespace between the parts of one identifier: at most a few characters, line breaks included,
# so "943\n476\n5919" is one number but a label 100,000 spaces away from a number is not a label.
_GAP = r"\s{0,3}"

# --- e-mail, plain and written out ("jo at nhs dot net", "jo[at]nhs[dot]net") -------------
_LABEL = r"[A-Za-z0-9_+%-]{1,64}+"
_AT = (
    r"(?:\s{0,2}@\s{0,2}"
    r"|\s{0,2}[\[({<]\s{0,1}(?:at|@)\s{0,1}[\])}>]\s{0,2}"
    r"|\s{1,2}(?P<word_at>at|AT|At)\s{1,2})"
)
_DOT = (
    r"(?:\.|\s{1,2}\.\s{1,2}"
    r"|\s{0,2}[\[({<]\s{0,1}(?:dot|DOT|\.)\s{0,1}[\])}>]\s{0,2}"
    r"|\s{1,2}(?:dot|DOT|Dot)\s{1,2})"
)
EMAIL: Final = re.compile(
    r"(?<![\w.+%-])(?P<local>"
    + _LABEL
    + r"(?:"
    + _DOT
    + _LABEL
    + r"){0,4})"
    + _AT
    + r"(?P<domain>"
    + _LABEL
    + r"(?:"
    + _DOT
    + _LABEL
    + r"){1,5})"
)
# A written-out " at " is taken only when the rest looks like an address: a mail domain
# ending in one of these, and a local part that is not a plain word ("see us at nhs.uk").
MAIL_TLDS: Final = word_set(
    "com net org uk co ac gov nhs edu io me info biz scot wales cymru ie eu de fr es it nl email "
    "mail online live"
)
WEBMAIL: Final = word_set(
    "gmail.com googlemail.com hotmail.com hotmail.co.uk outlook.com yahoo.com yahoo.co.uk live.com "
    "live.co.uk icloud.com me.com aol.com btinternet.com sky.com virginmedia.com talktalk.net "
    "protonmail.com proton.me nhs.net msn.com ymail.com"
)
# Written-out dots and ats ("jo dot bloggs", "nhs[.]net") or a dot between two letters. It starts
# with the literal dot, so the engine jumps from dot to dot instead of trying every position.
EMAIL_DOTTED: Final = re.compile(r"\.(?:(?<=[A-Za-z0-9]\.)(?=[A-Za-z])|(?<=[\[({<]\.))")

# The look-behind windows below (a label just before a number) start with a look-ahead naming
# their possible first letters, so the engine skips other positions of the window fast.

# --- word gates: a detector runs only when the text has one of its words --------------------
# (lower-case words of the detection text, split at anything but letters and apostrophes)
HOSPITAL_GATE: Final = word_set("mrn m rxn crn hospital hosp unit patient pt pas case medical")
DOB_GATE: Final = word_set("dob b birth birthday birthdate born")

# --- hospital / unit numbers -------------------------------------------------------------
HOSPITAL_LABELLED: Final = re.compile(
    # the look-ahead names every possible first letter, so the engine skips other positions fast
    r"(?=[mrchup])(?P<label>\b(?:MRN|M\.\s?R\.\s?N\.?|RXN|CRN"
    r"|(?:hospital|hosp\.?|unit|patient|pt|PAS|case\s{1,2}notes?|medical\s{1,2}records?)"
    r"\s{0,2}(?:number|num|no\.?|id|#))"
    r"(?:" + _GAP + r"(?:is|was|:|#|=|-)" + _GAP + r"|\s{1,3}|(?<=[#.]))"
    r")(?P<id>(?P<id_start>[A-Za-z]{0,4}+[ -]?)\d{1,12}+(?:[ -]?\d{1,12}+){0,4}[A-Za-z]?)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# What HOSPITAL_LABELLED starts with, in lower case ("m." for M.R.N.): a window before a number
# that holds none of these is not scanned.
HOSPITAL_LABELS: Final = re.compile(rb"mrn|m\.|rxn|crn|hosp|unit|patient|pt|pas|case|medical")
# A letter prefix glued to (or one space before) six or more digits: "K123456", "RX1234567".
HOSPITAL_BARE: Final = re.compile(
    r"(?<![\w/-])(?P<letters>[A-Za-z]{1,3}+)(?P<space> ?)(?P<digits>\d{6,10}+)[A-Za-z]?(?![\w/-])"
)
# Letters before a number that make it something other than a hospital number.
NOT_HOSPITAL_PREFIX: Final = word_set(
    "ref no nr tel fax mob ext num rm bed bay ward qty job inv ord po cmp inc id pin nhs fig "
    "tel ph mb cc pg p pp vol x"
)
# A number right after these is an operational reference, not a person's identifier.
REFERENCE_BEFORE: Final = re.compile(
    r"(?i)(?=[rdicotjpb])\b(?:ref|reference|datix|incident|complaint|case\s{1,2}ref|order|invoice|ticket|job|crime|"
    r"claim|policy|invoice|booking|tracking|receipt)(?:\s{1,2}(?:no|number|id|#))?\.?\s{0,2}[:#]?\s{0,2}$"
)

# --- NHS number labels (the number itself is found by numbers.py) --------------------------
NHS_LABEL_BEFORE: Final = re.compile(
    r"(?i)(?=n)\bn\.?\s?h\.?\s?s\.?\s{0,2}(?:number|num|no\.?|#|id)?"
    + _GAP
    + r"(?:(?:is|was)"
    + _GAP
    + r")?[:#=\-]?"
    + _GAP
    + r"$"
)

# --- dates of birth: a date only counts when the context says it is a birth date -----------
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_SEP = r"\s{0,2}[/.\-]\s{0,2}"
_YEAR = r"(?:\d{4}|'?\d{2})(?!\d)"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    r"(?:\d{1,2}" + _SEP + r"\d{1,2}" + _SEP + r"(?:\d{4}|\d{2})(?!\d)"
    r"|\d{4}" + _SEP + r"\d{1,2}" + _SEP + r"\d{1,2}(?!\d)"
    r"|\d{1,2}\s{1,2}\d{1,2}\s{1,2}(?:\d{4}|\d{2})(?!\d)"
    r"|\d(?:\s\d){5,7}(?!\d)"
    r"|\d{8}(?!\d)|\d{6}(?!\d)"
    r"|(?:the\s{1,2})?" + _DAY + r"\s{0,2}(?:of\s{1,2})?" + _MONTH + r"(?:,?\s{0,2}" + _YEAR + r")?"
    r"|" + _MONTH + r"\s{0,2}" + _DAY + r"(?:,?\s{0,2}" + _YEAR + r")?(?![a-z])"
    r"|" + _MONTH + r"\s{1,2}\d{4}(?!\d)"
    r"|(?:19|20)\d{2}(?!\d))"
)
DOB: Final = re.compile(
    r"(?=[dDbB])(?P<label>(?:\bd\.?\s?o\.?\s?b\b\.?|\bdate\s{0,2}-?\s{0,2}of\s{0,2}-?\s{0,2}birth|\bbirth\s{0,2}date"
    r"|\bbirthday|\bborn)"
    r"(?:\s{1,3}(?:is|was|on|in))?" + _GAP + r"[:\-]?" + _GAP + r")"
    r"(?P<date>" + _DATE + r")",
    re.IGNORECASE,
)

# --- postcodes: full UK format, spaced or not, any case --------------------------------------
POSTCODE: Final = re.compile(
    # not inside a hyphenated or underscored token ("bench-ward-fa60af" is an id, not "FA6 0AF")
    r"(?<![A-Za-z0-9_-])(?:[A-PR-UWYZ](?:[A-HK-Y]\d[A-Z\d]?|\d[A-Z\d]?)(?P<space>[ \t]{0,2}|-)"
    r"\d[ABD-HJLNP-UW-Z]{2}|GIR ?0AA)(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)
ORDINAL_SUFFIXES: Final = frozenset({"st", "nd", "rd", "th"})
# A postcode-shaped code right after these words names a place in the hospital ("ward E11 2AB").
PLACE_CODE_BEFORE: Final = re.compile(
    r"(?i)(?=[wbrutcazlfd])\b(?:ward|bay|bed|room|unit|theatre|clinic|area|zone|level|floor|code|department|dept)"
    r"\s{0,2}(?:no\.?|number|code)?\s{0,2}[:#]?\s{0,2}$"
)

# --- street addresses: house number + street name + street type -----------------------------
STREET_TYPES: Final = word_set(
    "street st road rd avenue ave lane ln close drive way crescent cres place court gardens gdns "
    "grove terrace hill park square row walk mews view rise parade green vale boulevard wharf yard fold "
    "croft chase meadow meadows bank gate heights villas cottages"
)
# In lower case only these read as a street; "way", "park", "close" are ordinary words too.
LOWER_STREET_TYPES: Final = word_set(
    "street road avenue lane drive crescent terrace gardens grove mews boulevard"
)
# Both address patterns start with the house number so the engine only tries at digits; the
# character before it is checked by the caller (NUMBER_NOT_AFTER), and so is a "Flat 3," before.
ADDRESS: Final = re.compile(
    r"(?P<number>\d{1,4}[A-Za-z]?),?\s{1,2}"
    r"(?P<words>(?:[A-Za-z][A-Za-z'’]{0,20}+\s{1,2}){0,3})"
    r"(?P<type>" + "|".join(sorted(STREET_TYPES, key=len, reverse=True)) + r")(?![A-Za-z])",
    re.IGNORECASE,
)
# One-word streets: "12 Broadway", "7 Kingsway", "4 Parkside", "22 Southgate".
ADDRESS_ONE_WORD: Final = re.compile(
    r"(?P<number>\d{1,4}[A-Za-z]?),?\s{1,2}"
    r"(?P<street>[A-Z][a-z]{2,20}?(?:way|gate|side|field|fields|croft|moor|dale|mead|wood)"
    r"|[A-Z]{3,20}?(?:WAY|GATE|SIDE|FIELD|FIELDS|CROFT|MOOR|DALE|MEAD|WOOD))(?![A-Za-z])"
)
NUMBER_NOT_AFTER: Final = frozenset("_.,/£$")
FLAT_BEFORE: Final = re.compile(r"(?i)(?=[fa])\b(?:flat|apartment|apt)\s{1,2}\d{1,4}[a-z]?\s{0,2},?\s{0,2}$")
# A number right after these words is a place in the hospital, not a house number.
ADDRESS_NOT_AFTER: Final = re.compile(
    r"(?i)(?=[wbrlfstucazgdpjeyn])\b(?:ward|bed|bay|room|level|floor|side\s{0,2}room|theatre|unit|clinic"
    r"|area|zone|gate|door|route|bus|platform|junction|exit|page|step|stage|grade|band|week|day|year|aged|age|number|no)"
    r"\.?\s{0,2}$"
)
# Words that cannot be part of a street name in lower case ("took 2 pills on the way").
NOT_STREET_WORDS: Final = word_set(
    "a an the and or but of on in at to for with by from into over under my our your his her their "
    "its this that these those is was are were be been had has have hours hour days day weeks week "
    "months month years year minutes minute times mins hrs miles mile tablets pills doses units beds "
    "wards patients people nurses staff more less other"
)
