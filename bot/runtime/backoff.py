"""The one backoff: exponential delays after consecutive failures, optionally jittered."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays base, 2×base, 4×base … capped at `max_seconds`; `max_attempts` bounds retries.

    Jobs and pollers use it plainly (their timing is tested to the second); the delivery worker
    passes a random generator for "equal jitter", so many chats rate-limited together do not
    retry in lockstep.
    """

    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    max_attempts: int | None = None

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after `failures` consecutive failures (1 for the first)."""
        exponent = min(max(0, failures - 1), 60)
        cap = min(max(self.base_seconds, self.max_seconds), self.base_seconds * 2.0**exponent)
        if rng is None:
            return cap
        return cap / 2 + rng.uniform(0, cap / 2)

    def exhausted(self, attempts: int) -> bool:
        """Whether `attempts` tries are all that may be made."""
        return self.max_attempts is not None and attempts >= self.max_attempts
