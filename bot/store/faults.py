"""Transient database faults: which errors to retry, the retry, and recycling the pool."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger("cyclewatch.store")
T = TypeVar("T")
# Words of the transient faults: a read-only, locked, busy or vanished database.
_TRANSIENT = ("readonly", "read-only", "read only", "locked", "busy", "disk i/o",
              "server closed", "connection", "terminating", "could not connect")


def transient(err: BaseException) -> bool:
    """Whether a database error is worth retrying (it may go away by itself)."""
    if not isinstance(err, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return False
    return bool(getattr(err, "connection_invalidated", False)) or any(
        word in str(err.orig if hasattr(err, "orig") else err).lower() for word in _TRANSIENT)


def retrying(fn: Callable[[], T], *, attempts: int = 6, first_wait: float = 0.1,
             sleep: Callable[[float], None] = time.sleep) -> T:
    """`fn()`, again after a transient fault with doubling waits (0.1 s … 3.2 s: ~6 s in all,
    short enough for a stop to wait for); the last fault is raised."""
    for attempt in range(attempts):
        try:
            return fn()
        except sa.exc.DBAPIError as err:
            if not transient(err) or attempt == attempts - 1:
                raise
            log.warning("database fault (%s); retrying", str(err.orig).splitlines()[0][:120])
            sleep(first_wait * 2**attempt)
    raise AssertionError("unreachable")


def recycle_on_fault(engine: Engine) -> None:
    """Treat transient faults as disconnects, so the pool drops every connection it holds."""

    @sa.event.listens_for(engine, "handle_error")
    def _recycle(context: Any) -> None:
        # A connection opened while the file was read-only stays read-only (and one cut by
        # the server stays dead): pool_pre_ping cannot tell, so the pool starts over.
        if transient(context.sqlalchemy_exception or context.original_exception):
            context.is_disconnect = True
