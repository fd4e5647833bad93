"""Leader election for scale-out: a PostgreSQL session advisory lock on a dedicated connection.

The leader polls and evaluates; every process delivers. The lock lives as long as the
connection, so a leader that dies (even kill -9) frees it when the server sees the socket
close, and a follower's next attempt takes over. The holder re-checks the lock on every
tick, and steps down at once when its connection is broken. SQLite runs one process: it is
always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("cyclewatch.leader")

# An arbitrary 64-bit key naming "the cyclewatch leader" (distinct from the migration lock).
LEADER_LOCK_KEY = 4242002
_HELD = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = %s"
)


def libpq_url(db_url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string (driver name removed)."""
    url = make_url(db_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Leadership:
    """Whether this process leads; `check()` tries to take the lock or confirms it is held."""

    def __init__(self, db_url: str, *, key: int = LEADER_LOCK_KEY, timeout: float = 5.0) -> None:
        self.single_process = not db_url.startswith("postgresql")
        self.db_url = db_url
        self.key = key
        self.timeout = timeout
        self.is_leader = self.single_process
        self._conn: psycopg.Connection[Any] | None = None

    async def check(self) -> bool:
        """Take or confirm leadership (in a worker thread); return whether we lead now."""
        if self.single_process:
            return True
        was = self.is_leader
        self.is_leader = await asyncio.to_thread(self._check)
        if self.is_leader != was:
            log.info("%s", "this process is now the leader" if self.is_leader
                     else "this process is no longer the leader")
        return self.is_leader

    def _check(self) -> bool:
        import psycopg  # only with PostgreSQL: SQLite never elects (~50 ms at every start)

        try:
            conn = self._connection()
            if self.is_leader:
                held = conn.execute(_HELD, (self.key,)).fetchone()
                return bool(held and held[0])
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            return bool(row and row[0])
        except psycopg.Error as err:
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            log.warning("leader check failed (%s); acting as follower", first_line)
            self._drop()
            return False

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                libpq_url(self.db_url), autocommit=True, connect_timeout=int(self.timeout),
                options=f"-c statement_timeout={int(self.timeout * 1000)}",
                keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                application_name="cyclewatch-leader",
            )
        return self._conn

    def _drop(self) -> None:
        import psycopg

        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):  # already broken: nothing to release
                self._conn.close()
        self._conn = None

    async def release(self) -> None:
        """Give up leadership (at a clean stop) so a follower takes over at once."""
        if not self.single_process:
            await asyncio.to_thread(self._unlock_and_drop)
            self.is_leader = False

    def _unlock_and_drop(self) -> None:
        # Unlock explicitly: the server frees a closed session's locks only once its backend
        # has exited, and a follower asking at that moment would be refused.
        import psycopg

        if self.is_leader and self._conn is not None and not self._conn.closed:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._drop()
