"""Throughput of the hot path: validate + redact + tag, on one core, in-process, in batches.

    pxstream bench --only tagging          # or: python -m bench.tagging [--events 20000] [--batch 500]

``bench_tagging`` times redaction and tagging over given texts; ``bench_pipeline`` runs the
stream's own ``Pipeline`` (validate → redact → tag → TaggedEvent bytes) over FeedbackEvent
records in batches, and ``tagger_parts`` splits one tagging call into its parts, in µs/event.
Rates are events per CPU-second of this process (``time.process_time``), so other work on a
shared machine does not distort them. The tagger is warmed first (its per-word and per-token
caches fill within the first few thousand texts of any feed); the uncached rate analyses every
text from scratch, the cached rate is what a feed full of "Very good" and "Nothing." sees.

The realistic mix (``realistic_mix``) is what a commissioner's feed looks like: mostly short
FFT-style comments, a quarter complaints, incident forms, letters, posts and reports, and one in
twenty a long letter of 1,500–6,000 characters.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from schemas.settings import Settings
from streams.redaction import redact
from streams.tagging import features, phrases
from streams.tagging.model import MODEL_PATH, LinearDomainModel, lexicon_features
from streams.tagging.tagger import TAGGER_VERSION, Tagger

MIX_SEED = 20261203
LONG_SHARE = 0.05
MULTI_SOURCE_SHARE = 0.25


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) spent in ``work``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def _micros(seconds: float, count: int) -> float:
    return round(1e6 * seconds / max(1, count), 1)


def realistic_mix(
    short: Sequence[str], multi_source: Sequence[tuple[str, str]], count: int, seed: int = MIX_SEED
) -> list[tuple[str, str]]:
    """``count`` (text, source) pairs: FFT comments, multi-source texts and long letters."""
    rng = random.Random(seed)
    mix: list[tuple[str, str]] = []
    for _ in range(count):
        draw = rng.random()
        if draw < LONG_SHARE:
            parts: list[str] = []
            target = rng.randint(1500, 6000)
            while sum(map(len, parts)) < target:
                parts.append(rng.choice(multi_source)[0])
            mix.append((" ".join(parts), rng.choice(("complaint", "mp_letter", "healthwatch"))))
        elif draw < LONG_SHARE + MULTI_SOURCE_SHARE:
            mix.append(rng.choice(multi_source))
        else:
            mix.append((rng.choice(short), "fft"))
    return mix


def bench_tagging(texts: Sequence[str], source: str = "fft") -> dict:
    """Time redaction, tagging and both together over ``texts``; return events/s figures."""
    texts = list(texts)
    n = len(texts)
    model = LinearDomainModel.load(MODEL_PATH)
    uncached = Tagger(model, cache_size=0)
    redacted = [redact(text).text for text in texts]
    items = [(text, source, ()) for text in redacted]
    cold_cpu, _ = _timed(lambda: uncached.tag_many(items))  # first pass fills word/token caches

    redact_cpu, redact_wall = _timed(lambda: [redact(text) for text in texts])
    tag_cpu, _ = _timed(lambda: uncached.tag_many(items))
    both_cpu, both_wall = _timed(lambda: [uncached.tag(redact(t).text, source, ()) for t in texts])
    cached = Tagger(model)
    cached_cpu, _ = _timed(lambda: [cached.tag(redact(t).text, source, ()) for t in texts])

    return {
        "texts": n,
        "mean_chars": round(sum(map(len, texts)) / max(1, n), 1),
        "redact_per_s": _rate(n, redact_cpu),
        "tag_per_s": _rate(n, tag_cpu),
        "tag_cold_per_s": _rate(n, cold_cpu),
        "redact_tag_per_s": _rate(n, both_cpu),
        "redact_tag_cached_per_s": _rate(n, cached_cpu),
        "redact_wall_per_s": _rate(n, redact_wall),
        "redact_tag_wall_per_s": _rate(n, both_wall),
        "tagger_version": TAGGER_VERSION,
        "model_bytes": MODEL_PATH.stat().st_size,
        "machine": f"{platform.machine()} {platform.processor() or platform.python_implementation()}",
        "python": platform.python_version(),
    }


def tagger_parts(items: Sequence[tuple[str, str]]) -> dict[str, float]:
    """µs per event of each part of one uncached tagging call, on redacted texts.

    Parts: normalising the text, the phrase matcher (lexicon, decisive phrases, themes), the
    model's word block (with learned sentiment), its character block, the word-list sentiment,
    and what remains of ``Tagger.tag`` (codes, source priors, combination, evidence).
    """
    model = LinearDomainModel.load(MODEL_PATH)
    tagger = Tagger(model, cache_size=0)
    texts = [redact(text).text for text, _ in items]
    tagger.tag_many([(text, source, ()) for text, (_, source) in zip(texts, items, strict=True)])  # warm
    n = len(texts)
    norm_cpu, _ = _timed(lambda: [features.normalise(t) for t in texts])
    norms = [features.normalise(t) for t in texts]
    phrase_cpu, _ = _timed(lambda: [phrases.analyse(x) for x in norms])
    found = [phrases.analyse(x) for x in norms]
    totals = [0.0] * 5

    def word_block() -> None:
        for x in norms:
            model._word_block(features.word_terms(x), list(totals))

    def char_block() -> None:
        for x in norms:
            model._char_block(x, list(totals))

    word_cpu, _ = _timed(word_block)
    char_cpu, _ = _timed(char_block)
    lexicon_cpu, _ = _timed(lambda: [lexicon_features(h, s) for h, s, _ in found])
    sentiment_cpu, _ = _timed(lambda: [phrases.sentiment_evidence(x) for x in norms])
    whole_cpu, _ = _timed(
        lambda: tagger.tag_many([(t, s, ()) for t, (_, s) in zip(texts, items, strict=True)])
    )
    parts = {
        "normalise": norm_cpu,
        "phrases": phrase_cpu,
        "model_words": word_cpu,
        "model_chars": char_cpu,
        "lexicon_features": lexicon_cpu,
        "sentiment_words": sentiment_cpu,
    }
    parts["combine_and_evidence"] = max(0.0, whole_cpu - sum(parts.values()))
    out = {name: _micros(seconds, n) for name, seconds in parts.items()}
    out["tag_total"] = _micros(whole_cpu, n)
    return out


def _records(items: Sequence[tuple[str, str]]) -> list:
    from streams.pipeline import RawRecord

    now = datetime.now(UTC).isoformat()
    return [
        RawRecord(
            value=orjson.dumps(
                {
                    "event_id": f"bench-{i}",
                    "source": source,
                    "occurred_at": now,
                    "provider": "RX1",
                    "text": text,
                }
            ),
            key=b"RX1",
            offset=i,
        )
        for i, (text, source) in enumerate(items)
    ]


def bench_pipeline(items: Sequence[tuple[str, str]], batch: int = 500) -> dict:
    """validate → redact → tag → TaggedEvent bytes, as the stream runs it, in batches of ``batch``."""
    from streams.pipeline import Pipeline

    records = _records(items)
    pipeline = Pipeline.default()
    pipeline.process(records[: min(len(records), 2000)])  # warm the caches
    done = 0

    def run() -> None:
        nonlocal done
        for start in range(0, len(records), batch):
            result = pipeline.process(records[start : start + batch])
            done += len(result.tagged)

    cpu, wall = _timed(run)
    n = len(records)
    return {
        "events": n,
        "tagged": done,
        "batch": batch,
        "mean_chars": round(sum(len(t) for t, _ in items) / max(1, n), 1),
        "max_chars": max((len(t) for t, _ in items), default=0),
        "validate_redact_tag_per_s": _rate(n, cpu),
        "validate_redact_tag_wall_per_s": _rate(n, wall),
        "us_per_event": _micros(cpu, n),
    }


def bench_realistic_mix(fft_data: Path | None, events: int = 20_000, batch: int = 500) -> dict:
    """The stateless stage's path and the tagger's parts on the realistic mix (CPU µs per event)."""
    # Reading the labelled sets is the lab's job; the bench borrows their texts, not their labels.
    from lab.tagging.data import TRAIN_PATH, load_dev, load_fft, load_labelled, load_other_sources

    short = [e.text for split in ("train", "test") for e in load_fft(split, fft_data)]
    multi = [(e.text, e.source) for e in load_other_sources() + load_labelled(TRAIN_PATH) + load_dev()]
    mix = realistic_mix(short, multi, events)
    redacted = [(redact(text).text, source) for text, source in mix]
    redact_cpu, _ = _timed(lambda: [redact(text) for text, _ in mix])
    return {
        "pipeline": bench_pipeline(mix, batch),
        "redact_us_per_event": _micros(redact_cpu, len(mix)),
        "tagger_parts_us_per_event": tagger_parts(redacted),
        "tagger_version": TAGGER_VERSION,
        "model_bytes": MODEL_PATH.stat().st_size,
        "machine": f"{platform.machine()} {platform.processor() or platform.python_implementation()}",
        "python": platform.python_version(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    fft_data = Settings.from_env().fft_data  # this command's edge
    print(json.dumps(bench_realistic_mix(fft_data, args.events, args.batch), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
