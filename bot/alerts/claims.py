"""The outbox rows: the one claim (the delivery worker's and the digest's), handing claims back,
and recording each delivery's outcome. Plain synchronous SQL: async callers run every method
with `asyncio.to_thread`, so the event loop never waits on the database.

Claim -> send -> mark: a crash can at most repeat the one message in flight, because a claim
older than `claim_timeout` is taken over by the next claimer. On PostgreSQL several processes
claim with `FOR UPDATE SKIP LOCKED`; every claim is also a compare-and-set UPDATE, so two
claimers never both own a row (on SQLite too).

Writes after a send are retried through transient database faults (`bot.store.faults`); a
"sent" that still cannot be written is kept in memory and written before the next claim, so a
read-only spell does not send anything twice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.notifiers.base import Sent
from bot.store.chats import Subscriptions
from bot.store.faults import retrying
from bot.store.schema import OutboxStatus, events, outbox
from rules import Transition

log = logging.getLogger("cyclewatch.outbox")


# Unique per process start: a restarted container often gets the same pid (1) again.
_START = secrets.token_hex(4)


def worker_id() -> str:
    """This process's name in outbox claims: `host:pid:start` (see `release_dead`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_START}"


def _owner_is_dead(owner: str, host: str) -> bool:
    """Whether the claimer `owner` (`host:pid[:start]`) of this host no longer runs."""
    rest = owner.removeprefix(f"{host}:")
    pid_text, _, start = rest.partition(":")
    if pid_text == str(os.getpid()):
        return start != _START  # our pid, an earlier start: a restart reusing the pid
    return not _alive(pid_text)


@dataclass(frozen=True)
class Job:
    """One claimed delivery; `payload` is the stored JSON (`AlertPayload` reads it)."""

    id: int
    event_id: int
    platform: str
    chat_id: str
    attempts: int
    payload: dict[str, Any]
    # When its evaluation recorded it: rows of one evaluation share it (the pipeline writes
    # them in one transaction with one `now`), which is how they are grouped for a chat.
    created_at: datetime | None = None


class OutboxRows:
    """Every read and write of outbox rows, on behalf of one claimer (`owner`)."""

    def __init__(
        self, engine: Engine, owner: str, *, claim_timeout: timedelta = timedelta(minutes=5)
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.claim_timeout = claim_timeout
        self.subs = Subscriptions(engine)
        self.unmarked: list[tuple[list[int], Sent, datetime]] = []  # sent, not yet recorded

    # --- claiming ---------------------------------------------------------------------------

    def due(self, now: datetime) -> sa.ColumnElement[bool]:
        """Rows to send now: pending and due, or claimed by someone who has gone silent."""
        return sa.or_(
            sa.and_(outbox.c.status == OutboxStatus.PENDING, outbox.c.next_attempt_at <= now),
            sa.and_(outbox.c.status == OutboxStatus.SENDING,
                    outbox.c.claimed_at < now - self.claim_timeout),
        )

    def claim(
        self, now: datetime, *, limit: int | None, chat: tuple[str, str] | None = None,
        created_at: datetime | None = None,
    ) -> list[Job]:
        """Take up to `limit` due rows (of one (platform, chat), and of one evaluation, when
        given), oldest first."""
        while self.unmarked:  # first record what went out during a fault (raise if still down)
            ids, sent, at = self.unmarked[0]
            self._mark_sent(ids, sent, at)
            self.unmarked.pop(0)
        candidates = sa.select(outbox.c.id).where(self.due(now))
        if chat is not None:
            candidates = candidates.where(outbox.c.platform == chat[0],
                                          outbox.c.chat_id == chat[1])
        if created_at is not None:
            candidates = candidates.where(outbox.c.created_at == created_at)
        candidates = candidates.order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            claimed = [row_id for row_id in conn.execute(candidates).scalars()
                       if self._take(conn, row_id, now)]
            rows = conn.execute(
                sa.select(outbox, events.c.payload)
                .join(events, events.c.id == outbox.c.event_id)
                .where(outbox.c.id.in_(claimed))
                .order_by(outbox.c.id)
            ).all()
        return [Job(r.id, r.event_id, r.platform, r.chat_id, r.attempts, dict(r.payload),
                    r.created_at) for r in rows]

    def _take(self, conn: Connection, row_id: int, now: datetime) -> bool:
        """Compare-and-set: the row is ours only if it is still due when we write."""
        return bool(conn.execute(
            outbox.update()
            .where(outbox.c.id == row_id, self.due(now))
            .values(status=OutboxStatus.SENDING, claimed_by=self.owner, claimed_at=now,
                    attempts=outbox.c.attempts + 1)
        ).rowcount)

    def crowded(self, now: datetime) -> list[tuple[str, str]]:
        """(platform, chat) of every chat with at least two rows due (the digest's chats)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(outbox.c.platform, outbox.c.chat_id).where(self.due(now))
                .group_by(outbox.c.platform, outbox.c.chat_id).having(sa.func.count() > 1)
                .order_by(outbox.c.platform, outbox.c.chat_id)
            ).all()
        return [(str(platform), str(chat_id)) for platform, chat_id in found]

    # --- handing claims back ------------------------------------------------------------------

    def release(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        """Put our claims (all, or these rows) back to pending, due now; how many."""
        where = [outbox.c.status == OutboxStatus.SENDING, outbox.c.claimed_by == self.owner]
        if ids is not None:
            where.append(outbox.c.id.in_(ids))
        with self.engine.begin() as conn:
            return self._back(conn, sa.and_(*where), now)

    def release_dead(self, now: datetime) -> int:
        """Claims of a process of this host that no longer runs (it crashed) go back to
        pending now, instead of after the claim timeout; other hosts' claims are left alone."""
        host = socket.gethostname()
        with self.engine.begin() as conn:
            owners = conn.execute(
                sa.select(outbox.c.claimed_by).distinct().where(
                    outbox.c.status == OutboxStatus.SENDING, outbox.c.claimed_by.like(f"{host}:%"))
            ).scalars().all()
            dead = [o for o in owners if o and _owner_is_dead(o, host)]
            if not dead:
                return 0
            count = self._back(conn, sa.and_(outbox.c.status == OutboxStatus.SENDING,
                                             outbox.c.claimed_by.in_(dead)), now)
        log.info("took back %d delivery claim(s) of a stopped process", count)
        return count

    @staticmethod
    def _back(conn: Connection, where: sa.ColumnElement[bool], now: datetime) -> int:
        result = conn.execute(outbox.update().where(where).values(
            status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None, next_attempt_at=now))
        return int(result.rowcount or 0)

    # --- recording outcomes -------------------------------------------------------------------

    def _mine(self, *ids: int) -> sa.ColumnElement[bool]:
        return sa.and_(outbox.c.id.in_(ids), outbox.c.status == OutboxStatus.SENDING,
                       outbox.c.claimed_by == self.owner)

    def mark_sent(self, ids: Sequence[int], sent: Sent, now: datetime) -> None:
        """These rows went out as `sent` (one message, or one digest of them all); through a
        lasting fault the mark waits in memory for the next claim."""
        try:
            retrying(lambda: self._mark_sent(ids, sent, now))
        except sa.exc.DBAPIError as err:
            log.warning("cannot record %d sent delivery(s) yet: %s", len(ids), err.orig)
            self.unmarked.append((list(ids), sent, now))

    def _mark_sent(self, ids: Sequence[int], sent: Sent, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(self._mine(*ids)).values(
                status=OutboxStatus.SENT, message_ids=list(sent.message_ids), sent_at=now,
                last_error=None))

    def finish(self, job: Job, status: OutboxStatus, error: str) -> None:
        """End the row as failed / blocked / migrated, keeping the error."""
        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(outbox.update().where(self._mine(job.id)).values(
                    status=status, last_error=error))
        retrying(write)

    def retry_at(self, job: Job, at: datetime, *, attempts: int, error: str) -> None:
        """Back to pending until `at`, with the attempts counted so far."""
        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(outbox.update().where(self._mine(job.id)).values(
                    status=OutboxStatus.PENDING, attempts=attempts, last_error=error,
                    claimed_by=None, next_attempt_at=at))
        retrying(write)

    def block_chat(self, job: Job, chat_id: str, error: str) -> None:
        """The chat blocked or left us: deactivate it, and stop its pending rows and this one."""
        with self.engine.begin() as conn:
            self.subs.deactivate_chat(conn, job.platform, chat_id)
            conn.execute(
                outbox.update()
                .where(outbox.c.platform == job.platform, outbox.c.chat_id == chat_id,
                       outbox.c.status == OutboxStatus.PENDING)
                .values(status=OutboxStatus.BLOCKED, last_error="chat blocked the bot"))
            conn.execute(outbox.update().where(self._mine(job.id)).values(
                status=OutboxStatus.BLOCKED, last_error=error))

    def migrate(self, jobs: Sequence[Job], old: str, new: str) -> list[Job]:
        """Move the chat (its settings, subscriptions and pending rows) to its new id once, and
        these claimed rows of it with it, in one transaction. A row whose alert the new chat
        already has ends 'migrated'; the others are returned as they are now (at `new`)."""
        moved: list[Job] = []
        if not jobs:
            return moved
        with self.engine.begin() as conn:
            self.subs.migrate_chat(conn, jobs[0].platform, old, new)
            for job in jobs:
                if _has_row(conn, job.event_id, job.platform, new):
                    conn.execute(outbox.update().where(self._mine(job.id)).values(
                        status=OutboxStatus.MIGRATED, last_error=f"chat moved to {new}"))
                    continue
                conn.execute(outbox.update().where(self._mine(job.id)).values(chat_id=new))
                moved.append(dataclasses.replace(job, chat_id=new))
        return moved

    def firing_message_ids(self, job: Job, rule_id: str) -> tuple[str, ...]:
        """For a resolve: the message ids of this chat's copy of the rule's last firing alert."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(outbox.c.message_ids)
                .join(events, events.c.id == outbox.c.event_id)
                .where(
                    events.c.rule_id == rule_id,
                    events.c.state == Transition.FIRING,
                    events.c.id != job.event_id,
                    outbox.c.platform == job.platform,
                    outbox.c.chat_id == job.chat_id,
                    outbox.c.status == OutboxStatus.SENT,
                )
                .order_by(events.c.obs_date.desc())
                .limit(1)
            ).scalar()
        return tuple(str(i) for i in found or ())


def _has_row(conn: Connection, event_id: int, platform: str, chat_id: str) -> bool:
    return conn.execute(
        sa.select(outbox.c.id).where(outbox.c.event_id == event_id,
                                     outbox.c.platform == platform, outbox.c.chat_id == chat_id)
    ).first() is not None


def _alive(pid_text: str) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):  # not a pid we can judge, or someone else's: alive
        return True
    return True
