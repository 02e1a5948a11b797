"""Curated phrases per domain, theme and sentiment, written from docs/domains.md.

The learned model knows what FFT comments look like; these phrases carry the domain
definitions to sources it never saw (incident reports, GP concerns, MP letters, news) and
give each decision a readable ``evidence`` phrase. Each entry is a regex fragment matched on
lower-cased text at word boundaries; keep them specific enough that one hit is good evidence.
"""

from __future__ import annotations

from typing import Final

from schemas.domains import ACCESS, ENVIRONMENT, INFORMATION, RELATIONSHIPS, SAFE

# --- domains --------------------------------------------------------------------------------
DOMAIN_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    SAFE: (
        # diagnosis
        r"(?:missed|wrong|late|delayed|incorrect|mis)[ -]?diagnos\w*",
        r"misdiagnos\w*",
        r"diagnos(?:is|ed) (?:was )?(?:missed|wrong|late)",
        r"(?:not|never|wasn't|were not) (?:picked up|spotted|recognised|recognized|diagnosed)",
        r"(?:failed|failure) to (?:recognise|recognize|diagnose|escalate|monitor|act)",
        # medication
        r"wrong (?:drug|medication|medicine|dose|strength|tablets?|patient|insulin)",
        r"(?:missed|omitted|extra|double|incorrect) (?:dose|doses|medication)",
        r"medication (?:error|errors|incident|omitted|was missed|not given)",
        r"(?:over|under)[ -]?dose\w*",
        r"(?:drug|medication|prescribing|dispensing) errors?",
        r"allerg\w+",
        r"anticoagula\w+",
        r"insulin",
        r"warfarin|heparin|apixaban|morphine|naloxone|penicillin|opioids?",
        r"drug (?:round|chart)",
        r"prescri(?:bed|bing|ption errors?)",
        # harm events
        r"falls?|fell|fallen|found on (?:the )?floor",
        r"pressure (?:ulcers?|sores?|damage)",
        r"infect\w+",
        r"sepsis|septic",
        r"c\.? ?diff\w*|mrsa|norovirus|outbreak",
        r"deteriorat\w+",
        r"news2? (?:score|of)",
        r"(?:not|wasn't|never) escalated",
        r"never event",
        r"retained (?:swab|instrument)",
        r"wrong (?:site|side|knee|leg|hip|arm|eye)",
        r"(?:surgical|procedural|clinical) (?:error|mistake|incident)",
        r"(?:operation|surgery|procedure) (?:went wrong|was botched)",
        r"complications?",
        r"(?:serious|patient safety) incidents?",
        r"harm(?:ed)?",
        r"safeguarding",
        r"self[- ]harm\w*|ligature|overdose",
        r"resuscitat\w+|cardiac arrest",
        r"intensive care|itu|icu|hdu|ccu",
        r"(?:equipment|pump|device|monitor) (?:failure|failed|fault\w*|broken|alarmed)",
        r"readmitted|re-admitted|readmission",
        r"died|death|inquest|coroner",
        r"fractur\w+|injur\w+|pneumonia|heart attack|blood clot|embolism|haemorrhage|bleed\w*|meningitis",
        r"dehydrat\w+|malnourish\w*",
        r"unsafe",
        r"(?:cancer|tumour|tumor) (?:has )?(?:spread|grown)",
        # coordination
        r"handover",
        r"discharge (?:planning|plan|summary|letter|was unsafe)",
        r"(?:unsafe|premature|early) discharge",
        r"discharged (?:too early|without|with no|home without|while still)",
        r"sent (?:me |him |her |them )?home (?:without|with a)",
        r"transfer letter",
        r"(?:results?|findings?) (?:not|never|were not|was not) (?:acted|followed)",
        r"not acted (?:on|upon)",
        r"referrals? (?:was |were )?(?:lost|rejected|downgraded|never received|not received)",
        r"(?:lost|rejected) referrals?",
        r"care plan|safety plan|shared care",
        r"continuity of care",
        r"(?:pain relief|painkillers?|pain management|analgesi\w+)",
        r"(?:left|was|in) (?:in )?(?:severe |so much |constant )?pain",
        r"treatment (?:was|has been) (?:poor|wrong|excellent|effective)",
        r"(?:competent|competence|incompetent|incompetence|negligen\w+|negligent)",
        r"observations",
        r"x-ray|ct scan|mri scan|blood results?|test results?|biopsy",
        r"restrain\w*",
        r"end of life care",
        r"(?:not enough|short of|shortage of|understaffed|under-staffed) (?:staff|nurses|doctors)?",
        r"staff(?:ing)? shortages?|understaffed|short[- ]staffed",
        r"more staff",
        # outcome and competence of care
        r"thorough\w*|saved (?:my|his|her|their|our) li(?:fe|ves)|stabilis\w+|stabiliz\w+",
        r"(?:feel|felt|feeling) (?:so |very )?(?:safe|unsafe)",
        r"(?:checks|checked) (?:me|him|her|over)|did (?:all )?(?:the )?checks",
    ),
    RELATIONSHIPS: (
        r"kind|kindness|kindly",
        r"compassion\w*",
        r"caring|uncaring",
        r"empath\w+",
        r"(?:so|very|really|extremely) patient",
        r"rude\w*|abrupt|arrogant|condescending|patronising|patronizing|sarcastic|disrespectful",
        r"dismissive\w*|dismissed (?:my|our|me|us|her|him)",
        r"(?:did not|didn't|would not|wouldn't|never|not) (?:listen|listened|listening)",
        r"listened|listening|listen to (?:me|us)",
        r"(?:talked|spoke|spoken) (?:over|about|down to) (?:me|us|her|him|them)",
        r"as if (?:she|he|i|we) (?:was|were)n'?t there",
        r"ignored|ignoring",
        r"respect\w*",
        r"dignity|undignified|degrading|humiliat\w+",
        r"treated (?:me|us|her|him|them) (?:like|with|as)|treated with (?:dignity|respect|kindness|"
        r"compassion|contempt)",
        r"(?:confidence|trust) in (?:the )?(?:staff|doctor|doctors|nurses|team)",
        r"friendly (?:staff|nurses|doctors|team|crew|receptionists?)",
        r"(?:staff|nurses|doctors|team|crew|paramedics|midwives|receptionists?|consultant|gp|doctor|nurse) "
        r"(?:were|was|are|is) (?:so |very |really |extremely |absolutely )?"
        r"(?:lovely|amazing|fantastic|brilliant|wonderful|great|excellent|fabulous|kind|caring|friendly|"
        r"helpful|polite|rude|unhelpful|dismissive|professional|supportive|attentive|angels)",
        r"(?:thank you|thanks|grateful|praise|shout out) (?:to )?(?:all )?(?:the )?"
        r"(?:staff|team|nurses|doctors|crew|paramedics|midwives)",
        r"angels?|heroes",
        r"attitude",
        r"reassur\w+|put (?:me|us|her|him) at ease|made (?:me|us) feel",
        r"supportive|support(?:ed)? (?:me|us|her|him)",
        r"(?:polite|courteous|helpful|unhelpful|welcoming|considerate|understanding|non-judgemental)",
        r"bedside manner",
        r"shouted|laughed at|mocked|belittl\w+|roughly handled|abuse\w*|contempt",
        r"not (?:taken|treated) seriously|took (?:my|our|his|her) \w+ seriously",
        r"(?:involve|include|exclud)\w* (?:the |us )?(?:as )?carers?",
        r"felt (?:rushed|like a nuisance|like a number|excluded|ignored|valued|cared for)",
    ),
    INFORMATION: (
        r"information|uninformed",
        r"(?:not|never|nobody|no one|no-one|didn't|did not|wasn't|weren't) (?:\w+ )?"
        r"(?:told|explained|informed)",
        r"explain\w*|explanation\w*",
        r"(?:kept|keep|keeping) (?:me |us |them |her |him )?(?:informed|updated|up to date)",
        r"no (?:update|updates|info)",
        r"letters?",
        r"leaflets?",
        r"(?:side effects|danger signs|what to expect|what to do if|safety[- ]netting)",
        r"conflicting|contradictory|different things",
        r"consent",
        r"(?:involved|involve|involving) (?:me |us |her |him )?in (?:the )?"
        r"(?:decision|decisions|care|planning)",
        r"(?:not )?involved in",
        r"choices?|options",
        r"interpret\w+|translat\w+|bsl|easy[- ]read|accessible format|large print",
        r"signpost\w*",
        r"(?:medical |health |care )?records",
        r"results (?:were|was)? ?(?:never |not )?(?:explained|communicated|given)",
        r"(?:communicat\w+)",
        r"(?:video|phone|telephone) (?:consultation|appointment|call) (?:option|choice)|face to face",
        r"website",
        r"clarif\w+|confus\w+|unclear",
        r"answers? (?:to )?(?:my|our) questions|ask(?:ed)? questions",
        r"how to (?:appeal|complain|raise|access)",
    ),
    ACCESS: (
        r"appointments?",
        r"waits?|waited|waiting",
        r"wait(?:ing)? (?:times?|list|lists)",
        r"queue\w*",
        r"delay\w*",
        r"cancel\w*|postponed|rescheduled|rebook\w*",
        r"hours? (?:late|wait)",
        r"(?:long|lengthy) (?:wait|time)",
        r"(?:quick|quickly|prompt|promptly|on time|punctual|speedy|swift\w*|efficient\w*|fast|straight away)",
        r"too slow|slow to|running late|arrived late|took ages|for ages",
        r"referral to treatment|rtt|backlog",
        r"(?:get|got|getting) (?:through|an appointment|a slot|seen)",
        r"(?:phone|telephone) (?:lines?|queue)|on hold|rings out|engaged",
        r"(?:book|booking|booked)",
        r"opening (?:hours|times)|out of hours|out-of-hours|evening and weekend",
        r"closed|closure|closing",
        r"ambulance (?:response|arrived|came|took|wait)",
        r"handover delays?",
        r"transport",
        r"(?:car )?park(?:ing)?|car park",
        r"bus journey|travel\w*|distance",
        r"access to",
        r"no beds|bed pressures|corridor",
        r"not (?:taking on|accepting) new",
    ),
    ENVIRONMENT: (
        r"clean\w*|dirty|filthy|unclean|hygien\w+|soiled",
        r"toilets?|bathrooms?|showers?|hot water",
        r"smell\w*|stink\w*|odour|urine",
        r"litter|rubbish|bins?|pests?|mice|rats?|cockroach\w*|mould|mold",
        r"food|meals?|menu|breakfast|lunch|dinner|sandwich\w*|drinks?|tea|coffee",
        r"halal|kosher|vegetarian|vegan|gluten|diet\w*",
        r"nois\w+|loud|beeping|shouting all night",
        r"lights? (?:on|at night)",
        r"too (?:hot|cold|warm)|temperature|freezing|stuffy",
        r"uncomfortable|comfortable|comfy",
        r"chairs?|beds? (?:were|was) (?:uncomfortable|broken)",
        r"waiting (?:area|room)|relatives'? room",
        r"gardens?|grounds|fresh air|outside space",
        r"curtains?|mixed[- ]sex",
        r"environment|surroundings|facilities",
        r"lost property|belongings",
        r"wifi|wi-fi|tv|television|entertainment|activities",
        r"leak\w*|ceiling|broken (?:bed|chair|equipment)",
        r"decor|decorat\w+|refurbish\w+|shabby|run[- ]down",
        r"privacy",
        r"atmosphere|vibe|activities|gym|bored\w*|nothing to do|quiet (?:room|space|time)|more space",
    ),
}

# Multi-word phrases that still speak only weakly for their domain: a duration measures a delay in
# care as often as a wait for a service, so alone it needs the model's support.
WEAK_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    ACCESS: (
        r"(?:for|after|over|took|takes|take|taken|within|waited) (?:over |more than |nearly |almost |about )?"
        r"(?:\d+|several|many|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) "
        r"(?:hours?|hrs|weeks?|months?|years?|minutes?|mins)",
    ),
}

# --- themes ---------------------------------------------------------------------------------
THEME_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "medication": (
        r"medication|medicines?|tablets?|drugs?|dose|doses|prescri\w+|pharmac\w+|insulin|warfarin|"
        r"morphine|antibiotics?|painkillers?|inhaler",
    ),
    "diagnosis": (r"diagnos\w+|misdiagnos\w*|missed|x-ray|scan|biopsy|tests?|results?",),
    "falls": (r"falls?|fell|fallen|found on (?:the )?floor",),
    "pressure_ulcers": (r"pressure (?:ulcers?|sores?|damage)",),
    "infection": (r"infect\w+|sepsis|septic|c\.? ?diff\w*|mrsa|norovirus|outbreak",),
    "deterioration": (r"deteriorat\w+|news2?|escalat\w+|resuscitat\w+",),
    "surgery": (r"surgery|surgeon|operation|theatre|procedure|op",),
    "discharge": (r"discharg\w+|sent (?:me |him |her )?home",),
    "referrals": (r"referr\w+",),
    "handover_coordination": (r"handover|transfer\w*|care plan|shared care|continuity",),
    "pain": (r"pain\w*|analgesi\w+",),
    "safeguarding": (r"safeguard\w*|abuse\w*|restrain\w*|roughly handled",),
    "self_harm": (r"self[- ]harm\w*|ligature|overdose|suicid\w+",),
    "end_of_life": (r"end of life|dying|palliative|died|death|passed away",),
    "staffing": (r"understaffed|short[- ]staffed|staff(?:ing)? shortages?|not enough (?:staff|nurses)",),
    "staff_attitude": (
        r"rude\w*|abrupt|arrogant|condescending|patronising|dismissive|attitude|kind\w*|"
        r"compassion\w*|caring|friendly|polite|lovely|helpful|unhelpful|laughed at|shouted",
    ),
    "listening": (r"listen\w*|ignored|not taken seriously|talked over",),
    "dignity_respect": (r"dignity|respect\w*|degrading|humiliat\w+|undignified",),
    "praise": (
        r"thank\w*|grateful|amazing|brilliant|excellent|fantastic|wonderful|outstanding|angels?|"
        r"shout out|praise\w*",
    ),
    "carers_family": (r"carers?|family|families|relatives?",),
    "communication": (
        r"communicat\w+|informed|information|told|explain\w*|updated|update|conflicting|no one said",
    ),
    "letters": (r"letters?",),
    "consent_involvement": (r"consent|involved|decision|choice|options",),
    "interpreters_accessibility": (r"interpret\w+|translat\w+|bsl|easy[- ]read|accessible format|deaf",),
    "records": (r"records?|notes",),
    "appointments": (r"appointments?|booking|booked|rebook\w*|slots?",),
    "waiting_time": (r"waits?|waited|waiting|queue\w*|delay\w*|hours|backlog|took ages",),
    "cancellations": (r"cancel\w*|postponed|rescheduled",),
    "phone_access": (r"phone|telephone|rang|ring|call back|on hold|engaged|8am",),
    "ambulance": (r"ambulance|paramedics?|999|crew",),
    "emergency_department": (r"a&e|a and e|emergency department|ed|urgent care|minor injuries",),
    "transport": (r"transport|taxi|bus|journey|travel\w*",),
    "parking": (r"park(?:ing)?|car park|blue badge",),
    "cleanliness": (r"clean\w*|dirty|filthy|hygien\w+|soiled|toilets?|bathrooms?|mould",),
    "food": (r"food|meals?|menu|breakfast|lunch|dinner|sandwich\w*|drinks?|halal|vegetarian|gluten",),
    "noise_sleep": (r"nois\w+|loud|sleep\w*|beeping|lights? on",),
    "temperature": (r"too (?:hot|cold|warm)|temperature|freezing",),
    "privacy": (r"privacy|curtains?|mixed[- ]sex",),
    "facilities": (r"facilities|environment|chairs?|waiting (?:area|room)|garden|wifi|tv|leak\w*",),
    "lost_property": (r"lost property|went missing|belongings|glasses|hearing aids?",),
}

# National codes that also name a theme, so coded incidents get one even with terse text.
CODE_THEMES: Final[dict[str, str]] = {
    "nrls:medication": "medication",
    "ko41a:prescribing": "medication",
    "nrls:patient_accident": "falls",
    "nrls:infection_control": "infection",
    "nrls:self_harm": "self_harm",
    "nrls:patient_abuse": "safeguarding",
    "nrls:access_admission_transfer_discharge": "discharge",
    "ko41a:admissions_discharges_transfers": "discharge",
    "ko41a:appointments": "appointments",
    "ko41a:waiting_times": "waiting_time",
    "ko41a:transport": "transport",
    "ko41a:staff_attitude": "staff_attitude",
    "ko41a:communications": "communication",
    "ko41a:end_of_life_care": "end_of_life",
    "ko41a:restraint": "safeguarding",
    "ko41a:privacy_dignity_wellbeing": "dignity_respect",
    "ko41a:staff_numbers": "staffing",
    "nrls:documentation": "records",
    "ko41a:trust_administration": "records",
    "ko41a:consent": "consent_involvement",
    "ko41a:facilities": "facilities",
}

# --- sentiment --------------------------------------------------------------------------------
_POSITIVE = """
    good great excellent amazing brilliant fantastic wonderful lovely kind kindness caring helpful
    friendly polite professional efficient quick prompt pleasant outstanding superb perfect best
    happy pleased satisfied grateful thankful thanks thank appreciated appreciate reassuring
    reassured calm clean comfortable supportive attentive compassionate respectful listened
    informative clear easy smooth fabulous marvellous exceptional impressed helped well nice
    angels angel heroes welcoming considerate gentle recommend understanding safe
"""
_NEGATIVE = """
    bad poor terrible awful horrible dreadful appalling disgusting disgusted rude abrupt arrogant
    dismissive unhelpful unprofessional slow late delay delayed delays waited waiting cancelled
    dirty filthy smelly cold noisy uncomfortable unsafe wrong error errors mistake mistakes missed
    failed failure neglect neglected negligent ignored ignoring upset angry furious
    disappointed disappointing distressed distressing worried frightened scared terrified pain
    painful harm harmed died death worse worst unacceptable shocking shocked appalled complain
    complaint concerns concern lack lacking lost confusing confused conflicting inedible
    humiliating humiliated degrading degraded shouted laughed unbelievable nightmare diabolical
    struggle struggling impossible useless incompetent sarcastic patronising condescending
    overflowing broken leak mould frustrating frustrated
"""
_NEGATORS = """
    not no never nobody none nothing neither nor without cannot cant can't couldn't wasn't weren't
    isn't aren't didn't don't doesn't won't wouldn't hardly barely lack lacked
"""
POSITIVE_WORDS: Final[frozenset[str]] = frozenset(_POSITIVE.split())
NEGATIVE_WORDS: Final[frozenset[str]] = frozenset(_NEGATIVE.split())
NEGATORS: Final[frozenset[str]] = frozenset(_NEGATORS.split())
INTENSIFIERS: Final[frozenset[str]] = frozenset(
    {
        "very",
        "really",
        "so",
        "extremely",
        "absolutely",
        "totally",
        "completely",
        "incredibly",
        "truly",
        "most",
    }
)
