"""The garbage collector's settings for a long-running stage process.

A stage's work allocates a great many short-lived containers (decoded events, their redacted and
tagged copies, Kafka records), and reference counting frees nearly all of them; the collector
exists only for cycles. With CPython's defaults it still ran every 700 net allocations, which in
the middle of a slice promotes the live half of a batch into the older generations, and those
promotions trigger full collections that walk every object the process built at start-up (Faust,
aiokafka, the tagger's model, the rules). Measured on the tagging pipeline (docs/stateless-speed.md,
"Garbage collection"): 4–9 µs per event, 4–9 % of its work, landing in 20–40 ms pauses.

`settle_heap` is called once start-up has built what lives as long as the process:

* `gc.freeze()` moves every object alive then into a permanent generation that no collection
  walks again (start-up objects are never garbage; the few that become garbage later are not
  reclaimed, a bounded cost paid once);
* the youngest generation's threshold goes from 700 to `YOUNG_THRESHOLD` net allocations
  (allocations minus deallocations), above what a stage holds alive at once — a 1,000-record
  batch, its outputs and the consumer's fetch buffers (at 10,000 the tagging stage still
  collected, 3.3 µs/event; at 20,000 and 50,000 never within a batch) — so a collection runs when
  cyclic garbage has actually built up, not several times per slice. Cyclic garbage is still
  collected: at most `YOUNG_THRESHOLD` container objects wait for it, a few megabytes.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 50_000


def settle_heap() -> None:
    """Freeze the start-up heap and make young collections rare (module doc). Idempotent."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
