"""The runtime's exceptions, under the project's single root (`schemas.errors.PxstreamError`)."""

from __future__ import annotations

from schemas.errors import PxstreamError


class TopicAdminError(PxstreamError):
    """Kafka refused to create, describe or delete a topic; the message names the topic and broker."""


class BackpressureError(Exception):
    """A tenant cannot take its effect now (its service is down or overloaded).

    Raised by `Tenant.setup`, `Tenant.add` or `Tenant.flush`; the loop pauses the tenant's
    partitions, keeps polling (so the group keeps the member), waits `retry_after` seconds (or
    its own backoff with jitter when None) and asks again. Nothing is committed meanwhile.
    Not a PxstreamError: it never reaches a person, the loop always handles it.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
