"""`pxstream connect nhs-reviews`: NHS.UK ratings and reviews, as `web_form` events.

`GET https://api.nhs.uk/comments/Comments?odsCode=…&fromDate=…` with the `subscription-key`
header, per configured ODS code, paged with `offset`/`limit`. `fromDate` is a date, so each pass
asks again from the date of the newest review seen; the run loop drops the same-day replays by
`event_id`.

One story, one event. Care Opinion syndicates its stories to NHS.UK through the comment-capture
interface, and the NHS.UK payload names the partner that supplied a comment (`publisherID`) and
the partner's own reference (`publishersCommentRef`). A comment whose publisher is Care Opinion
therefore gets the Care Opinion connector's id, `careopinion:<publishersCommentRef>`, and the
same `source` (`web_form`): whichever connector delivers it first, every later stage collapses the
second copy on `event_id`. Other comments are `nhsuk:<commentId>`. Both connectors also record
`attributes.text_fingerprint` (normalised title + body) so copies that arrive without a partner
reference can still be matched by a later de-duplication step; the connector does not guess.

Star ratings (1–5, 5 best) become the FFT-style `rating` (1 = very good … 5 = very poor): lossy,
since a star is not the FFT question.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.exceptions import ConnectorConfigError
from connectors.mapping import ReferenceLike, clip, iso_utc, placement, text_fingerprint
from connectors.ratelimit import RequestPacer
from connectors.reviews._http import get_json
from connectors.runtime import Batch, Source, aiohttp

BASE_URL = "https://api.nhs.uk/comments"
API_KEY_ENV = "NHSUK_API_KEY"  # the default variable of the key (`api_key_env` names another)
API_VERSION = "1.0"
# publisherID values that mean "this comment came from Care Opinion" (configurable: unverified)
CARE_OPINION_PUBLISHERS = ("careopinion", "care opinion", "patientopinion", "patient opinion")


def _is_care_opinion(publisher: str, publishers: Sequence[str]) -> bool:
    folded = publisher.casefold().replace("-", "").replace("_", "")
    return any(name.replace(" ", "") in folded.replace(" ", "") for name in publishers)


def comment_event_id(comment: dict[str, Any], publishers: Sequence[str] = CARE_OPINION_PUBLISHERS) -> str:
    publisher = str(comment.get("publisherID") or "")
    reference = str(comment.get("publishersCommentRef") or "").strip()
    if publisher and reference and _is_care_opinion(publisher, publishers):
        return f"careopinion:{reference}"
    return f"nhsuk:{comment.get('commentId') or comment.get('commentRef')}"


def stars_to_fft(stars: int) -> int | None:
    return 6 - stars if 1 <= stars <= 5 else None


def _rating(comment: dict[str, Any]) -> int | None:
    ratings = [r for r in comment.get("ratings") or [] if isinstance(r, dict)]
    preferred = [
        r
        for r in ratings
        if any(w in str(r.get("question", "")).casefold() for w in ("overall", "recommend"))
    ]
    for item in preferred or ratings:
        value = item.get("rating")
        if isinstance(value, int) and not isinstance(value, bool):
            return stars_to_fft(value)
    return None


def map_comment(
    item: dict[str, Any], reference: ReferenceLike, publishers: Sequence[str] = CARE_OPINION_PUBLISHERS
) -> dict[str, Any] | None:
    comment = item.get("comment", item)
    if not isinstance(comment, dict) or str(comment.get("status", "published")).casefold() != "published":
        return None
    title = str(comment.get("title") or "").strip()
    body = str(comment.get("commentText") or "").strip()
    text = f"{title}\n\n{body}".strip()
    if not text:
        return None
    ods = str(comment.get("odsCode") or "").strip() or None
    fields = placement(reference.get(ods) if ods else None, ods)
    attributes = {"text_fingerprint": text_fingerprint(title, body)}
    if comment.get("commentOriginalURL"):
        attributes["url"] = str(comment["commentOriginalURL"])
    if comment.get("publisherID"):
        attributes["publisher"] = str(comment["publisherID"])
    visit = comment.get("visit")
    if isinstance(visit, dict) and visit.get("year") and visit.get("month"):
        attributes["visit_month"] = f"{int(visit['year']):04d}-{int(visit['month']):02d}"
    if item.get("response"):
        attributes["provider_replied"] = "true"
    event: dict[str, Any] = {
        "event_id": comment_event_id(comment, publishers),
        "source": "web_form",
        "occurred_at": iso_utc(comment.get("dateSubmitted")),
        "text": clip(text),
        **fields,
        "attributes": attributes,
    }
    if comment.get("department"):
        event["ward"] = str(comment["department"])[:200]
    rating = _rating(comment)
    if rating is not None:
        event["rating"] = rating
    return event


class NhsReviewsSource(Source):
    kind = "nhs-reviews"

    def __init__(
        self,
        api_key: str,
        ods_codes: Sequence[str],
        reference: ReferenceLike,
        *,
        base_url: str = BASE_URL,
        since: datetime | None = None,
        limit: int = 100,
        requests_per_s: float = 5.0,
        poll_interval_s: float = 3600.0,
        care_opinion_publishers: Sequence[str] = CARE_OPINION_PUBLISHERS,
        skip_care_opinion: bool = False,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ConnectorConfigError(
                "nhs-reviews: no subscription key (set NHSUK_API_KEY or pass --api-key-file)"
            )
        codes = [code.strip().upper() for code in ods_codes if code.strip()]
        if not codes:
            raise ConnectorConfigError("nhs-reviews: give at least one --ods code")
        bad = [code for code in codes if not code.isalnum() or len(code) > 10]
        if bad:
            raise ConnectorConfigError(f"nhs-reviews: {', '.join(bad)} is not an ODS code")
        if not 1 <= limit <= 1000:
            raise ConnectorConfigError(f"nhs-reviews: limit must be 1..1000, got {limit}")
        self.api_key = api_key.strip()
        self.ods_codes = codes
        self.reference = reference
        self.base_url = base_url.rstrip("/")
        self.since = since or datetime.now(UTC) - timedelta(days=30)
        self.limit = limit
        self.limiter = RequestPacer(requests_per_s, burst=1)
        self.poll_interval_s = poll_interval_s
        self.publishers = tuple(p.casefold() for p in care_opinion_publishers)
        # When the Care Opinion connector runs for the same services, its copy is the richer one
        # (tags, criticality): the syndicated NHS.UK copy need not be sent at all.
        self.skip_care_opinion = skip_care_opinion
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60),
            headers={"subscription-key": self.api_key, "Accept": "application/json"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self, cursor: dict[str, Any]) -> str:
        dates = cursor.get("from", {})
        return ", ".join(f"{code} from {dates.get(code, 'start')}" for code in self.ods_codes)

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        assert self._session is not None, "open() first"
        from_dates: dict[str, str] = dict(cursor.get("from", {}))
        for code in self.ods_codes:
            start = from_dates.get(code) or self.since.date().isoformat()
            newest = start
            offset = 0
            while True:
                payload = await get_json(
                    self._session,
                    f"{self.base_url}/Comments",
                    params={
                        "api-version": API_VERSION,
                        "odsCode": code,
                        "fromDate": start,
                        "offset": offset,
                        "limit": self.limit,
                    },
                    limiter=self.limiter,
                    where=f"nhs-reviews {self.base_url}/Comments odsCode={code}",
                )
                items = payload.get("comments", []) if isinstance(payload, dict) else payload or []
                events = []
                for item in items:
                    event = map_comment(item, self.reference, self.publishers)
                    if event is None:
                        continue
                    if self.skip_care_opinion and event["event_id"].startswith("careopinion:"):
                        continue
                    events.append(event)
                    day = (event.get("occurred_at") or "")[:10]
                    if day > newest:
                        newest = day
                from_dates[code] = newest
                yield Batch(events, cursor={"from": dict(from_dates)})
                if len(items) < self.limit:
                    break
                offset += self.limit


def build_source(
    options: dict[str, Any], reference: ReferenceLike, secret: Callable[[str], str]
) -> NhsReviewsSource:
    """From the YAML runner: ods_codes, api_key_env (default NHSUK_API_KEY), base_url, since;
    `secret` reads the variable it names (`Settings.secret`)."""
    since = options.get("since")
    return NhsReviewsSource(
        secret(str(options.get("api_key_env", API_KEY_ENV))),
        [str(code) for code in options.get("ods_codes") or []],
        reference,
        base_url=str(options.get("base_url", BASE_URL)),
        since=datetime.fromisoformat(str(since)).replace(tzinfo=UTC) if since else None,
        poll_interval_s=float(options.get("poll_interval_s", 3600)),
        skip_care_opinion=bool(options.get("skip_care_opinion", False)),
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser("nhs-reviews", help="NHS.UK ratings and reviews (source web_form)")
    parser.add_argument("--ods", action="append", default=[], metavar="CODE", help="ODS code (repeatable)")
    parser.add_argument("--api-key-file", help="file holding the subscription key (default $NHSUK_API_KEY)")
    parser.add_argument("--base-url", default=BASE_URL, help=f"API base (default {BASE_URL})")
    parser.add_argument("--since", help="first run: reviews from this date (YYYY-MM-DD; default 30 days ago)")
    parser.add_argument(
        "--skip-care-opinion",
        action="store_true",
        help="do not send stories syndicated from Care Opinion (when `connect careopinion` also runs)",
    )
    parser.add_argument("--reference", help="reference data directory (ODS files)")
    parser.add_argument("--interval", type=float, default=3600.0, help="seconds between polls (default 3600)")
    add_run_arguments(parser, "nhs-reviews")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.command_line import load_reference, run_source_from_args
    from connectors.reviews.careopinion import read_key

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
        except ValueError as exc:
            raise ConnectorConfigError(f"--since {args.since!r}: expected YYYY-MM-DD") from exc
    source = NhsReviewsSource(
        read_key(args.settings, API_KEY_ENV, args.api_key_file),
        args.ods,
        load_reference(Path(args.reference) if args.reference else None),
        base_url=args.base_url,
        since=since,
        poll_interval_s=args.interval,
        skip_care_opinion=args.skip_care_opinion,
    )
    return run_source_from_args(args, source)
