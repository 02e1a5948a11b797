"""A realistic synthetic feed for one fictional ICB: the demo's source, and load for the benchmark.

Fictional on purpose: organisation names and ODS-format codes are invented, so a screenshot of a
demo "hotspot" can never be mistaken for a statement about a real ward. Every source kind of
FeedbackEvent v1 appears, some texts carry planted personal data (so the demo shows redaction
working), and hotspots are planted on a schedule so alerts fire within the first minute.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.feedback_event import format_timestamp

ICB = "QNB"  # "NHS Northby and Riverside ICB" (fictional)


@dataclass(frozen=True)
class Unit:
    provider: str
    provider_name: str
    site: str
    ward: str


UNITS: tuple[Unit, ...] = (
    Unit("R1A", "Northby Teaching Hospitals NHS Foundation Trust", "R1A01", "Ward 7 Acute Medicine"),
    Unit("R1A", "Northby Teaching Hospitals NHS Foundation Trust", "R1A01", "Ward 12 Surgery"),
    Unit("R1A", "Northby Teaching Hospitals NHS Foundation Trust", "R1A01", "Emergency Department"),
    Unit("R1A", "Northby Teaching Hospitals NHS Foundation Trust", "R1A01", "Maternity Unit"),
    Unit("R1A", "Northby Teaching Hospitals NHS Foundation Trust", "R1A02", "Ward 3 Elderly Care"),
    Unit("R1A", "Northby Teaching Hospitals NHS Foundation Trust", "R1A02", "Outpatients"),
    Unit("R2B", "Riverside and Dales Mental Health NHS Trust", "R2B01", "Oak Ward"),
    Unit("R2B", "Riverside and Dales Mental Health NHS Trust", "R2B01", "Willow Ward"),
    Unit("R2B", "Riverside and Dales Mental Health NHS Trust", "R2B02", "Crisis Team"),
    Unit("R3C", "Northby Ambulance Service NHS Trust", "R3C01", "999 Service"),
    Unit("R3C", "Northby Ambulance Service NHS Trust", "R3C01", "Patient Transport"),
    Unit("B82001", "Riverside Medical Practice", "B82001", "Reception"),
    Unit("B82002", "Dales Surgery", "B82002", "Reception"),
    Unit("B82003", "Northby Health Centre", "B82003", "Nurse Clinic"),
)

# Phrases by domain, written the way patients, staff and GPs write.
PHRASES: dict[str, tuple[str, ...]] = {
    "safe": (
        "my father was given the wrong dose of his insulin",
        "she fell getting out of bed and nobody checked on her for an hour",
        "the pressure sore on his heel was not noticed until discharge",
        "the discharge letter did not list the new blood thinner",
        "antibiotics were delayed by six hours despite signs of sepsis",
        "her pain relief was missed twice overnight",
        "the referral for the scan was lost and never chased",
        "the team responded quickly and the treatment was excellent",
    ),
    "relationships": (
        "the nurses were kind and patient with my mum",
        "the doctor was dismissive and talked over us",
        "staff were rude when we asked for help",
        "the healthcare assistant treated him with real dignity",
        "nobody listened to me as his carer",
        "the receptionist was abrupt and unhelpful",
        "thank you to everyone on the ward, you were wonderful",
    ),
    "information": (
        "nobody explained what the medication was for or the side effects",
        "we were not told about the change to the operation date",
        "the letter went to the wrong address",
        "we were given conflicting information by different doctors",
        "no interpreter was offered even though we asked",
        "the consultant explained everything clearly and answered all our questions",
    ),
    "access": (
        "we waited nine hours in A&E",
        "I could not get through on the phone at 8am for an appointment",
        "the ambulance took over two hours to arrive",
        "my operation has been cancelled three times",
        "the waiting list for the memory clinic is over a year",
        "there was nowhere to park and I missed my appointment",
        "I was seen quickly and on time",
    ),
    "environment": (
        "the toilets on the ward were dirty",
        "the food was cold and there was no halal option",
        "it was so noisy at night nobody could sleep",
        "the ward was spotless and the food was lovely",
        "the waiting room was freezing",
        "there were no curtains around the bed in the mixed bay",
    ),
}

# Planted personal data: the stream must redact every one of these before storage.
PERSONAL = (
    "My name is Sarah Jones and my NHS number is 943 476 5919.",
    "Please call me on 07700 900123 or email sarah.jones@example.com.",
    "Patient Mr David Okafor, hospital number MRN 4471223, DOB 12/03/1948.",
    "We live at 14 Acacia Avenue, Northby NB3 4QT.",
    "Yours sincerely, Margaret Hughes",
    "Dr Alan Whitfield saw my son.",
)

SOURCES = (
    "complaint", "pals", "incident", "fft", "ppi_survey", "gp_comment_card", "gp_clinical_concern",
    "mp_letter", "local_media", "social_media", "healthwatch", "partner", "web_form",
)  # fmt: skip
# Roughly how often each source speaks in a real ICB: FFT and incidents dominate.
SOURCE_WEIGHTS = (8, 6, 14, 30, 2, 4, 3, 1, 1, 6, 2, 1, 3)
REPORTER = {
    "complaint": "patient", "pals": "carer", "incident": "staff", "fft": "patient", "ppi_survey": "patient",
    "gp_comment_card": "patient", "gp_clinical_concern": "gp", "mp_letter": "mp", "local_media": "public",
    "social_media": "public", "healthwatch": "partner", "partner": "partner", "web_form": "patient",
}  # fmt: skip
INCIDENT_CODES = {
    "safe": ("nrls:medication", "nrls:patient_accident", "nrls:implementation_of_care"),
    "access": ("nrls:access_admission_transfer_discharge",),
    "environment": ("nrls:infrastructure",),
    "information": ("nrls:consent_communication_confidentiality",),
    "relationships": ("nrls:consent_communication_confidentiality",),
}


@dataclass(frozen=True)
class PlantedHotspot:
    """A burst that a demo rule should catch: `count` events on one unit, starting `after` seconds in."""

    name: str
    unit: Unit
    source: str
    domain: str
    after_s: float
    count: int
    spacing_s: float
    severity: str | None = None  # incidents: planted bursts are harmful ones


HOTSPOTS: tuple[PlantedHotspot, ...] = (
    PlantedHotspot("falls-and-medication on Ward 7", UNITS[0], "incident", "safe", 15, 7, 2.0, "moderate"),
    PlantedHotspot("A&E waits complaints", UNITS[2], "complaint", "access", 30, 8, 1.5),
    PlantedHotspot("cleanliness on Oak Ward", UNITS[6], "fft", "environment", 45, 8, 1.0),
)


class SyntheticFeed:
    """Deterministic for a seed: the same seed gives the same events, which keeps benchmarks comparable."""

    def __init__(self, seed: int = 7, *, personal_data_rate: float = 0.08) -> None:
        self._random = random.Random(seed)
        self._personal_rate = personal_data_rate
        self._serial = 0
        self._run = f"{seed:x}-{int(time.time()):x}"

    def _text(self, domains: list[str]) -> str:
        r = self._random
        parts = [r.choice(PHRASES[d]) for d in domains]
        text = ". ".join(p[0].upper() + p[1:] for p in parts) + "."
        if r.random() < self._personal_rate:
            text = f"{text} {r.choice(PERSONAL)}"
        return text

    def event(
        self,
        occurred_at: datetime,
        *,
        unit: Unit | None = None,
        source: str | None = None,
        domain: str | None = None,
        severity: str | None = None,
    ) -> dict[str, Any]:
        """One FeedbackEvent v1 dict; unspecified parts are drawn at random."""
        r = self._random
        self._serial += 1
        source = source or r.choices(SOURCES, weights=SOURCE_WEIGHTS)[0]
        unit = unit or r.choice(UNITS)
        domains = [domain] if domain else r.sample(list(PHRASES), k=r.choice((1, 1, 1, 2)))
        event: dict[str, Any] = {
            "event_id": f"syn-{self._run}-{self._serial:08d}",
            "source": source,
            "occurred_at": format_timestamp(occurred_at),
            "organisation": ICB,
            "provider": unit.provider,
            "site": unit.site,
            "ward": unit.ward,
            "text": self._text(domains),
            "reporter": REPORTER[source],
            "attributes": {"feed": "synthetic"},
        }
        if source == "incident":
            drawn = r.choices(("no_harm", "low", "moderate", "severe"), weights=(40, 40, 15, 5))[0]
            event["severity"] = severity or drawn
            event["category_codes"] = [r.choice(INCIDENT_CODES[domains[0]])]
        if source == "fft":
            positive = any(
                w in event["text"] for w in ("kind", "excellent", "lovely", "wonderful", "quickly", "clearly")
            )
            event["rating"] = r.choice((1, 2)) if positive else r.choice((2, 3, 4, 5))
        return event

    def stream(
        self, start: datetime, *, rate_per_s: float, duration_s: float | None = None
    ) -> Iterator[tuple[float, dict[str, Any]]]:
        """(seconds from start, event) in time order: background feedback plus the planted hotspots."""
        r = self._random
        planned: list[tuple[float, PlantedHotspot | None]] = []
        t = 0.0
        horizon = duration_s if duration_s is not None else float("inf")
        for hotspot in HOTSPOTS:
            if hotspot.after_s < horizon:
                planned.extend(
                    (hotspot.after_s + i * hotspot.spacing_s, hotspot) for i in range(hotspot.count)
                )
        planned.sort(key=lambda item: item[0])
        while t < horizon:
            t += r.expovariate(rate_per_s) if rate_per_s > 0 else horizon
            while planned and planned[0][0] <= t:
                at, hotspot = planned.pop(0)
                assert hotspot is not None
                yield (
                    at,
                    self.event(
                        start + timedelta(seconds=at),
                        unit=hotspot.unit,
                        source=hotspot.source,
                        domain=hotspot.domain,
                        severity=hotspot.severity,
                    ),
                )
            if t < horizon:
                yield t, self.event(start + timedelta(seconds=t))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "synthetic", help="a realistic synthetic feed for a fictional ICB (demo, load tests)"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="background events per second (default 20)")
    parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--topic", default=None, help="topic to write (default feedback.raw)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from schemas.settings import Settings

    settings: Settings = args.settings
    return asyncio.run(
        play(
            settings.kafka_bootstrap,
            rate=args.rate,
            duration_s=args.duration,
            seed=args.seed,
            topic=args.topic,
        )
    )


async def play(
    bootstrap: str,
    *,
    rate: float,
    duration_s: float | None,
    seed: int = 7,
    topic: str | None = None,
    quiet: bool = False,
) -> int:
    """Produce the feed in real time (event time = wall time) for `duration_s`; returns events sent."""
    from connectors.producer import FeedbackProducer
    from schemas import topics

    feed = SyntheticFeed(seed)
    start = datetime.now(UTC)
    began = time.monotonic()
    sent = 0
    batch: list[dict[str, Any]] = []
    async with FeedbackProducer(
        bootstrap, topic=topic or topics.RAW, client_id="pxstream-synthetic"
    ) as producer:
        for at, event in feed.stream(start, rate_per_s=rate, duration_s=duration_s):
            delay = at - (time.monotonic() - began)
            if delay > 0:
                if batch:
                    sent += await producer.send_many(batch)
                    batch.clear()
                await asyncio.sleep(delay)  # pacing a real-time feed, not waiting for a condition
            batch.append(event)
            if len(batch) >= 500:
                sent += await producer.send_many(batch)
                batch.clear()
            if not quiet and sent and sent % 100 == 0:
                print(f"\rsynthetic: {sent} events sent", end="", file=sys.stderr)
        if batch:
            sent += await producer.send_many(batch)
    if not quiet:
        print(f"\rsynthetic: {sent} events sent", file=sys.stderr)
    return sent
