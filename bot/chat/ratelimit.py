"""A per-key token bucket (e.g. per chat user) on an injected monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`capacity` commands at once, refilled at `per_second`; `take(key)` spends one.

    Returns 0.0 when allowed, else the seconds until the next token.
    """

    capacity: float = 5.0
    per_second: float = 0.2
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> float:
        """Spend one token for `key`; 0.0 if allowed, else how long to wait."""
        now = self.clock()
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        tokens, stamp = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.per_second

    def _forget_full(self, now: float) -> None:
        """Drop keys whose bucket has refilled: they behave exactly like unseen keys."""
        full = [
            key for key, (tokens, stamp) in self._buckets.items()
            if tokens + (now - stamp) * self.per_second >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
