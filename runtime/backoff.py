"""Exponential backoff with full jitter, the one retry policy of every stage and connector.

Full jitter (a uniform draw below the exponential ceiling) spreads the retries of many workers
that failed together, so a service coming back is not hit by all of them in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float = 1.0
    cap_s: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, at_least: float = 0.0) -> float:
        """The next wait: uniform in [0, min(cap, base·2^attempt)], never below `at_least`
        (a service's own `Retry-After`)."""
        ceiling = min(self.cap_s, self.base_s * (2**self.attempt))
        self.attempt += 1
        return max(at_least, self.rng.uniform(0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
