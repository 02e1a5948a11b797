"""Phrases that decide a domain on their own, on every source.

See docs/tagging.md, "How a domain is decided".

``lexicon.DOMAIN_PHRASES`` holds the vocabulary of the domain definitions; many of its words are
ambiguous alone ("waiting" may be a waiting room, "warm" a room or a nurse), so outside FFT one of
them counts only with support from the model or a second phrase. The entries here are the plain
words people use for the same things when they do not use the definitions' vocabulary — an
incident form says "given twice", a tweet says "crawling with ants", a letter says "brushed off"
— and each is specific enough that one hit is the evidence a person would point to.

Same form as the lexicon: regex fragments on lower-cased text, matched at token starts; a
fragment with a space runs as a regex from each token start, so gaps are bounded (``{0,3}``)
and every match is linear in the text.
"""

from __future__ import annotations

from typing import Final

from schemas.domains import ACCESS, ENVIRONMENT, INFORMATION, RELATIONSHIPS, SAFE

_GAP: Final = r"(?:[\w'’-]+ ){0,3}"  # up to three words between the two ends of a phrase
_NEG: Final = (
    r"(?:not|never|nobody|no one|no-one|didn't|did not|wasn't|weren't|hadn't|had not|hasn't|has not)"
)

DECISIVE_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    SAFE: (
        # medicines given wrongly
        r"(?:given|gave|prescribed|dispensed|supplied) " + _GAP + r"(?:twice|double|ten times|instead of)",
        r"double (?:the )?(?:intended |prescribed |usual )?(?:dose|strength)|ten times the",
        r"(?:someone|somebody) else'?s (?:tablets|medicines?|medication|meds|drugs)",
        r"(?:adult|old|wrong|higher|lower) (?:dose|strength|vaccine|size)",
        r"(?:forgot|forgotten|failed) to (?:give|sign|check|order)",
        r"(?:not|never|weren't|wasn't) (?:administered|signed for|restarted)",
        r"doses?|meds|laxatives?|antibiotics?|sedatives?|antipsychotics?|painkillers|steroids?|chemotherapy",
        r"controlled drugs?|drug register|interact\w*|reconciliation|transcription",
        r"(?:reacted|reaction) to|allergic|hives|rash and",
        # diagnosis and recognition
        r"(?:was|were|been) (?:missed|misread|overlooked)|missed (?:that|on|at|it)",
        r"(?:not|never|wasn't|weren't) (?:recognised|recognized|identified|noticed|spotted|examined|"
        r"assessed|checked)",
        r"(?:refused|failed|didn't|did not) (?:to )?(?:examine|check|assess|scan|x-ray)",
        r"all in (?:her|his|my|their) head|just (?:anxiety|stress|a virus|a sprain)",
        r"(?:later|subsequently|eventually) (?:found|diagnosed|shown)",
        r"(?:worked out|found out|spotted|noticed) what was wrong|caught early",
        # results, referrals and coordination
        r"(?:filed|left|sat) (?:\w+ ){0,2}without (?:any )?(?:action|review|anyone looking)",
        r"(?:not|never|nobody|no one) "
        + _GAP
        + r"(?:followed up|acted on|looked at|reviewed|booked|arranged|sent)",
        r"not (?:managed|controlled|monitored|treated|escalated)",
        r"no (?:action|plan|follow-up|follow up|review)",
        r"(?:referrals?|form) " + _GAP + r"(?:rejected|returned|declined|turned down|lost|bounced)",
        r"(?:rejected|declined|declining|turned down|returned) (?:our |the |a |new )?referrals?",
        r"discharge summar(?:y|ies)|discharge paperwork|care plans?|crisis plan|risk assessments?",
        r"(?:discharged|sent home|sent back) " + _GAP + r"(?:without|with no|at \d+ ?pm|over the weekend)",
        r"capacity|best[- ]interests?|dnacpr|resus(?:citation)? (?:status|form)",
        # harm, deterioration and clinical events
        r"(?:sores?|ulcers?|blisters?|pressure (?:areas?|marks?))",
        r"(?:category|grade|stage) [1-4]",
        r"wounds?|abscess|pus|oozing|stitches|dressings? (?:was |were )?(?:not )?changed",
        r"clots?|strokes?|seizures?|bleed|bleeding|haemorrhage|jaundice\w*|aspirat\w+|desaturat\w+",
        r"heart stopped|collapsed?|unconscious|resuscitation|brought (?:him|her|them|my \w+) back",
        r"broken (?:bones?|hip|wrist|leg|arm|ankle)|broke (?:her|his|my) \w+",
        r"(?:readmitted|re-admitted|back in hospital|rushed to theatre|emergency (?:surgery|caesarean|"
        r"operation))",
        r"bacteria|diarrhoea|vomiting",
        r"mistakes?|near miss|wrong (?:finger|patient|leg|arm|side|site|bag)",
        r"nil by mouth|fluid (?:balance )?chart|(?:not|without being) turned|repositioning|neuro obs|"
        r"hourly checks",
        r"restrained|held down|seclu\w+|went missing from|absconded|left the (?:ward|unit|department)",
        r"bruis\w+|hit by|punched|assault\w*",
        r"(?:syringe driver|pump|defibrillator|suction|ventilator|hoist|sling|monitor|meter|mattress|"
        r"scanner) "
        + _GAP
        + r"(?:failed|stopped|broke|tore|faulty|not working|did not work|didn't work|deflated|alarm\w*|"
        r"ran empty)",
        r"expired|quarantined|medical engineering|ebme",
        # outcome and competence
        r"healing|healed|under control|got (?:me|him|her) walking|saved (?:my|his|her|their) li(?:fe|ves)",
        r"(?:operation|procedure|surgery|treatment) (?:went|was) (?:very )?(?:well|excellent|great|fine)",
        r"great treatment|excellent treatment|in (?:very )?safe hands",
        r"(?:in )?agony|pain (?:relief|control|was (?:not )?controlled)|pain under control",
        r"suicid\w+|end (?:her|his|their) life",
    ),
    RELATIONSHIPS: (
        r"laugh(?:ed|ing)(?: at)?|made fun|mock\w*|jokes? about|making jokes|sniggered|smirked",
        r"rolled (?:her|his|their) eyes|sighed|shrugged|yawned|tutted|swore|sworn",
        r"shouted at|snapped at|short with|curt|sharp with|hung up on (?:me|us|her|him)",
        r"(?:a )?nuisance|making a fuss|wasting (?:their|your|his|her|my) time|drama queen",
        r"judged|judgemental|brushed off|fobbed off|not believed|didn't believe|did not believe",
        r"(?:didn't|did not|doesn't) (?:seem )?(?:interested|care|bother)",
        r"talk(?:ed|s)? down|spoke over|talked over|looked at me like|treated (?:me |us |her |him )?like",
        r"like (?:a |an )?(?:criminal|child|children|idiot|number|object)",
        r"(?:as if|as though) (?:i|she|he|we|they) (?:was|were|wasn't|weren't)",
        r"hurry up|walked (?:off|away)|door (?:shut|closed) in",
        r"(?:time|stopped?|stops) to (?:chat|talk|listen)|held (?:my|her|his) hand|sat (?:down )?with",
        r"gentle|thoughtful|incredible|legends?|superstars?|stars|gems?|diamonds?",
        r"compliment\w*|commend\w*|prais\w+|(?:so|very|forever|really|eternally|extremely) grateful|"
        r"thanks to",
        r"(?:to )?thank (?:the|all|everyone|you all|you to)|thank you all|angels|heroes",
        r"look(?:ed|ing)? after (?:me|us|him|her|my \w+) (?:so )?(?:well|brilliantly)",
        r"(?:hit|slapped|pushed|grabbed|assaulted|abused|hurt) by (?:a )?(?:member of staff|staff|nurse|"
        r"carer|porter)",
        r"restrain\w*|held down|restraint",
        r"interest in|valued|made (?:me|us|her|him) feel",
        r"preferred names?|knock before",
        r"unheard|not being heard|(?:feel|felt) not heard|not listened|wouldn't listen|would not listen",
        r"not (?:taken|treated) seriously|(?:didn't|did not) take (?:me|us|them|her|him) seriously",
        r"(?:did not|didn't|never|would not|wouldn't) (?:look|looked) (?:at|up)",
        r"interrupt\w*|roughly|rough with|grabbed",
    ),
    INFORMATION: (
        _NEG + r" " + _GAP + r"(?:told|explained|informed|rang|phoned|called|let (?:me|us|them) know|tell)",
        r"(?:nobody|no one|no-one|anyone) (?:\w+ ){0,2}(?:tell|explain|said|say)",
        r"no (?:explanation|reason|word|indication|idea)|heard nothing|told nothing|"
        r"without (?:any )?explanation",
        r"jargon|plain english|medical (?:terms|language|words)|(?:didn't|did not|don't|not) understand\w*",
        r"(?:different|conflicting|mixed|contradictory) (?:answers|dates|plans|messages|advice|information|"
        r"stories)",
        r"straight answer|where (?:i|we|she|he) stands?|what(?:'s| is) happening",
        r"what (?:to expect|happens next|will happen|to look out for|to watch for|to do)",
        r"instructions|advice (?:about|on)|went through|step by step|up to date",
        r"copy of (?:my|his|her|their|the) \w+|(?:see|read|access) (?:my|his|her|their) (?:own )?(?:notes|"
        r"records|results)",
        r"large print|braille|screen readers?|text relay|easy read|language support|in (?:polish|urdu|"
        r"arabic)",
        r"leaflets?|information|explained|explanation",
        r"shut out of|made for (?:me|us|her|him)|not asked|asked (?:us|me) (?:what|whether)",
        r"how (?:to|do i|can i) (?:complain|request|make a complaint|get a copy)|who (?:do i|to|"
        r"should i) (?:ask|contact|address)",
        r"reminders?|by video|via (?:the )?app|(?:phone|video) (?:consultations?|calls?|"
        r"appointments?)",
        r"(?:wrong|old|new) address|addressed to|wrong (?:hospital|date|number|details)",
        r"letters? " + _GAP + r"(?:arrived|came|late|after)",
        r"(?:know|knew) (?:more )?about|did not know|didn't know|unsure",
    ),
    ACCESS: (
        r"on hold|rang (?:\w+ ){0,2}times|cuts? (?:me |you |us )?off|rings? (?:and rings|out)",
        r"(?:can't|cannot|couldn't|could not|never|unable to) (?:get (?:an? |any )?(?:appointment|through|"
        r"seen|slot|in|to see)|book|register)",
        r"(?:no|any) (?:appointments?|slots?|availability)|nothing available|never (?:has )?anything",
        r"since \d+ ?(?:am|pm)",
        r"(?:months?|years?|weeks?) (?:overdue|late|behind)|overdue|waiting lists?|on the list",
        r"postponed|put off|called off|held up|moved to the next|stood down|rebook\w*",
        r"(?:running|run|ran|runs) (?:late|behind)|behind schedule|over(?:ran|running)",
        r"turned away|not taking on|not accepting|closed (?:its|their|the) lists?|closed to",
        r"(?:shuts?|closes?|closed|closing|open) (?:at|from|early|weekends|at weekends)|closure|"
        r"opening (?:hours|times)",
        r"bus|taxi|drive|travel\w*|miles? away|round trip|parking|car park|permits?",
        r"same day|in and out|(?:seen|came|arrived) (?:on time|quickly|promptly|within)",
        r"took forever|(?:wait|waited|waiting) forever|forever (?:to|on hold|waiting)",
        r"no (?:new )?date|no beds?|care package|medically fit|re-refer|capacity to see",
        r"(?:get|got|getting) (?:me |him |her |us )?(?:in|through|seen|a slot)",
        r"queue|chase\w*|8am|8.01",
    ),
    ENVIRONMENT: (
        r"grubby|grimy|dust\w*|stain\w*|sticky|cobwebs?|mould\w*|damp|peeling|crumbling|dirty|filth\w*",
        r"clutter\w*|storage|storeroom|obstructed|boxes|piled|blocked by",
        r"infest\w*|droppings|ants|flies|fly|wasps?|pigeons?|insects?|cockroach\w*|rodents?|vermin|mice|"
        r"rats?|pests?",
        r"biohazard|soap|paper towels|loo roll|toilet (?:roll|paper)|hand gel",
        r"flicker\w*|lighting|bulbs?|too bright|too dark|dim",
        r"heating|boiler|fans?|freezing|too (?:hot|cold|warm)|so (?:hot|cold)|(?:very|really) (?:hot|warm|"
        r"cold)",
        r"snor\w*|beeping|noisy|noise|quieter|quiet room",
        r"chairs?|seats?|seating|blankets?|pillows?|beds? (?:were|was|are|is) (?:uncomfortable|broken|hard)",
        r"(?:stained|dirty|old|hard|lumpy|uncomfortable|thin) mattress\w*",
        r"kettle|microwave|vending|cafe|restaurant|canteen",
        r"meals?|dinners?|lunch|breakfast|toast|menu|soggy|lukewarm|bland|inedible|tasteless|halal|kosher|"
        r"vegetarian",
        r"gardens?|courtyard|outside space|day room|relatives'? room|baby change",
        r"curtains?|lift (?:is |was |has been )?(?:broken|out of order)|buckets",
        r"smoke|smoking|cigarettes?|stench|stale|odour",
        r"glasses|dentures|hearing aids?|purse|belongings|dressing gown|lost property",
        r"immaculate|spotless|homely|cramped|grotty|shabby",
    ),
}
