"""Goal 3's peer: Quix Streams running pxstream's own stateless function over the same raw events.

    pxstream bench --only peer-stateless          # needs `pip install .[peer]`

The function is the stream's ``Pipeline`` (validate → redact → tag → TaggedEvent bytes,
streams/pipeline.py), warmed the same way pxstream's stage and the pure-function reference are.
Two ways Quix Streams hosts it: ``apply`` (one call per message, its output produced by Quix) and a
``BatchingSink`` (the batch Quix accumulates per partition between checkpoints, one call per
batch, produced and flushed by the sink). Both commit every second, as pxstream's tagging stage
does (streams/agents.py, ``COMMIT_INTERVAL_S``).
"""

from __future__ import annotations

from typing import Any

from bench.harness import STATELESS_EVENTS, part_result, rate_figure, raw_workload
from bench.peer import child
from schemas import topics
from schemas.settings import Settings

COMMIT_INTERVAL_S = 1.0
MODES = ("apply", "batching")
FIGURES = {"apply": "peer-stateless-apply", "batching": "peer-stateless-batching"}


def _warm_pipeline() -> Any:
    """The production pipeline with its caches warm, as bench/tagging.py warms it."""
    import orjson

    from bench.harness import synthetic_events
    from streams.pipeline import Pipeline, RawRecord

    pipeline = Pipeline.default()
    pipeline.process([RawRecord(value=orjson.dumps(e)) for e in synthetic_events(2000, seed=99)])
    return pipeline


def main(argv: list[str] | None = None) -> None:
    """The child process: the pipeline hosted by Quix Streams in one ``--mode``."""
    from quixstreams import Application
    from quixstreams.sinks import BatchingSink, SinkBatch

    from streams.pipeline import RawRecord

    args = child.child_arguments(argv, "--mode")
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        commit_interval=COMMIT_INTERVAL_S,
        loglevel="WARNING",
    )
    pipeline = _warm_pipeline()
    progress = child.Progress(args.events, app.stop)
    source = app.topic(args.topic, value_deserializer="bytes", key_deserializer="bytes")
    frame = app.dataframe(source)
    if args.mode == "apply":
        output = app.topic(args.output, value_serializer="bytes", key_serializer="bytes")

        def tag(value: bytes) -> list[bytes]:
            result = pipeline.process([RawRecord(value=value)])
            progress.add()
            return [out.value for out in result.tagged] + [dead.value for dead in result.dead]

        frame.apply(tag, expand=True).to_topic(output)
    else:
        from confluent_kafka import Producer

        class PipelineSink(BatchingSink):
            """One pipeline call per batch; outputs produced, then flushed before the commit."""

            def setup(self) -> None:
                self.producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5})

            def write(self, batch: SinkBatch) -> None:
                records = [
                    RawRecord(item.value, item.key, batch.topic, batch.partition, item.offset)
                    for item in batch
                ]
                result = pipeline.process(records)
                for out in result.tagged:
                    self.producer.produce(args.output, out.value, key=out.key)
                for dead in result.dead:
                    self.producer.produce(args.output, dead.value, key=dead.record.key)
                self.producer.flush()
                progress.batch_done(len(records))

        frame.sink(PipelineSink())
    app.run()
    child.print_result(progress.result(mode=args.mode))


def run_part(settings: Settings, events: int | None = None) -> dict[str, Any]:
    """The shared raw workload through Quix Streams hosting the pipeline, each mode in a child
    process on fresh topics of as many partitions as feedback.raw."""
    version = child.quix_version()
    if version is None:
        return child.not_installed(*FIGURES.values())
    from bench.stateless import MIX_SEED  # pxstream's stateless part: the same events as it reads

    workload = raw_workload(events or STATELESS_EVENTS, seed=MIX_SEED)
    partitions = next(spec.partitions for spec in topics.TOPICS if spec.name == topics.RAW)
    figures, measured = [], {}
    for mode in MODES:
        measured[mode] = child.run_on_fresh_topics(
            settings.kafka_bootstrap,
            "bench.peer.stateless",
            workload,
            partitions=partitions,
            extra=("--mode", mode),
        )
        note = f"Quix Streams {version}, pxstream's Pipeline in {mode}"
        figures.append(rate_figure(FIGURES[mode], measured[mode], note))
    return part_result(*figures, quix_version=version, peer_stateless=measured)


if __name__ == "__main__":
    main()
