"""A per-key token bucket (e.g. per chat user) on an injected monotonic clock, and the
front ends' gate built on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


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


class Verdict(Enum):
    """What a front end does with a command: run it, tell the user once, or drop it."""

    RUN = "run"
    NOTICE = "notice"
    DROP = "drop"


@dataclass
class CommandGate:
    """The front ends' rate limit, checked before a command takes a concurrency slot: over
    the limit a user hears one notice per `notice_window` seconds, then silence."""

    bucket: TokenBucket = field(default_factory=TokenBucket)
    notice_window: float = 60.0
    max_keys: int = 10_000
    _noticed: dict[str, float] = field(default_factory=dict)

    def check(self, key: str) -> tuple[Verdict, float]:
        """The verdict for one command of `key`, and the seconds until the next token."""
        wait = self.bucket.take(key)
        if wait <= 0:
            return Verdict.RUN, 0.0
        now = self.bucket.clock()
        if now < self._noticed.get(key, float("-inf")):
            return Verdict.DROP, wait
        if len(self._noticed) > self.max_keys:
            self._noticed = {k: until for k, until in self._noticed.items() if until > now}
        self._noticed[key] = now + max(wait, self.notice_window)
        return Verdict.NOTICE, wait
