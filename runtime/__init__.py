"""Kafka plumbing written once, for every stage (docs/runtime.md).

A ground-floor package beside `schemas/`: it imports nothing of pxstream but `schemas`, and every
floor above may use it.

- `admin`: create (explicit partitions and configs, compacted too), describe and delete topics
  from the declarations in `schemas.topics`; consumer-group offsets and membership.
- `produce`: a producer configured once (acks from every replica) and "send these and wait".
- `tail`: read a topic, or its last records, up to the end it had when reading began.
- `backoff`: exponential backoff with full jitter.
- `loop`: the consume → effect → commit loop that hosts a stage (a `tenant`), with its
  delivery discipline: commit after the effect is acknowledged, commit on revoke, pause and keep
  polling under backpressure, bounded buffers.
- `tenant`: the contract a stage implements to be hosted by the loop (`BatchingSink.write`).
"""
