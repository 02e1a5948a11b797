"""Throughput of the hot path: redact + tag, on one core, in-process.

    python -m streams.tagging.bench            # on the FFT comments, prints JSON

``bench_tagging`` is what ``pxstream bench`` calls for the tagging stage. It reports the
uncached rate (every text analysed from scratch) as the honest floor, and the rate with the
short-text cache, which is what a feed full of "Very good" and "Nothing." actually sees.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence

from streams.redaction import redact
from streams.tagging.model import MODEL_PATH, LinearDomainModel
from streams.tagging.tagger import TAGGER_VERSION, Tagger


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def bench_tagging(texts: Sequence[str], source: str = "fft", repeat: int = 1) -> dict:
    """Time redaction, tagging and both together over ``texts``; return events/s figures."""
    texts = list(texts) * max(1, repeat)
    model = LinearDomainModel.load(MODEL_PATH)

    start = time.perf_counter()
    redacted = [redact(text).text for text in texts]
    redact_s = time.perf_counter() - start

    uncached = Tagger(model, cache_size=0)
    items = [(text, source, ()) for text in redacted]
    start = time.perf_counter()
    uncached.tag_many(items)
    tag_s = time.perf_counter() - start

    start = time.perf_counter()
    for text in texts:
        uncached.tag(redact(text).text, source, ())
    combined_s = time.perf_counter() - start

    cached = Tagger(model)
    start = time.perf_counter()
    for text in texts:
        cached.tag(redact(text).text, source, ())
    combined_cached_s = time.perf_counter() - start

    return {
        "texts": len(texts),
        "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1),
        "redact_per_s": _rate(len(texts), redact_s),
        "tag_per_s": _rate(len(texts), tag_s),
        "redact_tag_per_s": _rate(len(texts), combined_s),
        "redact_tag_cached_per_s": _rate(len(texts), combined_cached_s),
        "tagger_version": TAGGER_VERSION,
        "model_bytes": MODEL_PATH.stat().st_size,
        "machine": f"{platform.machine()} {platform.processor() or platform.python_implementation()}",
        "python": platform.python_version(),
    }


def main() -> int:
    from streams.tagging.data import load_fft

    texts = [e.text for split in ("train", "test") for e in load_fft(split)]
    print(json.dumps(bench_tagging(texts), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
