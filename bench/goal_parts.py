"""The parts of `pxstream bench` that measure the speed issue's goals, each called the way its
module asks (docs/benchmarks.md). Parts written by other hands keep their own signatures and keys;
bench/adapters.py reads their keys into figures. A module not in this build makes its goals' rows
say "not measured (part not built: …)" rather than stopping the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.harness import HOPPING_EVENTS, STATELESS_EVENTS
from schemas.settings import Settings

# The figures each part publishes, so a part that fails or is missing marks its goals' rows with why.
PART_FIGURES: dict[str, tuple[str, ...]] = {
    "hotspot-engine": ("hotspot-engine",),
    "hotspot-stage": ("hotspot-stage",),
    "stateless": ("stateless-stage",),
    "redaction": ("redaction",),
    "latency": ("alert-latency-p99", "healthz-failures"),
    "peer-hotspots": ("peer-hotspots",),
    "peer-stateless": ("peer-stateless-batching", "peer-stateless-apply"),
    "scaling": ("scaling",),
}
REDACTION_EVENTS = 20_000


def goal_parts(settings: Settings, events: int | None) -> dict[str, Callable[[], dict[str, Any]]]:
    """Name → the part's call. ``events`` (``--events``) sizes every part; None: each its default,
    the same for the two sides of a comparison."""

    def hotspot_engine() -> dict[str, Any]:
        from bench.hotspot_engine import bench_hotspot_engine

        return bench_hotspot_engine(events=events) if events else bench_hotspot_engine()

    def hotspot_stage() -> dict[str, Any]:
        from bench.hotspot_stage import bench_hotspot_stage

        return bench_hotspot_stage(settings, events=events or HOPPING_EVENTS)

    def stateless() -> dict[str, Any]:
        from bench.stateless import bench_stateless

        return bench_stateless(settings, events=events or STATELESS_EVENTS)

    def redaction() -> dict[str, Any]:
        from bench.redaction import bench_redaction

        return bench_redaction(settings.fft_data, events=events or REDACTION_EVENTS)

    def latency() -> dict[str, Any]:
        from bench.latency import bench_alert_latency

        return bench_alert_latency(settings, busy=1)  # goal 5: another process keeps a core busy

    def peer_hotspots() -> dict[str, Any]:
        from bench.peer.hotspots import run_part

        return run_part(settings, events)

    def peer_stateless() -> dict[str, Any]:
        from bench.peer.stateless import run_part

        return run_part(settings, events)

    def scaling() -> dict[str, Any]:
        from bench.scaling import run_part

        return run_part(settings, events)

    return {
        "hotspot-engine": hotspot_engine,
        "hotspot-stage": hotspot_stage,
        "stateless": stateless,
        "redaction": redaction,
        "latency": latency,
        "peer-hotspots": peer_hotspots,
        "peer-stateless": peer_stateless,
        "scaling": scaling,
    }
