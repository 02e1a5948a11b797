"""Report tagger quality: micro/macro and per-domain precision, recall and F1.

    python -m lab.tagging.evaluate [--frozen] [--json]

Sets: the FFT ``test`` split (never used in training or threshold tuning); the development set
(``tests/data/tagger_dev.jsonl``: what lexicon, priors and thresholds are tuned on), reported per
source, without category codes (what the free text alone achieves) and as the incident safe-care
recall the hotspot rules depend on; the first 200 hand-labelled texts, training data now; and with
``--frozen`` the frozen multi-source set, the figure docs/tagging.md reports. Texts are redacted
first, as in the stream.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lab.tagging.data import Example, load_dev, load_fft, load_frozen, load_other_sources
from schemas.domains import DOMAIN_IDS, SAFE
from schemas.settings import Settings
from streams.redaction import redact
from streams.tagging.tagger import Tagger


@dataclass(frozen=True, slots=True)
class Scores:
    micro_f1: float
    macro_f1: float
    per_domain: dict[str, dict[str, float]]
    n: int
    # 95% percentile-bootstrap interval of macro-F1 over the examples (None when not computed)
    macro_f1_ci: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        out: dict = {
            "n": self.n,
            "micro_f1": self.micro_f1,
            "macro_f1": self.macro_f1,
            "per_domain": self.per_domain,
        }
        if self.macro_f1_ci is not None:
            out["macro_f1_ci95"] = list(self.macro_f1_ci)
        return out


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return precision, recall, f1


def score(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]]) -> Scores:
    """Multi-label micro and macro F1 over the five domains."""
    per_domain: dict[str, dict[str, float]] = {}
    total = [0, 0, 0]
    for domain in DOMAIN_IDS:
        tp = fp = fn = 0
        for g, p in zip(gold, predicted, strict=True):
            in_gold, in_pred = domain in g, domain in p
            tp += in_gold and in_pred
            fp += in_pred and not in_gold
            fn += in_gold and not in_pred
        precision, recall, f1 = _f1(tp, fp, fn)
        per_domain[domain] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "support": tp + fn,
        }
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
    micro = _f1(*total)[2]
    macro = sum(d["f1"] for d in per_domain.values()) / len(DOMAIN_IDS)
    return Scores(round(micro, 3), round(macro, 3), per_domain, len(gold))


BOOTSTRAP_SEED = 20261126


def macro_f1_interval(
    gold: Sequence[Iterable[str]],
    predicted: Sequence[Iterable[str]],
    resamples: int = 2000,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of macro-F1, resampling examples with replacement.

    The FFT test split has 63 comments about the environment and 105 about information: one
    domain's F1 moves by several points with a handful of comments, so a single macro-F1 figure
    hides how far it could fall or rise on another sample of the same feedback.
    """
    outcomes = []  # per example, per domain: 0 = true negative, 1 = tp, 2 = fp, 3 = fn
    for g, p in zip(gold, predicted, strict=True):
        g_set, p_set = set(g), set(p)
        outcomes.append(
            tuple((1 if d in p_set else 3) if d in g_set else (2 if d in p_set else 0) for d in DOMAIN_IDS)
        )
    rng = random.Random(seed)
    n = len(outcomes)
    macros = []
    for _ in range(resamples):
        counts = [[0, 0, 0, 0] for _ in DOMAIN_IDS]
        for _ in range(n):
            row = outcomes[rng.randrange(n)]
            for j, outcome in enumerate(row):
                counts[j][outcome] += 1
        macros.append(sum(_f1(c[1], c[2], c[3])[2] for c in counts) / len(DOMAIN_IDS))
    macros.sort()
    return round(macros[int(0.025 * resamples)], 3), round(macros[int(0.975 * resamples) - 1], 3)


def predict(tagger: Tagger, examples: Sequence[Example], use_codes: bool = True) -> list[list[str]]:
    items = [(redact(e.text).text, e.source, e.category_codes if use_codes else ()) for e in examples]
    return [tags.domains for tags in tagger.tag_many(items)]


def safe_recall(examples: Sequence[Example], predicted: Sequence[Iterable[str]], source: str) -> float:
    """Share of ``source`` texts labelled safe care that the tagger tags safe care.

    The shipped hotspot rule ``ward-incidents-24h`` counts only incidents tagged safe care, so an
    incident the tagger misses never counts toward a hotspot.
    """
    hits = [
        SAFE in p
        for e, p in zip(examples, predicted, strict=True)
        if e.source == source and SAFE in e.domains
    ]
    return round(sum(hits) / len(hits), 3) if hits else 0.0


def multi_source_report(tagger: Tagger, examples: Sequence[Example], name: str) -> dict[str, Scores]:
    """Overall (with and without codes), per source, for one multi-source set."""
    gold = [e.domains for e in examples]
    predicted = predict(tagger, examples)
    results = {
        name: replace(score(gold, predicted), macro_f1_ci=macro_f1_interval(gold, predicted)),
        f"{name}_text_only": score(gold, predict(tagger, examples, use_codes=False)),
    }
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_source[example.source].append(index)
    for source, indices in sorted(by_source.items()):
        results[f"{name}:{source}"] = score([gold[i] for i in indices], [predicted[i] for i in indices])
    results[f"{name}:incident_safe_recall"] = safe_recall(examples, predicted, "incident")  # type: ignore[assignment]
    return results


def evaluate(fft_data: Path | None, tagger: Tagger | None = None, frozen: bool = False) -> dict[str, Scores]:
    """FFT test, the development set, the old 200 (training data now) and, when asked, the frozen set;
    ``fft_data`` is ``Settings.fft_data`` (``PXSTREAM_FFT_DATA``)."""
    tagger = tagger or Tagger.default()
    results: dict[str, Scores] = {}
    fft = load_fft("test", fft_data)
    gold, predicted = [e.domains for e in fft], predict(tagger, fft)
    results["fft_test"] = replace(score(gold, predicted), macro_f1_ci=macro_f1_interval(gold, predicted))
    other = load_other_sources()
    results["first_200"] = score([e.domains for e in other], predict(tagger, other))
    results.update(multi_source_report(tagger, load_dev(), "dev"))
    if frozen:
        results.update(multi_source_report(tagger, load_frozen(), "frozen"))
    return results


def _print_table(name: str, scores: Scores) -> None:
    interval = ""
    if scores.macro_f1_ci is not None:
        interval = f" (95% bootstrap interval {scores.macro_f1_ci[0]:.3f}–{scores.macro_f1_ci[1]:.3f})"
    figures = f"micro-F1 {scores.micro_f1:.3f}  macro-F1 {scores.macro_f1:.3f}{interval}"
    print(f"\n{name}  (n={scores.n})  {figures}")
    print(f"  {'domain':32s} {'P':>6s} {'R':>6s} {'F1':>6s} {'support':>8s}")
    for domain, row in scores.per_domain.items():
        p, r, f1, n = row["precision"], row["recall"], row["f1"], row["support"]
        print(f"  {domain:32s} {p:6.3f} {r:6.3f} {f1:6.3f} {n:8.0f}")


def _print_set(results: dict, name: str) -> None:
    _print_table(name, results[name])
    text_only = results[f"{name}_text_only"]
    print(f"  without category codes: micro-F1 {text_only.micro_f1:.3f}  macro-F1 {text_only.macro_f1:.3f}")
    print(f"  incident safe-care recall {results[f'{name}:incident_safe_recall']:.3f}")
    # Per source, micro-F1 leads: with ~20 texts a domain absent from a source scores 0 and drags
    # a macro average down for no reason.
    print(f"  by source:{'':14s}{'n':>4s} {'micro':>6s} {'macro':>6s}")
    for key, scores in results.items():
        if key.startswith(f"{name}:") and isinstance(scores, Scores):
            print(
                f"    {key[len(name) + 1 :]:22s}{scores.n:4d} {scores.micro_f1:6.3f} {scores.macro_f1:6.3f}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--frozen",
        action="store_true",
        help="also measure the frozen set (the final figure; never tune on it)",
    )
    args = parser.parse_args(argv)
    results = evaluate(Settings.from_env().fft_data, frozen=args.frozen)  # this command's edge
    if args.json:
        json.dump(
            {k: v.as_dict() if isinstance(v, Scores) else v for k, v in results.items()}, sys.stdout, indent=2
        )
        print()
        return 0
    _print_table("fft_test", results["fft_test"])
    _print_table("first_200 (training data since tagger 2.0)", results["first_200"])
    _print_set(results, "dev")
    if args.frozen:
        _print_set(results, "frozen")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
