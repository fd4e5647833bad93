"""One log line per kind of recurring refusal per interval, with the count since the last one:
a flood of bad requests must not become a flood of log lines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

EVERY_SECONDS = 60.0


class RatedLog:
    """Logs the first event of a kind at once, then at most one line per `every` seconds,
    each saying how many such events there were since the previous line."""

    def __init__(self, log: logging.Logger, every: float = EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.every = every
        self.clock = clock
        self._count: dict[str, int] = {}
        self._logged_at: dict[str, float] = {}

    def note(self, kind: str, message: str, level: int = logging.WARNING) -> bool:
        """Count one event of `kind`; log `message` (one line) if it is time; True if logged."""
        self._count[kind] = self._count.get(kind, 0) + 1
        now = self.clock()
        last = self._logged_at.get(kind)
        if last is not None and now - last < self.every:
            return False
        count = self._count.pop(kind)
        self._logged_at[kind] = now
        since = "" if last is None else f" ({count} such since the last line)"
        self.log.log(level, "%s%s", " ".join(message.split()), since)
        return True
