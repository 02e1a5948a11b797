"""The hotspot engine side by side with another version of itself: identical alerts, state and stats.

A speed change to the engine must not change one stored byte or one alert. This drives the engine
through scenarios the brute-force tests only judge by their counts — many seeds × rule sets,
re-sent events, clock ticks, organisations joining episodes, crashes that store none or half of a
batch (a new process, or the same one told ``forget_cached``) — and hashes everything it shows:
each batch's alerts in order, each batch's stored keys and bytes, the stats after each batch, and
the final watermark, progress and open episodes. Two engines that agree on every digest behaved
identically.

    python tests/support/hotspot_sidebyside.py --against main     # this tree against main's engine
    python tests/support/hotspot_sidebyside.py --record           # rewrite the pinned digests

``--against REF`` runs the same scenarios on ``git archive REF streams schemas`` in a second process
(run as a script so that its ``streams`` comes from there) and compares. The digests of the engine
before the third speed round are pinned in tests/data/hotspot_engine_digests.json and checked by
tests/unit/test_hotspot_sidebyside.py; ``--record`` rewrites them, which is right only for a change
meant to alter behaviour (the state format is pinned separately: test_hotspot_state_format.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the repository after any tree put first on PYTHONPATH
    sys.path.append(str(Path(__file__).resolve().parents[2]))

import orjson

from streams.hotspots.engine import HotspotEngine, StagedState
from streams.hotspots.rules import RuleSet, parse_rules
from streams.hotspots.table_state import TableState
from streams.hotspots.windows import iso_z
from tests.support.hotspot_oracle import ONE_RULE, RULES, Input, random_inputs, with_resends

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = ROOT / "tests" / "data" / "hotspot_engine_digests.json"
PROVIDERS = ("RXX", "RYY")
WARDS = ("Ward 1", "Ward 2", "Ward 3")


def _ruleset(rules: list[dict[str, Any]], **top: Any) -> RuleSet:
    return parse_rules({"rules": rules, **top}, source="sidebyside")


RULE_SETS: dict[str, Callable[[], RuleSet]] = {
    "oracle": lambda: RULES,
    "one-rule": lambda: ONE_RULE,
    # The benchmark's rule (bench/hotspot_engine.py): default lateness, open episodes most of the time.
    "bench": lambda: _ruleset(
        [
            {
                "id": "ward-hopping",
                "group_by": ["provider", "ward"],
                "window": {"size": "2m", "step": "30s"},
                "threshold": 5,
            }
        ]
    ),
    # Short lateness and small windows: many too-late events, resolutions, re-fired episodes.
    "tight": lambda: _ruleset(
        [
            {"id": "tight", "group_by": ["ward"], "window": {"size": "3m", "step": "1m"}, "threshold": 3},
            {
                "id": "tight-spc",
                "group_by": ["provider"],
                "window": {"size": "1m"},
                "spc": {"baseline": 4, "sigma": 1, "min_count": 2, "min_history": 2},
            },
        ],
        allowed_lateness="2m",
    ),
}


def burst_inputs(seed: int, n: int) -> list[Input]:
    """A busy partition (the benchmark's shape): groups over the limit most of the time, ticks rare."""
    rng = random.Random(seed)
    inputs: list[Input] = []
    clock = 1_780_000_200
    for offset in range(n):
        if rng.random() < 0.01 and offset:
            inputs.append(("t", offset - 1, clock + rng.randrange(0, 90)))
        clock += rng.choice((0, 0, 0, 1, 1, 2))
        organisation = rng.choice(("org-a", "org-b", "org-c", None))
        document: dict[str, Any] = {
            "event_id": f"b{offset}",
            "source": rng.choice(("complaint", "incident", "pals")),
            "occurred_at": iso_z(clock - rng.randrange(0, 25)),
            "provider": rng.choice(PROVIDERS),
            "site": "RXX01",
            "ward": rng.choice(WARDS),
            "domains": ["safe_high_quality_care"],
            "text": "redacted",
        }
        if organisation is not None:
            document["organisation"] = organisation
        if rng.random() < 0.08:
            field, variant = rng.choice(HOSTILE)
            if variant is _DROP:
                document.pop(field, None)
            else:
                document[field] = variant(document[field]) if callable(variant) else variant
        inputs.append(("e", offset, document))
    return inputs


_DROP = object()
# What a document may hold instead (the stage re-checks nothing the engine does not read): other
# spellings of a timestamp, unparseable ones, missing or ill-typed fields.
HOSTILE: list[tuple[str, Any]] = [
    ("occurred_at", lambda iso: iso.replace("Z", "+00:00")),
    ("occurred_at", lambda iso: iso.replace(".000Z", "+00:01")),
    ("occurred_at", lambda iso: iso.replace(".000Z", "-00:00:30")),
    ("occurred_at", lambda iso: iso.replace(".000Z", ".999999Z")),
    ("occurred_at", lambda iso: iso.replace(".000Z", "Z")),
    ("occurred_at", lambda iso: iso.replace(".000Z", "")),
    ("occurred_at", lambda iso: iso.replace("T", " ")),
    ("occurred_at", lambda iso: iso[:10]),
    ("occurred_at", lambda iso: iso.replace(":", "", 1)),
    ("occurred_at", lambda iso: iso.replace("0", "\u0660", 1)),
    ("occurred_at", lambda iso: iso.replace(".000Z", ".5Z")),
    ("occurred_at", lambda iso: iso[:17] + "60.000Z"),
    ("occurred_at", "not a time"),
    ("occurred_at", _DROP),
    ("ward", None),
    ("ward", ""),
    ("ward", 7),
    ("ward", _DROP),
    ("provider", ["RXX"]),
    ("organisation", 3),
    ("event_id", 12),
    ("event_id", None),
    ("event_id", ""),
    ("event_id", _DROP),
    ("domains", None),
    ("domains", ["safe_high_quality_care", 3, "safe_high_quality_care", "access_and_waiting"]),
    ("source", None),
]


def _changelog_digest(staged: dict[str, Any], deleted: set[str]) -> list[Any]:
    written = sorted(
        (key, orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()) for key, value in staged.items()
    )
    return [written, sorted(deleted)]


def run_scenario(rules: RuleSet, inputs: list[Input], seed: int, mode: str) -> dict[str, str]:
    """Drive one engine as the worker does, crashing now and then; digests of what it showed.

    ``mode``: ``dict`` keeps values as objects in a plain dict (the engine's caches hold); ``json``
    stores bytes as the worker's table does, so every batch reads values back as new objects.
    """
    rng = random.Random(seed)
    table: dict[bytes, bytes] = {}
    base: MutableMapping[str, Any] = {} if mode == "dict" else TableState(table)
    snapshots: dict[int, Any] = {0: {}}  # dict mode: deep copies of the state at batch ends
    partition = seed % 2
    engine = HotspotEngine(rules, base, partition=partition)
    alerts_hash, state_hash, stats_hash = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    position = commit = 0
    crashes = sorted(rng.sample(range(20, max(21, len(inputs) - 10)), 3))
    while position < len(inputs):
        batch = inputs[position : position + rng.randrange(1, 60)]
        staged = StagedState(base)
        engine.state = staged
        alerts: list[dict[str, Any]] = []
        for kind, at, payload in batch:
            now = 1_780_000_000.0 + at
            alerts += engine.on_event(payload, at, now) if kind == "e" else engine.on_tick(payload, at, now)
        engine.end_batch(commit or None)
        engine.state = base
        alerts_hash.update(orjson.dumps(alerts, option=orjson.OPT_NON_STR_KEYS))
        crash = bool(crashes) and position + len(batch) >= crashes[0]
        if crash and mode == "json":
            crashes.pop(0)
            # None or half of the batch's writes reached the store, then the process died (or the
            # batch failed and the same process carries on, as the worker's failed batch does).
            kept = [key for key in staged.staged if rng.random() < 0.5] if rng.random() < 0.5 else []
            for key in kept:
                base[key] = staged.staged[key]
            state_hash.update(orjson.dumps(["crash", sorted(kept)]))
            if rng.random() < 0.5:
                engine = HotspotEngine(rules, base, partition=partition)
            else:
                engine.forget_cached()
            position = commit
            continue
        state_hash.update(orjson.dumps(_changelog_digest(staged.staged, staged._deleted)))
        staged.commit()
        stats_hash.update(orjson.dumps(dataclasses.asdict(engine.stats)))
        position += len(batch)
        if mode == "dict":
            snapshots[position] = orjson.loads(orjson.dumps(base, option=orjson.OPT_NON_STR_KEYS))
        if rng.random() < 0.4:
            commit = position
        if crash:  # dict mode: each key some version between the commit and the crash, a new process
            crashes.pop(0)
            versions = [snapshots[b] for b in sorted(snapshots) if commit <= b <= position]
            recovered: dict[str, Any] = {}
            for key in sorted(set().union(*(version.keys() for version in versions))):
                version = rng.choice(versions)
                if key in version:
                    recovered[key] = orjson.loads(orjson.dumps(version[key]))
            base = recovered
            snapshots = {b: v for b, v in snapshots.items() if b <= commit}
            engine = HotspotEngine(rules, base, partition=partition)
            position = commit
    final = {
        "watermark": engine.watermark,
        "progress": engine.progress,
        "open": sorted(engine.open_episode_rules()),
        "seen": engine.seen_count(),
        "state": sorted(
            (key, orjson.dumps(base[key], option=orjson.OPT_NON_STR_KEYS).decode()) for key in base
        ),
    }
    return {
        "alerts": alerts_hash.hexdigest()[:24],
        "state": state_hash.hexdigest()[:24],
        "stats": stats_hash.hexdigest()[:24],
        "final": hashlib.sha256(orjson.dumps(final)).hexdigest()[:24],
    }


def scenarios() -> list[tuple[str, Callable[[], RuleSet], Callable[[], list[Input]], int, str]]:
    """(name, rules, inputs, seed, mode) of every scenario: seeds × rule sets × feeds × storage modes."""
    out = []
    for rules_name, rules in RULE_SETS.items():
        for seed in range(3):
            for mode in ("dict", "json"):
                out.append(
                    (
                        f"{rules_name}/random/{seed}/{mode}",
                        rules,
                        lambda seed=seed: with_resends(random_inputs(7000 + seed, n=400), seed),
                        seed,
                        mode,
                    )
                )
                out.append(
                    (
                        f"{rules_name}/burst/{seed}/{mode}",
                        rules,
                        lambda seed=seed: with_resends(burst_inputs(8000 + seed, n=500), seed, rate=0.05),
                        seed,
                        mode,
                    )
                )
    return out


def digests() -> dict[str, dict[str, str]]:
    """Every scenario's digests, by scenario name."""
    return {
        name: run_scenario(rules(), inputs(), seed, mode) for name, rules, inputs, seed, mode in scenarios()
    }


def digests_at(ref: str) -> dict[str, dict[str, str]]:
    """The digests of the engine at git ``ref``: its ``streams`` and ``schemas`` in a second process."""
    with tempfile.TemporaryDirectory(prefix="hotspot-sidebyside-") as tree:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "streams", "schemas"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        env = dict(os.environ, PYTHONPATH=tree)
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--print"],
            check=True,
            capture_output=True,
            env=env,
            cwd=tree,
        )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python tests/support/hotspot_sidebyside.py")
    parser.add_argument("--against", metavar="REF", help="compare with the engine at this git ref")
    parser.add_argument("--record", action="store_true", help=f"rewrite {DIGESTS.relative_to(ROOT)}")
    parser.add_argument("--print", action="store_true", help="print this tree's digests as JSON")
    args = parser.parse_args()
    if args.print:
        print(json.dumps(digests()))
        return
    ours = digests()
    if args.record:
        DIGESTS.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n")
        print(f"{len(ours)} scenario digests written to {DIGESTS}")
        return
    theirs = digests_at(args.against) if args.against else json.loads(DIGESTS.read_text())
    differ = sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))
    for name in differ:
        print(f"differs: {name}: {theirs.get(name)} → {ours.get(name)}")
    print(f"{len(ours) - len(differ)} of {len(ours)} scenarios identical")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
