"""The machine's load while a bench part runs: the load average before and after, and the other
processes that took the most CPU meanwhile (docs/benchmarks.md). On a machine shared with other
work a figure means little without it; the CPU µs per event of each stage means more, and this
says how busy the cores were around it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, command name, CPU seconds so far) of every process readable in /proc."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone between listing and reading
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / _TICK)
    return table


def _descendants(table: dict[int, tuple[int, str, float]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@dataclass
class LoadWatch:
    """Start before a part, ``stop()`` after: the load average both times and the busiest other
    processes' share of one core over the part (this process and its children excluded). Reads
    /proc twice, a few milliseconds each, so it costs the part nothing measurable."""

    top: int = 3
    _began: float = field(default_factory=time.monotonic)
    _before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    _table: dict[int, tuple[int, str, float]] = field(default_factory=_process_table)

    def stop(self) -> dict[str, Any]:
        after = os.getloadavg()
        elapsed = max(time.monotonic() - self._began, 1e-6)
        table = _process_table()
        ours = _descendants(table, os.getpid())
        shares = []
        for pid, (_, name, cpu) in table.items():
            if pid in ours or pid not in self._table or self._table[pid][1] != name:
                continue
            share = (cpu - self._table[pid][2]) / elapsed
            if share > 0.01:
                shares.append((share, name, pid))
        shares.sort(reverse=True)
        return {
            "load_before": [round(value, 2) for value in self._before],
            "load_after": [round(value, 2) for value in after],
            "others_busiest": [
                {"pid": pid, "name": name, "core_share": round(share, 2)}
                for share, name, pid in shares[: self.top]
            ],
            "others_core_share": round(sum(share for share, _, _ in shares), 2),
        }


def describe(load: dict[str, Any]) -> str:
    """One line: the 1-minute load before → after and who else was busy."""
    before, after = load["load_before"][0], load["load_after"][0]
    others = ", ".join(f"{p['name']} {p['core_share']:.0%}" for p in load.get("others_busiest", []))
    text = f"load {before:.2f} → {after:.2f}; others used {load.get('others_core_share', 0):.0%} of a core"
    return f"{text} ({others})" if others else text
