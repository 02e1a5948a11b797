"""Cost of the redactor on realistic text: CPU µs per event for each source kind and for the mix.

    pxstream bench --only redaction        # or, without a broker: python -m bench.redaction [20000]
    python -m bench.redaction --same-as main   # output identical to another commit's redactor?
    python -m bench.redaction --against main   # CPU per event beside another commit's, alternately

"Realistic text" (docs/redaction.md, "Throughput") is the realistic mix of bench/tagging.py: seven
in ten events are FFT comments (the labelled FFT set, ``PXSTREAM_FFT_DATA`` or ``../shared/data``),
a quarter are texts of the other sources (complaints, PALS, incidents, GP concerns, MP letters,
local media, social posts, Healthwatch, surveys: the repository's labelled sets in tests/data),
and one in twenty is a long letter of 1,500–6,000 characters. Each kind is also timed on its
own, with two more that the mix does not draw: public reviews from the connectors' recorded
fixtures (NHS.UK, Care Opinion), and letters with the identifiers a real letter carries in its
header and sign-off (name, address, postcode, NHS number, date of birth, phone, e-mail).

Figures are CPU time of this process (``time.process_time``), best of ``repeats`` passes, with
the load average beside them: the machine is shared, so wall time is not the measure.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from bench.tagging import MIX_SEED, realistic_mix
from schemas.settings import Settings
from streams.redaction import redact

LETTER_CHARS = 1500  # a text of the mix this long or longer is one of its long letters
_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "sources"
_HEADERS = (
    "Mrs Patricia O'Neill\n14 Acacia Avenue\nNorthby NB3 4QT\n\nNHS number: 943 476 5919\n"
    "Date of birth: 12/03/1948\n\nDear Sir or Madam,\n\n",
    "From: David Okafor <david.okafor@example.com>\nTel 07700 900123\n\nTo the Complaints Team,\n\n"
    "Re: my father, Mr John Okafor (hospital number MRN 4471223, DOB 3 March 1941)\n\n",
    "Flat 2, 7 Kingsway\nLeeds LS1 4AB\n\nDear PALS,\n\n",
)
_SIGN_OFFS = (
    "\n\nYours sincerely,\nMargaret Hughes",
    "\n\nKind regards,\n\nSarah Jones\n07700 900456",
    "\n\nThanks,\nTom\n",
)


def _micros(seconds: float, count: int) -> float:
    return round(1e6 * seconds / max(1, count), 1)


def _best_cpu(work: Callable[[], object], repeats: int) -> float:
    """The least CPU time of ``repeats`` runs of ``work`` (the run least disturbed by others)."""
    best = float("inf")
    for _ in range(repeats):
        began = time.process_time()
        work()
        best = min(best, time.process_time() - began)
    return best


def _review_fixtures() -> list[str]:
    """Review texts of the connectors' recorded fixtures (NHS.UK comments, Care Opinion stories)."""
    texts: list[str] = []
    nhsuk = _FIXTURES / "nhsuk" / "comments-RX1RA.json"
    if nhsuk.is_file():
        for row in json.loads(nhsuk.read_text(encoding="utf-8")).get("comments", []):
            comment = row.get("comment", {})
            texts.append(f"{comment.get('title', '')}\n{comment.get('commentText', '')}")
    opinions = _FIXTURES / "careopinion" / "opinions.json"
    if opinions.is_file():
        for row in json.loads(opinions.read_text(encoding="utf-8")).get("opinions", []):
            texts.append(f"{row.get('title', '')}\n{row.get('body', '')}")
    return texts


def _letters_with_identifiers(bodies: Sequence[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_HEADERS) + rng.choice(bodies) + rng.choice(_SIGN_OFFS) for _ in range(count)]


def _kind(text: str, source: str) -> str:
    if len(text) >= LETTER_CHARS:
        return "letter"
    return "gp" if source.startswith("gp_") else source


def realistic_texts(events: int, fft_data: Path | None) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """The mix as (text, source) pairs, and the texts of every kind (the mix's and two more);
    ``fft_data`` is ``Settings.fft_data`` (``PXSTREAM_FFT_DATA``)."""
    from lab.tagging.data import TRAIN_PATH, load_dev, load_fft, load_labelled, load_other_sources

    short = [e.text for split in ("train", "test") for e in load_fft(split, fft_data)]
    multi = [(e.text, e.source) for e in load_other_sources() + load_labelled(TRAIN_PATH) + load_dev()]
    mix = realistic_mix(short, multi, events)
    kinds: dict[str, list[str]] = {"fft": short}
    for text, source in multi:
        kinds.setdefault(_kind(text, source), []).append(text)
    letters = [text for text, _ in mix if len(text) >= LETTER_CHARS]
    kinds["letter"] = letters
    kinds["letter_with_identifiers"] = _letters_with_identifiers(letters, max(1, len(letters)), MIX_SEED)
    reviews = _review_fixtures()
    if reviews:
        kinds["review_fixture"] = reviews
    return mix, kinds


def _reference(texts: Sequence[str]) -> None:
    """One C-level pass over each text, the floor any redactor sits on: lower case and split."""
    for text in texts:
        text.lower().split()


def bench_redaction(fft_data: Path | None, events: int = 20_000, repeats: int = 3) -> dict:
    """CPU µs per event of ``redact`` on the realistic mix and on each kind, with the load, and the
    same run's reference (``_reference`` on the mix, timed alternately with the redactor) so that
    the ratio survives a busy machine that the absolute figure does not."""
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    mix, kinds = realistic_texts(events, fft_data)
    mix_texts = [text for text, _ in mix]
    for text in mix_texts[:2000]:  # warm the folding cache and the patterns
        redact(text)
    mix_cpu = reference_cpu = float("inf")
    for _ in range(repeats):
        mix_cpu = min(mix_cpu, _best_cpu(lambda: [redact(text) for text in mix_texts], 1))
        reference_cpu = min(reference_cpu, _best_cpu(lambda: _reference(mix_texts), 1))
    per_kind: dict[str, dict[str, float]] = {}
    for kind, texts in sorted(kinds.items()):
        cpu = _best_cpu(lambda texts=texts: [redact(text) for text in texts], repeats)
        per_kind[kind] = {
            "texts": len(texts),
            "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1),
            "us_per_event": _micros(cpu, len(texts)),
        }
    shares: dict[str, int] = {}
    for text, source in mix:
        kind = _kind(text, source)
        shares[kind] = shares.get(kind, 0) + 1
    return {
        "redaction": {
            "mix_events": len(mix_texts),
            "mix_mean_chars": round(sum(map(len, mix_texts)) / max(1, len(mix_texts)), 1),
            "mix_us_per_event": _micros(mix_cpu, len(mix_texts)),
            "mix_cpu_seconds": round(mix_cpu, 3),
            "reference": "str.lower() + str.split() of each text of the mix, timed alternately",
            "reference_us_per_event": _micros(reference_cpu, len(mix_texts)),
            "ratio_to_reference": round(mix_cpu / max(reference_cpu, 1e-9), 2),
            "mix_shares": dict(sorted(shares.items(), key=lambda kv: -kv[1])),
            "per_kind": per_kind,
            "repeats": repeats,
            "load_average": _load(load_before),
        }
    }


def compare_speed(commit: str, fft_data: Path | None, rounds: int = 3) -> dict:
    """CPU µs per event of this redactor and of ``commit``'s on the mix and the long letters, the
    two run alternately on chunks of the same texts so that both see the same machine."""
    old = load_redactor(commit)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    mix, kinds = realistic_texts(20_000, fft_data)
    sets = {"mix": [text for text, _ in mix], "fft": kinds["fft"], "social_media": kinds["social_media"] * 20}
    sets.update(letter=kinds["letter"], letter_with_identifiers=kinds["letter_with_identifiers"])
    for text in sets["mix"][:2000]:
        redact(text), old.redact(text)
    report: dict[str, dict[str, float]] = {}
    for name, texts in sets.items():
        chunks = [texts[at : at + 100] for at in range(0, len(texts), 100)]
        before = after = 0.0
        ratios = []
        for _ in range(rounds):
            spent = {old.redact: 0.0, redact: 0.0}
            for chunk in chunks:
                for call in spent:
                    began = time.process_time()
                    for text in chunk:
                        call(text)
                    spent[call] += time.process_time() - began
            before, after = before + spent[old.redact], after + spent[redact]
            ratios.append(spent[redact] / spent[old.redact])
        report[name] = {
            "texts": len(texts),
            "before_us_per_event": _micros(before / rounds, len(texts)),
            "after_us_per_event": _micros(after / rounds, len(texts)),
            "ratio_median": round(sorted(ratios)[len(ratios) // 2], 3),
        }
    return {"against": commit, "rounds": rounds, **report, "load_average": _load(load_before)}


def _load(before: tuple[float, float, float] | None) -> str:
    if before is None:
        return "?"
    after = os.getloadavg()
    return f"{before[0]:.2f} at start, {after[0]:.2f} at end (1-minute)"


# --- the same output as another version of the redactor -----------------------------------------
# A faster redactor must find exactly what the one before it found: a changed output is either a
# leak added or a leak fixed, and only the second is allowed (docs/redaction.md, "Where the
# patterns are tried"). These texts are what the comparison runs on.
_REPOSITORY = Path(__file__).resolve().parent.parent
_HOSTILE_UNITS = (
    "NHS 1 ", "DOB: 1", "born on the 1st of ", "Thanks, ", "Yours sincerely,\n", "Dr Mr Mrs ", "Dr.Mr.Mrs.",
    "my name is ", "I'm Ann, i am Bob, Im Cy ", "Sister Matron ", "hospital number 1", "MRN: 12 ",
    "MRNis1234 ", "m. r. n 12345 ", "a at b dot ", "a[at]b[dot]", "Flat 1, 7 Kingsway ", "1 - 1 ./ ",
    "+44 ", "1\u200b", "LS1 4AB ", "A1 1", "12 Aa Road ", "12 acacia street ", "K1234567 ", "(0) 1 ",
    "'Dr Smith' o'mr Jones ", "my husband John my ", "Zoë Łukasz ", "ＤＲ ＳＭＩＴＨ ", "İ Dr Ann ",
    "Sarah ", "van der ", "O'", "12345 Acacia Avenue ", "ward E11 2AB ", "T2 3rd ", "pt no 1234 ",
)  # fmt: skip


def equivalence_texts(fft_data: Path | None, seed: int = 14) -> list[str]:
    """The benchmark's mix and kinds, the adversarial set, identifiers spliced into feedback at
    random places, and hostile repetitions: every text the redactor's rewrites were compared on."""
    mix, kinds = realistic_texts(20_000, fft_data)
    texts = [text for text, _ in mix] + [text for kind in kinds.values() for text in kind]
    data = _REPOSITORY / "tests" / "data" / "redaction_adversarial.jsonl"
    adversarial = [json.loads(line)["text"] for line in data.read_text().splitlines() if line.strip()]
    texts += adversarial
    rng = random.Random(seed)
    pieces = [*adversarial, *_HEADERS, *_SIGN_OFFS, *_HOSTILE_UNITS]
    feedback = [text for text, _ in mix[:3000]]
    for _ in range(3000):  # an identifier or a hostile piece at a random place in real feedback
        host = rng.choice(feedback)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(host))
            host = (
                host[:at]
                + rng.choice(("", " ", "\n"))
                + rng.choice(pieces)
                + rng.choice(("", " ", "."))
                + host[at:]
            )
        texts.append(host)
    for unit in _HOSTILE_UNITS:
        texts += [(unit * (size // len(unit) + 1))[:size] for size in (40, 600, 5000)]
    return texts


def load_redactor(commit: str) -> ModuleType:
    """The redaction package as it was at ``commit``, importable beside the current one."""
    name = "redaction_at_" + "".join(ch if ch.isalnum() else "_" for ch in commit)
    target = Path(tempfile.mkdtemp(prefix="pxstream-redaction-")) / name
    target.mkdir()
    listing = subprocess.run(
        ["git", "-C", str(_REPOSITORY), "ls-tree", "--name-only", commit, "streams/redaction/"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for path in listing:
        source = subprocess.run(
            ["git", "-C", str(_REPOSITORY), "show", f"{commit}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (target / Path(path).name).write_text(source.replace("streams.redaction", name))
    sys.path.insert(0, str(target.parent))
    return importlib.import_module(name)


def compare_with(commit: str, fft_data: Path | None) -> dict:
    """Every text through ``redact`` and ``redact_label`` of this version and of ``commit``'s."""
    from streams.redaction import redact_label

    old = load_redactor(commit)
    texts = equivalence_texts(fft_data)
    differ = []
    for text in texts:
        for new_call, old_call in ((redact, old.redact), (redact_label, old.redact_label)):
            if new_call is redact_label and len(text) > 500:
                continue
            new, before = new_call(text), old_call(text)
            if (new.text, new.counts) != (before.text, before.counts):
                differ.append(
                    {
                        "text": text[:300],
                        "call": new_call.__name__,
                        "before": before.text[:300],
                        "after": new.text[:300],
                    }
                )
    return {"commit": commit, "texts": len(texts), "different": len(differ), "examples": differ[:20]}


if (
    __name__ == "__main__"
):  # without a broker: python -m bench.redaction [events] | --same-as/--against COMMIT
    fft_data = Settings.from_env().fft_data  # this command's edge
    if sys.argv[1:2] == ["--against"]:
        print(json.dumps(compare_speed(sys.argv[2], fft_data), indent=2))
        sys.exit(0)
    if sys.argv[1:2] == ["--same-as"]:
        report = compare_with(sys.argv[2], fft_data)
        print(json.dumps(report, indent=2, ensure_ascii=False))
        sys.exit(1 if report["different"] else 0)
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(json.dumps(bench_redaction(fft_data, events), indent=2))
