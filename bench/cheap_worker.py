"""`pxstream worker` with a near-free tagger, for goal 6 (docs/benchmarks.md, "Scaling").

    python -m bench.cheap_worker worker --app-id … --topic-prefix …

The production command in every other respect — validation, redaction, TaggedEvent encoding,
Kafka in and out, the hotspot stage with the production rules — so the figure is "the full
pipeline, tagging cost aside": how the worker scales with partitions is not hidden behind the
tagger's own cost, which another issue may raise on purpose. Only the benchmark runs this module;
the runtime packages never import it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from schemas.domains import ACCESS, DOMAIN_IDS, RELATIONSHIPS
from streams.tagging import Tagger, Tags

_ACCESS_SCORES = {domain: 1.0 if domain == ACCESS else 0.0 for domain in DOMAIN_IDS}
_RELATIONSHIP_SCORES = {domain: 1.0 if domain == RELATIONSHIPS else 0.0 for domain in DOMAIN_IDS}


class CheapTagger:
    """One substring test per text: a valid TaggedEvent's fields at a few hundred nanoseconds."""

    def tag(self, text: str, source: str, category_codes: Sequence[str] = ()) -> Tags:
        waiting = "wait" in text
        return Tags(
            domains=[ACCESS if waiting else RELATIONSHIPS],
            domain_scores=_ACCESS_SCORES if waiting else _RELATIONSHIP_SCORES,
            themes=["waiting"] if waiting else [],
            sentiment=-0.5 if waiting else 0.0,
        )

    def tag_many(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[Tags]:
        tag = self.tag
        return [tag(text, source, codes) for text, source, codes in items]


KAFKA_REQUESTS = "bench_kafka_requests_total"


def _client_role(client_id: str) -> str:
    """A client id without the run's unique prefix: ``tagging`` for the tagging stage's clients
    (``<app id>.tagging``), ``faust`` for Faust's consumer and producer (the hotspot stage)."""
    return "faust" if client_id.startswith("faust") else client_id.rsplit(".", 1)[-1]


def count_kafka_requests() -> None:
    """Wrap aiokafka's one way out to the broker (``AIOKafkaConnection.send``) with a counter."""
    from aiokafka.conn import AIOKafkaConnection
    from prometheus_client import Counter

    requests = Counter(
        KAFKA_REQUESTS.removesuffix("_total"), "Kafka requests sent, by API and client", ["api", "client"]
    )
    original = AIOKafkaConnection.send
    children: dict[tuple[str, str], Any] = {}

    def send(self: Any, request: Any, expect_response: bool = True) -> Any:
        key = (type(request).__name__, self._client_id)
        child = children.get(key)
        if child is None:
            child = children[key] = requests.labels(api=key[0], client=_client_role(key[1] or ""))
        child.inc()
        return original(self, request, expect_response)

    AIOKafkaConnection.send = send  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    Tagger.default = classmethod(lambda cls: CheapTagger())  # type: ignore[method-assign,assignment]
    count_kafka_requests()
    from pxstream.cli import main as pxstream_main

    return pxstream_main(argv)


if __name__ == "__main__":
    sys.exit(main())
