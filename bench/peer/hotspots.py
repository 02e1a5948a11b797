"""Goal 1's peer: Quix Streams counting the hotspot rule's windows over the same TaggedEvents.

    pxstream bench --only hotspot-stage,peer-hotspots          # needs `pip install .[peer]`

The events are bench/hotspot_engine.py's ``tagged_events`` — the ones bench/hotspot_stage.py puts
before pxstream's production worker — made the same way (same seed and count, event time ending
now), keyed by provider as feedback.tagged is.

The idiomatic Quix Streams program for "five events on one ward within two minutes, hopping every
30 s": re-key by provider and ward (`group_by`, a repartition topic, since feedback.tagged is keyed
by provider), a hopping window on event time (``occurred_at``) with the rule's lateness as grace,
`count().current()`, and a message on an output topic when a window's count reaches the threshold.
It does less than pxstream's stage (no de-duplication by event id, no exactly-once episodes, no
SPC rules, at-least-once), so it is a fair floor for goal 1's ratio, not an equal.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from bench.harness import (
    HOPPING_EVENTS,
    HOPPING_LATENESS_S,
    HOPPING_SIZE_S,
    HOPPING_STEP_S,
    HOPPING_THRESHOLD,
    part_result,
    rate_figure,
)
from bench.peer import child
from schemas import topics
from schemas.settings import Settings

FIGURE = "peer-hotspots"


def occurred_ms(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
    """Event time, as pxstream's rules use it: the event's own ``occurred_at``."""
    return int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)


def hotspot_workload(count: int) -> list[tuple[bytes, bytes]]:
    """pxstream's hotspot-stage events (bench/hotspot_stage.py builds them the same way)."""
    from bench.hotspot_engine import tagged_events

    feed = tagged_events(count, start=int(time.time()) - count // 20)
    return [(event["provider"].encode(), orjson.dumps(event)) for event in feed]


def main(argv: list[str] | None = None) -> None:
    """The child process: one Quix Streams application, run until every event was counted."""
    from quixstreams import Application

    args = child.child_arguments(argv)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    progress = child.Progress(args.events, app.stop)
    source = app.topic(args.topic, value_deserializer="json", timestamp_extractor=occurred_ms)
    output = app.topic(args.output, value_serializer="json")
    frame = app.dataframe(source)
    frame = frame.group_by(lambda event: f"{event['provider']}\x1f{event['ward']}", name="provider_ward")
    frame = frame.update(lambda _: progress.add())  # once per event, just before its windows
    windows = frame.hopping_window(
        duration_ms=HOPPING_SIZE_S * 1000, step_ms=HOPPING_STEP_S * 1000, grace_ms=HOPPING_LATENESS_S * 1000
    )
    fired = [0]

    def crosses(window: dict[str, Any]) -> bool:
        if window["value"] == HOPPING_THRESHOLD:
            fired[0] += 1
            return True
        return False

    windows.count().current().filter(crosses).to_topic(output)
    app.run()
    child.print_result(progress.result(alerts=fired[0]))


def run_part(settings: Settings, events: int | None = None) -> dict[str, Any]:
    """Count the shared tagged workload with Quix Streams in a child process, on a fresh topic of
    as many partitions as feedback.tagged; its rate and CPU per event."""
    version = child.quix_version()
    if version is None:
        return child.not_installed(FIGURE)
    workload = hotspot_workload(events or HOPPING_EVENTS)
    partitions = next(spec.partitions for spec in topics.TOPICS if spec.name == topics.TAGGED)
    measured = child.run_on_fresh_topics(
        settings.kafka_bootstrap, "bench.peer.hotspots", workload, partitions=partitions
    )
    note = f"Quix Streams {version}: group_by provider+ward, hopping count, at-least-once"
    figure = rate_figure(FIGURE, measured, note)
    return part_result(figure, quix_version=version, peer_hotspots=measured)


if __name__ == "__main__":
    main()
