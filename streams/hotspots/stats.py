"""What one partition's engine has counted, for the worker's Prometheus counters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EngineStats:
    """Counters for metrics; the worker turns them into Prometheus counters."""

    events: int = 0
    replayed: int = 0  # (event, key) applications skipped because the key already had them
    late: int = 0  # counted although behind the watermark
    too_late: int = 0  # (event, rule) pairs refused: beyond allowed lateness
    duplicates: int = 0  # events not counted again: their (organisation, event_id) was counted before
    seen_forgotten: int = 0  # event ids dropped from state once no duplicate could count
    unparseable: int = 0
    alerts: int = 0
    history_overflow: int = 0
