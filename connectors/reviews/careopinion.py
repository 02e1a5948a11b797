"""`pxstream connect careopinion`: stories from the Care Opinion API v2, as `web_form` events.

Incremental by publication date: each pass asks for `publishedafter=<newest publication seen>`
(one second earlier, so stories published in the same second as a page boundary are not lost —
the run loop drops the replayed ones by `event_id`), pages with `take` ≤ 100 / `skip`, and saves
the newest publication date once Kafka has the page. Requests stay under the documented 5 per
second; a 429 waits until `X-RateLimit-Reset` (UNIX epoch seconds) and asks again.

Mapping choices (documented in the report and README):
* `source: web_form` — a story a patient or carer wrote on a public feedback website. Not
  `partner` (intelligence relayed by Healthwatch or a council) nor `ppi_survey` (a structured
  survey). NHS.UK reviews use the same source, so a syndicated story collapses to one event.
* `event_id: careopinion:<opinion id>` — the NHS.UK connector gives a syndicated copy the same id.
* `severity` from `criticality` is **lossy**: criticality grades how critical the author is,
  not harm. minimally/mildly → low, moderately → moderate, strongly/severely → severe; "not
  critical" gives no severity; never `death`. The original is kept in `attributes.criticality`.
* tags → `category_codes` as `careopinion:<tag>` hints, plus a few national `ko41a:` codes for
  negatively tagged themes whose meaning is unambiguous; tags also in attributes by polarity.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.exceptions import ConnectorConfigError
from connectors.mapping import ReferenceLike, clip, iso_utc, placement, text_fingerprint
from connectors.ratelimit import RequestPacer
from connectors.reviews._http import get_json
from connectors.runtime import Batch, Source, aiohttp

if TYPE_CHECKING:
    from schemas.settings import Settings

BASE_URL = "https://www.careopinion.org.uk/api/v2"
API_KEY_ENV = "CAREOPINION_API_KEY"  # the default variable of the key (`api_key_env` names another)
MAX_TAKE = 100

CRITICALITY_TO_SEVERITY = {
    "not critical": None,
    "minimally critical": "low",
    "mildly critical": "low",
    "moderately critical": "moderate",
    "strongly critical": "severe",
    "severely critical": "severe",
}

# Negative tags whose meaning maps to one KO41a subject without doubt; everything else is a hint.
_KO41A_HINTS = (
    (re.compile(r"\bwait", re.I), "ko41a:waiting_times"),
    (re.compile(r"\bappointment", re.I), "ko41a:appointments"),
    (re.compile(r"\bcommunicat|\binformation\b", re.I), "ko41a:communications"),
    (re.compile(r"\battitude|\brude|\bcompassion|\bcaring\b", re.I), "ko41a:staff_attitude"),
    (re.compile(r"\bstaffing|\bshort.staffed|\bstaff numbers", re.I), "ko41a:staff_numbers"),
    (re.compile(r"\bdischarge", re.I), "ko41a:admissions_discharges_transfers"),
    (re.compile(r"\bmedication|\bprescri", re.I), "ko41a:prescribing"),
    (re.compile(r"\bdignity|\bprivacy", re.I), "ko41a:privacy_dignity_wellbeing"),
    (re.compile(r"\bclean|\bfood\b|\bparking", re.I), "ko41a:facilities"),
    (re.compile(r"\btransport", re.I), "ko41a:transport"),
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")


def tag_codes(tags: Sequence[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    codes: list[str] = []
    by_polarity: dict[str, list[str]] = {}
    for tag in tags:
        name = str(tag.get("name", "")).strip()
        if not name:
            continue
        polarity = str(tag.get("polarity") or "neutral").casefold()
        by_polarity.setdefault(polarity, []).append(name)
        codes.append(f"careopinion:{_slug(name)}")
        if polarity == "negative":
            codes.extend(code for pattern, code in _KO41A_HINTS if pattern.search(name))
    attributes = {f"tags_{polarity}": ", ".join(names)[:1000] for polarity, names in by_polarity.items()}
    return list(dict.fromkeys(codes)), attributes


def healthservice_codes(opinion: dict[str, Any]) -> list[str]:
    return [
        str(link["id"])
        for link in opinion.get("links") or []
        if str(link.get("rel", "")).casefold() == "healthservice" and link.get("id")
    ]


def map_opinion(
    opinion: dict[str, Any], tags: Sequence[dict[str, Any]], reference: ReferenceLike
) -> dict[str, Any]:
    opinion_id = str(opinion["id"])
    title = str(opinion.get("title") or "").strip()
    body = str(opinion.get("body") or "").strip()
    text = f"{title}\n\n{body}".strip()
    services = healthservice_codes(opinion)
    known = next((org for code in services if (org := reference.get(code)) is not None), None)
    fields = placement(known, services[0] if services else None)
    codes, tag_attributes = tag_codes(tags)
    attributes: dict[str, str] = {
        "url": f"https://www.careopinion.org.uk/{opinion_id}",
        "text_fingerprint": text_fingerprint(title, body),
        **tag_attributes,
    }
    if services:
        attributes["healthservices"] = ",".join(services)[:500]
    published = iso_utc(opinion.get("dateOfPublication"))
    if published:
        attributes["published_at"] = published
    criticality = str(opinion.get("criticality") or "").strip().casefold()
    if criticality:
        attributes["criticality"] = criticality
    event: dict[str, Any] = {
        "event_id": f"careopinion:{opinion_id}",
        "source": "web_form",
        "occurred_at": iso_utc(opinion.get("dateOfSubmission")) or published,
        "text": clip(text),
        **fields,
        "attributes": attributes,
    }
    if codes:
        event["category_codes"] = codes
    severity = CRITICALITY_TO_SEVERITY.get(criticality)
    if severity:
        event["severity"] = severity
    role = str(opinion.get("authorRole") or "").casefold()
    if role in ("patient", "carer"):
        event["reporter"] = role
    elif role in ("relative", "parent/guardian", "parent", "guardian"):
        event["reporter"] = "carer"
    return event


class CareOpinionSource(Source):
    kind = "careopinion"

    def __init__(
        self,
        api_key: str,
        reference: ReferenceLike,
        *,
        base_url: str = BASE_URL,
        since: datetime | None = None,
        take: int = MAX_TAKE,
        requests_per_s: float = 5.0,
        poll_interval_s: float = 600.0,
        filters: dict[str, str] | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ConnectorConfigError(
                "careopinion: no subscription key (set CAREOPINION_API_KEY or pass --api-key-file)"
            )
        if not 1 <= take <= MAX_TAKE:
            raise ConnectorConfigError(f"careopinion: take must be 1..{MAX_TAKE}, got {take}")
        if requests_per_s > 5:
            raise ConnectorConfigError("careopinion: the API allows at most 5 requests per second")
        self.api_key = api_key.strip()
        self.reference = reference
        self.base_url = base_url.rstrip("/")
        self.since = since or datetime.now(UTC) - timedelta(days=30)
        self.take = take
        self.limiter = RequestPacer(requests_per_s, burst=1)
        self.poll_interval_s = poll_interval_s
        self.filters = dict(filters or {})
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60),
            headers={"Authorization": f"SUBSCRIPTION_KEY {self.api_key}", "Accept": "application/json"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self, cursor: dict[str, Any]) -> str:
        return f"published after {cursor.get('published_after', 'start')}"

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        assert self._session is not None, "open() first"
        return await get_json(
            self._session,
            f"{self.base_url}{path}",
            params=params,
            limiter=self.limiter,
            where=f"careopinion {self.base_url}{path}",
        )

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        after = _parse(cursor.get("published_after")) or self.since
        query_after = (after - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        newest = after
        skip = 0
        while True:
            params: dict[str, str | int] = {
                **self.filters,
                "publishedafter": query_after,
                "take": self.take,
                "skip": skip,
            }
            page = _items(await self._get("/opinions", params))
            if not page:
                return
            events = []
            for opinion in page:
                tags = _items(await self._get(f"/opinions/{opinion['id']}/tags"))
                events.append(map_opinion(opinion, tags, self.reference))
                published = _parse(opinion.get("dateOfPublication"))
                if published is not None and published > newest:
                    newest = published
            yield Batch(events, cursor={"published_after": iso_utc(newest)})
            if len(page) < self.take:
                return
            skip += self.take


def _items(payload: Any) -> list[dict[str, Any]]:
    """The API returns a JSON array; tolerate an envelope object too."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in ("items", "opinions", "tags", "data"):
            if isinstance(payload.get(key), list):
                return payload[key]
    return []


def _parse(value: Any) -> datetime | None:
    text = iso_utc(value) if value else None
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def build_source(
    options: dict[str, Any], reference: ReferenceLike, secret: Callable[[str], str]
) -> CareOpinionSource:
    """From the YAML runner: api_key_env (default CAREOPINION_API_KEY), base_url, since, filters;
    `secret` reads the variable it names (`Settings.secret`)."""
    env = str(options.get("api_key_env", API_KEY_ENV))
    since = _parse(options["since"]) if options.get("since") else None
    return CareOpinionSource(
        secret(env),
        reference,
        base_url=str(options.get("base_url", BASE_URL)),
        since=since,
        take=int(options.get("take", MAX_TAKE)),
        poll_interval_s=float(options.get("poll_interval_s", 600)),
        filters={str(k): str(v) for k, v in (options.get("filters") or {}).items()},
    )


def read_key(settings: Settings, env_name: str, key_file: str | None) -> str:
    """A connector command's secret: the `--…-file` when given, else the variable (`Settings.secret`)."""
    from pathlib import Path

    if key_file:
        try:
            return Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConnectorConfigError(f"cannot read key file {key_file}: {exc.strerror}") from exc
    return settings.secret(env_name)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser(
        "careopinion", help="stories from the Care Opinion API v2 (source web_form)"
    )
    parser.add_argument(
        "--api-key-file", help="file holding the subscription key (default $CAREOPINION_API_KEY)"
    )
    parser.add_argument("--base-url", default=BASE_URL, help=f"API base (default {BASE_URL})")
    parser.add_argument(
        "--since", help="first run: stories published after this ISO date (default 30 days ago)"
    )
    parser.add_argument(
        "--filter", action="append", default=[], metavar="NAME=VALUE", help="extra API search filter"
    )
    parser.add_argument("--reference", help="reference data directory (ODS files)")
    parser.add_argument("--interval", type=float, default=600.0, help="seconds between polls (default 600)")
    add_run_arguments(parser, "careopinion")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.command_line import load_reference, run_source_from_args

    filters = {}
    for pair in args.filter:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConnectorConfigError(f"--filter {pair!r}: expected NAME=VALUE")
        filters[name] = value
    since = _parse(args.since) if args.since else None
    if args.since and since is None:
        raise ConnectorConfigError(f"--since {args.since!r}: not an ISO 8601 date")
    source = CareOpinionSource(
        read_key(args.settings, API_KEY_ENV, args.api_key_file),
        load_reference(Path(args.reference) if args.reference else None),
        base_url=args.base_url,
        since=since,
        poll_interval_s=args.interval,
        filters=filters,
    )
    return run_source_from_args(args, source)
