"""Compiled patterns and word lists for the redactor.

Kept apart from the replacement logic so the regexes can be read (and reviewed for false
positives on clinical numbers) on their own. Every pattern is compiled once at import.
"""

from __future__ import annotations

import re
from typing import Final

# --- e-mail -------------------------------------------------------------------------------
EMAIL: Final = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# --- hospital / unit numbers: only with a label, because bare IDs look like anything -------
HOSPITAL_NUMBER: Final = re.compile(
    r"(?P<label>\b(?:MRN|M\.R\.N\.?|(?:hospital|hosp\.?|unit|patient|case\s*notes?)"
    r"\s*(?:number|num|no\.?|id|#))"
    r"(?:\s*(?:is|was|:|#|=|-|–)\s*|\s+))"
    r"(?P<id>[A-Za-z]{0,4}[ -]?\d+(?:[ -]?\d+)*[A-Za-z]?)\b",
    re.IGNORECASE,
)

# --- NHS numbers: 10 digits, optionally 3-3-4 with spaces or dashes -------------------------
NHS_LABELLED: Final = re.compile(
    r"(?P<label>\bNHS\s*(?:number|num|no\.?|#)?(?:\s*(?:is|was|:|#|=|-|–)\s*|\s+))"
    r"(?P<id>\d{3}[ -]?\d{3}[ -]?\d{4})(?!\d)",
    re.IGNORECASE,
)
NHS_BARE: Final = re.compile(r"(?<![\w.,/£$])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d/])")

# --- UK phone numbers: 0 + 9 or 10 digits, or +44 / 0044 forms -----------------------------
PHONE: Final = re.compile(
    r"(?<![\w+/.,£$])"
    r"(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?\(?|\(?0)"
    r"\d{1,4}\)?[ -]?\d{3,4}[ -]?\d{3,4}"
    r"(?![\d/])"
)

# --- dates of birth: a date only counts when the context says it is a birth date -----------
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})(?!\d)"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+\d{4}"
    r"|" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|" + _MONTH + r"\s+\d{4}"
    r"|(?:19|20)\d{2})(?!\d)"
)
DOB: Final = re.compile(
    r"(?P<label>(?:\bd\.?o\.?b\b\.?|\bdate[\s-]+of[\s-]+birth|\bbirth\s*date|\bbirthday|\bborn)"
    r"(?:\s+(?:is|was|on|in))?\s*[:\-–]?\s*)"
    r"(?P<date>" + _DATE + r")",
    re.IGNORECASE,
)

# --- postcodes: full UK format; outward part is area letters + district ---------------------
POSTCODE: Final = re.compile(
    r"\b(?:[A-PR-UWYZ](?:[A-HK-Y]\d[A-Z\d]?|\d[A-Z\d]?)(?P<space>\s?)\d[ABD-HJLNP-UW-Z]{2}"
    r"|GIR\s?0AA)\b",
    re.IGNORECASE,
)
ORDINAL_SUFFIXES: Final = frozenset({"st", "nd", "rd", "th"})

# --- street addresses: house number + capitalised street name + street type -----------------
_STREET_TYPE = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Way|Crescent|Cres|Place|Court|"
    r"Gardens|Gdns|Grove|Terrace|Hill|Park|Square|Row|Walk|Mews|View|Rise|Parade|Green|Vale|"
    r"Boulevard|Wharf|Yard|Fold|Croft|Chase|Meadows?|Bank|Gate|Heights|Villas|Cottages)"
)
ADDRESS: Final = re.compile(
    r"(?:\b(?:Flat|Apartment|Apt|Unit)\s+\d+[A-Za-z]?\s*,?\s*)?"
    r"\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][a-z'’]+\s+){1,3}" + _STREET_TYPE + r"\b"
)
# A number right after these words is a place in the hospital, not a house number.
ADDRESS_NOT_AFTER: Final = re.compile(
    r"\b(?:ward|bed|bay|room|level|floor|side\s*room|theatre|unit|clinic|area|zone|gate|door)\s*$",
    re.IGNORECASE,
)

# --- personal names -------------------------------------------------------------------------
# A name word: capitalised (O'Brien, Smith-Jones), all-caps (SMITH) or an initial (J.).
_NAME_WORD = (
    r"(?:[A-Z][a-z]?[’'][A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]{2,}|[A-Z]\.?)"
)
_NAME_RUN = r"(?P<name>" + _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r"){0,2})(?!\w)"

# Titles that are followed by a name (capitalised after any title).
TITLE_NAME: Final = re.compile(
    r"\b(?P<title>(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|MR|MRS|MS|MISS|DR|PROF)\.?"
    r"|Doctor|DOCTOR|Nurse|NURSE|Sister|Matron|Midwife|Professor|Sir|Dame|Rev|Reverend|Father"
    r"|Consultant|Surgeon|Mister|mr|mrs|dr|nurse|doctor|sister|matron)[ \t]+)" + _NAME_RUN
)
# After Mr/Mrs nothing but a name follows, so lowercase names are taken too ("ms" and "miss"
# are left out: "my ms flares", "I miss playing").
TITLE_LOWER_NAME: Final = re.compile(
    r"\b(?P<title>(?:[Mm]r|[Mm]rs|MR|MRS|Mx)\.?[ \t]+)(?P<name>[a-z][a-z'’-]+)(?![\w])"
)
# "my name is x" is a strong cue: take lowercase too. "I am X" only when capitalised.
SELF_INTRO: Final = re.compile(
    r"(?P<title>\b(?:[Mm]y\s+name\s+is|MY\s+NAME\s+IS|[Nn]ame\s*:|[Pp]atient\s+name\s*:?|[Ss]igned\s*:?)"
    r"[ \t]+)(?P<name>[A-Za-z][A-Za-z'’-]*(?:[ \t]+[A-Za-z][A-Za-z'’-]*){0,2})"
)
I_AM: Final = re.compile(r"(?P<title>\b(?:I\s+am|I'm|I’m|Im)[ \t]+)" + _NAME_RUN)
RELATIVE: Final = re.compile(
    r"(?P<title>\b[Mm]y\s+(?:husband|wife|son|daughter|mum|mom|mother|dad|father|partner|brother|"
    r"sister|grandson|granddaughter|grandmother|grandfather|nan|nana|gran|grandad|grandpa|grandma|"
    r"baby|child|uncle|aunt|auntie|friend|neighbour|carer|niece|nephew|fiancée?|boyfriend|girlfriend)"
    r",?[ \t]+)" + _NAME_RUN
)
SIGN_OFF: Final = re.compile(
    r"(?P<title>\b(?:[Yy]ours\s+(?:sincerely|faithfully|truly)|YOURS\s+(?:SINCERELY|FAITHFULLY)"
    r"|(?:[Kk]ind|[Bb]est|[Ww]arm|[Mm]any)\s+(?:regards|wishes|thanks)|[Rr]egards|[Bb]est|[Tt]hanks"
    r"|[Tt]hank\s+you|[Cc]heers|[Ll]ove|[Ff]rom|[Ss]igned)"
    r"[ \t]*(?:[,.\-–][ \t]*\r?\n?|\r?\n)\s*)" + _NAME_RUN
)
# Cues where a following capitalised word is not a name without the comma or line break.
SIGN_OFF_WEAK: Final = frozenset({"best", "thanks", "thank you", "cheers", "love", "from", "signed"})

# Capitalised words that follow the cues above but are not names (sentence starts, roles,
# places, feelings). Compared in lower case.
_NOT_NAME_WORDS = """
    a an the and or but nor so yet if then than that this these those there here who whom whose
    which what when where why how i me my we us our you your he him his she her they them their
    it its is am are was were be been being do does did done has have had having will would shall
    should can could may might must not no nor yes very really quite just also still now only even
    too all any some every each both either neither none nobody everyone everybody someone anyone
    on in at of from with by for to as into onto about after before during since until over under
    again today yesterday tomorrow tonight morning afternoon evening night week weekend
    monday tuesday wednesday thursday friday saturday sunday january february march april june
    july august september october november december
    said says told tells asked asks came come went go going gone got get gets gave give given
    took take taken made make seen see saw looked was wasn't isn't didn't don't doesn't couldn't
    ward wards bed bay unit team teams department dept surgery practice hospital hospitals clinic
    centre center service services nhs gp gps a&e ae ed icu itu ccu hdu amu sau opd pals trust
    staff nurse nurses doctor doctors dr drs consultant consultants sister matron midwife midwives
    surgeon surgeons paramedic paramedics crew receptionist receptionists reception manager
    appointment appointments referral letter letters call calls phone patient patients
    mum mom dad mother father husband wife son daughter family relatives friend carer
    sir madam dear mr mrs ms miss mx prof professor
    writing disappointed happy unhappy sorry pleased grateful thankful concerned worried shocked
    appalled angry upset furious disgusted satisfied dissatisfied delighted impressed afraid sure
    unable able glad extremely absolutely totally completely deeply most more less much many
    kind kindest best warm regards wishes sincerely faithfully thanks thank cheers love from
    not never always often sometimes usually
    complaint complaints concern concerns feedback response reply review
    english british welsh scottish irish
"""
NOT_NAMES: Final = frozenset(_NOT_NAME_WORDS.split())

# Common UK first names, for staff and family named without a title ("Rachel took the time",
# "especially the OT Lisa"). Words that are also ordinary English or ward names (Will, May,
# Grace, Hope, Faith, Rose, Joy, Ivy, Holly, Dawn) are left out on purpose.
_FIRST_NAMES = """
    Sarah John David Michael James Paul Mark Peter Susan Karen Emma Claire Laura Rachel Helen Julie
    Lisa Amanda Nicola Joanne Michelle Angela Tracey Tracy Jennifer Jessica Sophie Chloe Olivia
    Amelia Emily Hannah Lucy Katie Rebecca Charlotte Gemma Stephen Andrew Richard Robert Thomas
    Daniel Matthew Christopher Anthony Kevin Gary Steven Simon Ian Neil Graham Colin Alan Keith
    Brian Barry Craig Darren Wayne Jason Carl Scott Adam Ryan Luke Jack Harry Oliver George
    Samuel Joseph Benjamin Jacob William Alex Alexander Mohammed Muhammad Mohammad Ahmed Ali Priya
    Fatima Aisha Mary Margaret Patricia Elizabeth Linda Barbara Jean Pauline Janet Christine Carol
    Sandra Deborah Debbie Denise Diane Gillian Louise Kelly Donna Natalie Stacey Leanne Megan
    Bethany Abigail Ellie Kirsty Zoe Jane Anne Ann Sue Kate Jo Beth Tom Dave Mike Jim Bob Steve
    Andy Rob Chris Dan Ben Sam Nick Tony Pete Phil Jon Jonathan Martin Kathryn Catherine Caroline
    Joanna Victoria Amy Sophia Isla Ava Mia Noah Leo Arthur Oscar Charlie Freddie Alfie Archie
    Lily Poppy Evie Ruby Ella Freya Maria Anna Julia Sean Liam Connor Callum Kieran Declan Siobhan
    Aoife Niamh Ciara Fiona Morag Hamish Rhys Dylan Gareth Sian Bethan Cerys Rhian Owen Huw Dafydd
"""
FIRST_NAME: Final = re.compile(
    r"(?<![\w\[’'-])(?P<name>(?:" + "|".join(sorted(set(_FIRST_NAMES.split()), key=len, reverse=True)) + r")"
    r"(?:[ \t]+(?:[A-Z][a-z]?[’'][A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?))?)(?![\w’'])"
)
# After these a "name" is a place: James Cook University Hospital, Mary Seacole Ward.
_PLACE_WORDS = """
    hospital hospitals university infirmary centre center ward wards unit house suite wing lodge
    building clinic practice surgery court road street avenue lane hall college school
"""
PLACE_WORDS: Final = frozenset(_PLACE_WORDS.split())
