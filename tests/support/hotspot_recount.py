"""What an uninterrupted hotspot stage makes of a feed, recounted from the records in the broker,
and whether a worker's changelog holds exactly that: the yardstick of the kill tests.

Each partition of ``feedback.tagged`` is replayed through a clean engine (the alerts an
uninterrupted run sends) and through the brute-force counter of tests/unit/test_hotspot_engine.py
(the counts every window must hold). A worker killed mid-stream must end with the same counts in
its changelog for every window still inside the rules' horizon.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from streams.hotspots.engine import HotspotEngine
from streams.hotspots.rules import RuleSet
from tests.support.hotspots import read_table
from tests.support.kafka import read_all
from tests.unit.test_hotspot_engine import brute_force, run


@dataclass
class Recount:
    rules: RuleSet
    inputs: dict[int, list[tuple[str, int, Any]]]
    engines: dict[int, HotspotEngine]
    alerts: list[dict[str, Any]]
    counts: dict[tuple[int, str], Counter]

    @classmethod
    def of_topic(cls, bootstrap: str, tagged_topic: str, rules: RuleSet) -> Recount:
        """Recount every record on ``tagged_topic``, partition by partition, in the broker's order."""
        inputs: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
        for partition, offset, _, value in sorted(read_all(bootstrap, tagged_topic), key=lambda r: r[:2]):
            inputs[partition].append(("e", offset, value))
        recount = cls(rules, dict(inputs), {}, [], {})
        for partition, partition_inputs in inputs.items():
            clean = recount.engines[partition] = HotspotEngine(rules, {}, partition=partition)
            recount.alerts += run(clean, partition_inputs)
            for rule_id, counts in brute_force(rules, partition_inputs).items():
                recount.counts[(partition, rule_id)] = counts
        return recount

    @property
    def events(self) -> int:
        return sum(len(records) for records in self.inputs.values())

    def changelog_matches(self, bootstrap: str, changelog_topic: str) -> bool:
        """True when the changelog's state has every partition's watermark and window counts."""
        state = read_table(bootstrap, changelog_topic)
        for partition, clean in self.engines.items():
            engine = HotspotEngine(self.rules, state, partition=partition)
            if engine.watermark != clean.watermark:
                return False
            for rule in self.rules.rules:
                horizon = clean._horizon(rule, clean.watermark)
                actual = {k: v for k, v in engine.window_counts(rule.id).items() if k[1] >= horizon}
                expected = {k: v for k, v in self.counts[(partition, rule.id)].items() if k[1] >= horizon}
                if actual != expected:
                    return False
        return True
