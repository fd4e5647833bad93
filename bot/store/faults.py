"""Transient database faults: which errors to retry, the retry, and recycling the pool.

A read-only, full, locked or vanished database is retried with doubling waits; the first
fault of a spell is logged once and its end once (`OutageLatch`), so a long spell does not
flood the log. What still fails after the retries is raised: the caller's own job backs off
and tries again later, and nothing needs a restart once the database is writable again
(`recycle_on_fault` drops the connections opened during the spell).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.runtime.latch import OutageLatch

log = logging.getLogger("cyclewatch.store")
T = TypeVar("T")
# Words of the transient faults: a read-only, full, locked, busy or vanished database.
_TRANSIENT = ("readonly", "read-only", "read only", "locked", "busy", "disk i/o", "full",
              "no space", "server closed", "connection", "terminating", "could not connect")
_latch = OutageLatch("the database", log)


def transient(err: BaseException) -> bool:
    """Whether a database error is worth retrying (it may go away by itself)."""
    if not isinstance(err, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return False
    return bool(getattr(err, "connection_invalidated", False)) or any(
        word in str(err.orig if hasattr(err, "orig") else err).lower() for word in _TRANSIENT)


@dataclass(frozen=True)
class Retry:
    """How a write is retried through transient faults: `attempts` tries with doubling waits
    from `first_wait` (0.1 s … 3.2 s: ~6 s in all, short enough for a stop to wait for)."""

    attempts: int = 6
    first_wait: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    on_fault: Callable[[], None] | None = None  # counts each retried fault (a metric)

    def run(self, fn: Callable[[], T]) -> T:
        """`fn()`, again after a transient fault; the last fault is raised."""
        for attempt in range(self.attempts):
            try:
                result = fn()
            except sa.exc.DBAPIError as err:
                if not transient(err) or attempt == self.attempts - 1:
                    raise
                _latch.failed(str(err.orig).splitlines()[0][:120])
                if self.on_fault is not None:
                    self.on_fault()
                self.sleep(self.first_wait * 2**attempt)
                continue
            _latch.recovered()
            return result
        raise AssertionError("unreachable")


DEFAULT_RETRY = Retry()


def retrying(fn: Callable[[], T], *, attempts: int = 6, first_wait: float = 0.1,
             sleep: Callable[[float], None] = time.sleep) -> T:
    """`fn()` through transient faults (see `Retry`)."""
    return Retry(attempts, first_wait, sleep).run(fn)


def recycle_on_fault(engine: Engine) -> None:
    """Treat transient faults as disconnects, so the pool drops every connection it holds."""

    @sa.event.listens_for(engine, "handle_error")
    def _recycle(context: Any) -> None:
        # A connection opened while the file was read-only stays read-only (and one cut by
        # the server stays dead): pool_pre_ping cannot tell, so the pool starts over.
        if transient(context.sqlalchemy_exception or context.original_exception):
            context.is_disconnect = True
