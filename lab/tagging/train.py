"""Train the domain model and write ``streams/tagging/model.json.gz``.

    python -m lab.tagging.train [--out PATH] [--C 4 8] [--folds 5]

Training data: the FFT ``train`` split (read from ``../shared/data`` or ``PXSTREAM_FFT_DATA``)
plus our multi-source examples in ``tests/data`` (the first 200 and the training set), each
weighing ``MULTI_SOURCE_WEIGHT`` FFT comments: they are few, and they are the registers FFT lacks.
Neither the development set nor the frozen set is ever read here.

Needs the optional ``train`` extra (scikit-learn); the shipped model is then read with plain
Python, so workers never import scikit-learn. Reproducible: fixed fold seed, deterministic
solver, sorted vocabularies. Thresholds are tuned per domain on out-of-fold decisions of the
train split only — the test split is never seen here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lab.tagging.data import TRAIN_PATH, Example, load_fft, load_labelled, load_other_sources
from schemas.domains import DOMAIN_IDS
from schemas.settings import Settings
from streams.tagging import features, phrases
from streams.tagging.model import LEXICON_FEATURES, MODEL_FORMAT, MODEL_PATH, lexicon_features

SEED = 20240601
MIN_DF = 2
PRUNE_BELOW = 5e-4
C_GRID = (4.0, 8.0)  # 1 and 2 were never chosen for any domain (tagger 1.0)
DEFAULT_SENTIMENT_C = 4.0
MULTI_SOURCE_WEIGHT = 1.0  # 3 gave dev macro-F1 0.909 and FFT 0.732; 1 gave 0.919 and 0.738


def _require_sklearn() -> Any:
    try:
        import numpy as np
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score
        from sklearn.model_selection import KFold
    except ImportError as exc:  # pragma: no cover - depends on the environment
        sys.exit(f"training needs the 'train' extra (pip install -e '.[train]'): {exc}")
    return np, sparse, LogisticRegression, KFold, f1_score


def build_idf(docs: Sequence[Counter[str]]) -> dict[str, float]:
    """Smoothed idf (as scikit-learn computes it) for terms in at least ``MIN_DF`` documents."""
    df: Counter[str] = Counter()
    for counts in docs:
        df.update(counts.keys())
    n = len(docs)
    return {
        term: math.log((1 + n) / (1 + count)) + 1.0 for term, count in sorted(df.items()) if count >= MIN_DF
    }


def lexicon_vector(norm: str) -> list[float]:
    """The lexicon features the model sees (``LinearDomainModel.lexicon_features``)."""
    found, strength, _ = phrases.analyse(norm)
    return lexicon_features(found, strength)


def design_matrix(
    norms: Sequence[str],
    word_idf: dict[str, float],
    char_idf: dict[str, float],
    sparse: Any,
) -> tuple[Any, list[str]]:
    """Rows of [word TF-IDF | char TF-IDF | lexicon] features, columns named for export."""
    columns = (
        [f"w:{t}" for t in word_idf] + [f"c:{t}" for t in char_idf] + [f"lex:{f}" for f in LEXICON_FEATURES]
    )
    index = {name: i for i, name in enumerate(columns)}
    rows, cols, vals = [], [], []
    for row, norm in enumerate(norms):
        blocks = (
            ("w:", features.tfidf(features.word_terms(norm), word_idf)),
            ("c:", features.char_vector(norm, char_idf)),
            ("lex:", dict(zip(LEXICON_FEATURES, lexicon_vector(norm), strict=True))),
        )
        for prefix, values in blocks:
            for term, value in values.items():
                if value:
                    rows.append(row)
                    cols.append(index[prefix + term])
                    vals.append(value)
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(norms), len(columns)))
    return matrix, columns


def tune_threshold(labels: Any, decisions: Any, f1_score: Callable[..., float], np: Any) -> float:
    """Decision threshold with the best F1 on out-of-fold decisions."""
    candidates = np.quantile(decisions, np.linspace(0.2, 0.995, 160))
    return float(max(candidates, key=lambda t: f1_score(labels, decisions >= t)))


def train(
    examples: Sequence[Example],
    c_grid: Sequence[float] = C_GRID,
    folds: int = 5,
    weights: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Fit one logistic regression per domain and return the exportable model.

    Each domain's regularisation strength and threshold are chosen by out-of-fold F1 on the
    examples given (the train split), never on test.
    """
    np, sparse, logistic_regression, kfold, f1_score = _require_sklearn()
    norms = [features.normalise(e.text) for e in examples]
    word_idf = build_idf([features.word_terms(n) for n in norms])
    char_idf = build_idf([features.char_terms(n) for n in norms])
    matrix, columns = design_matrix(norms, word_idf, char_idf, sparse)
    labels = np.array([[d in e.domains for d in DOMAIN_IDS] for e in examples], dtype=int)
    sample_weight = np.ones(len(examples)) if weights is None else np.asarray(weights, dtype=float)

    def make(c_value: float) -> Any:
        return logistic_regression(
            C=c_value, class_weight="balanced", max_iter=5000, solver="liblinear", random_state=SEED
        )

    coefficients = np.zeros((len(columns), len(DOMAIN_IDS)))
    biases, thresholds, chosen_c = [], [], []
    splitter = kfold(n_splits=folds, shuffle=True, random_state=SEED)
    fold_indices = list(splitter.split(matrix))
    for j, domain in enumerate(DOMAIN_IDS):
        y = labels[:, j]
        best: tuple[float, float, float] | None = None  # (out-of-fold F1, C, threshold)
        for c_value in c_grid:
            out_of_fold = np.zeros(len(examples))
            for fit_idx, held_idx in fold_indices:
                model = make(c_value).fit(matrix[fit_idx], y[fit_idx], sample_weight=sample_weight[fit_idx])
                out_of_fold[held_idx] = model.decision_function(matrix[held_idx])
            threshold = tune_threshold(y, out_of_fold, f1_score, np)
            oof_f1 = float(f1_score(y, out_of_fold >= threshold))
            if best is None or oof_f1 > best[0]:
                best = (oof_f1, c_value, threshold)
        assert best is not None
        oof_f1, c_value, threshold = best
        model = make(c_value).fit(matrix, y, sample_weight=sample_weight)
        coefficients[:, j] = model.coef_[0]
        biases.append(float(model.intercept_[0]))
        thresholds.append(threshold)
        chosen_c.append(c_value)
        print(
            f"{domain:32s} C={c_value:<5g} out-of-fold F1 {oof_f1:.3f} threshold {threshold:+.3f}",
            file=sys.stderr,
        )

    model = export(columns, word_idf, char_idf, coefficients, biases, thresholds, chosen_c)
    model["sentiment"] = train_sentiment(examples, norms, word_idf, sparse, np, logistic_regression)
    return model


_POSITIVE_LABELS = frozenset({"very positive", "positive"})
_NEGATIVE_LABELS = frozenset({"very negative", "negative"})


def train_sentiment(
    examples: Sequence[Example],
    norms: Sequence[str],
    word_idf: dict[str, float],
    sparse: Any,
    np: Any,
    lr: Any,
) -> dict[str, Any]:
    """Positive-vs-negative logistic regression on the word block, from the analysts' labels.

    FFT comments are often suggestions ("More staff.", "Could be quicker") that a word-list
    scores as neutral; the analysts called them negative, and this model learns that.
    """
    rows = [
        (norm, 1 if e.sentiment_label in _POSITIVE_LABELS else 0)
        for e, norm in zip(examples, norms, strict=True)
        if e.sentiment_label in _POSITIVE_LABELS | _NEGATIVE_LABELS
    ]
    terms = list(word_idf)
    index = {term: i for i, term in enumerate(terms)}
    data, row_idx, col_idx = [], [], []
    for r, (norm, _) in enumerate(rows):
        for term, value in features.tfidf(features.word_terms(norm), word_idf).items():
            row_idx.append(r)
            col_idx.append(index[term])
            data.append(value)
    matrix = sparse.csr_matrix((data, (row_idx, col_idx)), shape=(len(rows), len(terms)))
    y = np.array([label for _, label in rows])
    model = lr(C=DEFAULT_SENTIMENT_C, max_iter=5000, solver="liblinear", random_state=SEED).fit(matrix, y)
    weights = {
        term: round(float(w), 4)
        for term, w in zip(terms, model.coef_[0], strict=True)
        if abs(w) >= PRUNE_BELOW
    }
    print(f"sentiment: {len(rows)} polar examples, {len(weights)} weighted terms", file=sys.stderr)
    return {"bias": round(float(model.intercept_[0]), 5), "word": weights}


def export(
    columns: list[str],
    word_idf: dict[str, float],
    char_idf: dict[str, float],
    weights: Any,
    biases: list[float],
    thresholds: list[float],
    c_per_domain: list[float],
) -> dict[str, Any]:
    """Compact JSON form: per term its idf and (unless negligible) five rounded weights."""
    by_column = {name: weights[i] for i, name in enumerate(columns)}

    def block(prefix: str, idf: dict[str, float]) -> dict[str, list[float]]:
        out = {}
        for term, value in idf.items():
            w = by_column[prefix + term]
            entry = [round(value, 4)]
            if max(abs(x) for x in w) >= PRUNE_BELOW:
                entry.extend(round(float(x), 4) for x in w)
            out[term] = entry
        return out

    return {
        "format": MODEL_FORMAT,
        "domains": list(DOMAIN_IDS),
        "trained_on": "fft_domains.csv split=train (pxtextmining v6, NHS England, MIT)",
        "params": {
            "C": c_per_domain,
            "min_df": MIN_DF,
            "char_ngrams": [features.CHAR_MIN, features.CHAR_MAX],
        },
        "bias": [round(b, 5) for b in biases],
        "threshold": [round(t, 5) for t in thresholds],
        "lexicon_weights": [[round(float(x), 5) for x in by_column[f"lex:{f}"]] for f in LEXICON_FEATURES],
        "word": block("w:", word_idf),
        "char": block("c:", char_idf),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--C", dest="c_grid", type=float, nargs="+", default=list(C_GRID))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--multi-source-weight",
        type=float,
        default=MULTI_SOURCE_WEIGHT,
        help="weight of each multi-source example against one FFT comment (0 = FFT only)",
    )
    args = parser.parse_args(argv)
    fft = load_fft("train", Settings.from_env().fft_data)  # this command's edge
    multi_source = load_other_sources() + load_labelled(TRAIN_PATH) if args.multi_source_weight else []
    weights = [1.0] * len(fft) + [args.multi_source_weight] * len(multi_source)
    print(f"training on {len(fft)} FFT comments and {len(multi_source)} multi-source texts", file=sys.stderr)
    model = train(fft + multi_source, c_grid=args.c_grid, folds=args.folds, weights=weights)
    if multi_source:
        model["trained_on"] += (
            "; tests/data/other_sources_labelled.jsonl and tagger_train_multisource.jsonl"
            f" (weight {args.multi_source_weight:g} each)"
        )
    payload = json.dumps(model, separators=(",", ":"), sort_keys=True).encode()
    # No file name and mtime 0 in the gzip header, so rebuilding gives byte-identical files.
    with args.out.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(payload)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
