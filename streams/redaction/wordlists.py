"""Word lists for recognising personal names (compared in lower case unless said otherwise).

Kept apart from the patterns so they can be reviewed and extended on their own: a word added to
``NOT_NAMES`` stops a name run ("Nurse Led Clinic", "I am Deaf"), a word added to ``FIRST_NAMES``
is redacted without any other cue. docs/redaction.md describes how each list is used.
"""

from __future__ import annotations

from typing import Final


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one string, so long lists read as prose and diff line by line."""
    return frozenset(words.split())


# Capitalised words that follow the cues (titles, roles, sign-offs) but are not names: sentence
# starts, roles, places, feelings, conditions people describe themselves by.
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
    led run runs ran however although though because while whilst whose thank thanks please
    deaf blind autistic diabetic disabled partially sighted pregnant epileptic asthmatic dyslexic
    practitioner manager assistant assistants registrar registrars porter porters physio
    physiotherapist pharmacist pharmacists therapist therapists visitor visitors carers hca hcas
    ot sho fy1 fy2 team teams services office station lead leads ward's clinic clinics suite
    who's i'm it's that's there's
"""
NOT_NAMES: Final = frozenset(_NOT_NAME_WORDS.split())

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
FIRST_NAMES: Final = frozenset(_FIRST_NAMES.split())

# Common UK surnames, used only after a lower-case role word ("doctor evans", "nurse patel"),
# where an ordinary word is just as likely; surnames that are ordinary words (Ward, Hall, Day,
# Long, May, Green, Rose, Hill, Cross, Cook, Baker, Smith) are left out on purpose.
_SURNAMES = """
    jones williams taylor brown davies evans wilson thomas johnson roberts robinson thompson wright
    walker edwards hughes lewis harris clarke patel jackson turner martin cooper morris moore clark
    lee harrison morgan allen scott phillips watson davis parker price bennett griffiths mitchell
    kelly carter richardson bailey collins murphy miller cox richards khan marshall anderson simpson
    ellis adams singh begum wilkinson foster chapman powell webb rogers gray mason ali hunt hussain
    campbell matthews owen palmer holmes mills barnes knight lloyd butler russell barker fisher
    stevens jenkins murray dixon harvey graham pearson ahmed fletcher walsh kaur gibson howard
    andrews stewart elliott reynolds saunders payne ford pearce atkinson bradley spencer gill dawson
    burton o'brien watts booth perry ryan grant wells armstrong francis rees hayes hudson newman
    barrett webster hunter gregory riley dunn parsons reid robertson newton kennedy williamson
    gardner shah henderson parry burgess nicholson shepherd ross freeman warren nicholls hamilton
    byrne sutton mcdonald yates hodgson robson curtis hopkins o'connor harper coleman watkins
    mccarthy chambers o'neill griffin hardy osborne johnston gordon doyle wallace jordan
    hutchinson burke pritchard gilbert willis higgins stevenson stephenson hammond buckley walters
    hewitt nelson slater austin sullivan whitehead lambert stephens akhtar lynch goodwin barton
    woodward thomson cunningham quinn barnett baxter bibi clayton jennings kemp gallagher stokes
    davidson fowler lawson ferguson hayward carroll douglas dickinson todd barlow peters lucas
    knowles hartley miah simmons morton morrison norris townsend preston hancock thornton baldwin
    burrows briggs okafor adeyemi nowak kowalski mensah okoro chowdhury rahman islam uddin choudhury
    iqbal malik mahmood rashid sharma kumar gupta nguyen chen wang zhang li kowalczyk wojcik
"""
SURNAMES: Final = frozenset(_SURNAMES.split())

# After these a "name" is a place: James Cook University Hospital, Mary Seacole Ward.
_PLACE_WORDS = """
    hospital hospitals university infirmary centre center ward wards unit house suite wing lodge
    building clinic practice surgery court road street avenue lane hall college school service
    services team teams office station department dept room theatre theatres programme
"""
PLACE_WORDS: Final = frozenset(_PLACE_WORDS.split())
# After a role word and one more word, these make the whole a service ("Nurse Specialist Clinic").
SERVICE_WORDS: Final = word_set("clinic clinics unit service services team centre suite programme department")
