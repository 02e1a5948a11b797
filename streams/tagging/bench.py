"""Throughput of the hot path: redact + tag, on one core, in-process.

    python -m streams.tagging.bench            # on the FFT comments, prints JSON

``bench_tagging`` is what ``pxstream bench`` can call for the tagging stage. Rates are events
per CPU-second of this process (``time.process_time``), so other work on a shared machine does
not distort them; wall-clock rates are reported beside them. The tagger is warmed first (its
per-word and per-token caches fill within the first few thousand texts of any feed); the
uncached rate analyses every text from scratch, the cached rate is what a feed full of
"Very good" and "Nothing." actually sees.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence

from streams.redaction import redact
from streams.tagging.model import MODEL_PATH, LinearDomainModel
from streams.tagging.tagger import TAGGER_VERSION, Tagger


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) spent in ``work``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


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


def main() -> int:
    from lab.tagging.data import load_fft

    texts = [e.text for split in ("train", "test") for e in load_fft(split)]
    print(json.dumps(bench_tagging(texts), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
