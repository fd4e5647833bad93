"""The outbox rows: the one claim (the delivery worker's and the digest's), handing claims back,
and recording each delivery's outcome. Plain synchronous SQL (the statements are in
`bot.store.claiming`): async callers run every method that touches the database with
`asyncio.to_thread`, so the event loop never waits on it (`note_sent` does not).

Claim -> send -> note -> (next claim) record: one claim is one `UPDATE … RETURNING` in one
write transaction that also records the sends noted since the last one and renews the lease,
so a batch costs one statement and one commit, whatever its size. On PostgreSQL several
processes claim with `FOR UPDATE SKIP LOCKED` (no claimer ever waits on another's rows); on
SQLite the transaction begins IMMEDIATE (`bot.store.tx`), so several workers never deadlock.

A crash repeats at most the messages in flight: each send is journaled (`bot.alerts.journal`)
the moment it returns, and whoever takes the dead process's claims back on this host records
its journal first. A claim belongs to its owner's lease, renewed while it runs; once the lease
lapses (the process died, on this host or another) the claims are anyone's to take. Sends
noted during a database fault wait in memory and in the journal for the next claim; claimed
rows left unsent by a fault go back to pending with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.alerts.journal import SentJournal, drop_journal, journal_owners, read_journal
from bot.alerts.owners import owner_is_dead, worker_id
from bot.notifiers.base import Sent
from bot.store.chats import Subscriptions
from bot.store.claiming import Sending, claim_statement, due, hand_back, has_row, write_sent
from bot.store.faults import DEFAULT_RETRY, Retry
from bot.store.leases import drop_lease, renew_lease
from bot.store.schema import OutboxStatus, events, outbox
from bot.store.tx import write_transaction
from rules import Transition

__all__ = ["Job", "OutboxRows", "worker_id"]
log = logging.getLogger("cyclewatch.outbox")


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
    held: bool = False  # quiet hours held it until now: it goes out in the chat's digest
    happened: datetime | None = None  # when its event was recorded (a held row's digest says)


class OutboxRows:
    """Every read and write of outbox rows, on behalf of one claimer (`owner`)."""

    def __init__(
        self, engine: Engine, owner: str, *, claim_timeout: timedelta = timedelta(minutes=5),
        lease: timedelta = timedelta(seconds=20), journal: Path | None = None,
        retry: Retry = DEFAULT_RETRY,
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.claim_timeout = claim_timeout
        self.lease = lease
        self.retry = retry
        self.subs = Subscriptions(engine)
        self.journal_dir = journal
        self.journal = SentJournal(journal, owner)
        self.unmarked: list[Sending] = []  # sent, not recorded yet
        self._noting = threading.Lock()  # senders note in the loop, records are written in threads
        self._writing = 0  # writes of taken-out sends under way
        self.claimed: set[int] = set()  # rows claimed since `begin_batch`
        self.abandoned: set[int] = set()  # claimed, left unsent by a fault: back at next claim
        self._events: dict[int, tuple[dict[str, Any], datetime | None]] = {}
        self._renewed: datetime | None = None

    # --- claiming ---------------------------------------------------------------------------

    def due(self, now: datetime) -> sa.ColumnElement[bool]:
        """Rows to send now (see `bot.store.claiming.due`)."""
        return due(now, claim_timeout=self.claim_timeout, lease=self.lease)

    def claim(
        self, now: datetime, *, limit: int | None, chat: tuple[str, str] | None = None,
        created_at: datetime | None = None,
    ) -> list[Job]:
        """Take the due rows of the oldest `limit` due rows' chats and evaluations (of one
        (platform, chat), and of one evaluation, when given), with every row of those
        evaluations, in one statement; the sends noted since the last claim are recorded and
        the lease renewed in the same transaction (raise if the database still refuses)."""
        renew = self.lease_due(now)

        def write() -> tuple[set[int], Sequence[Any], dict[int, Any]]:
            with self._recording() as noted, write_transaction(self.engine) as conn:
                write_sent(conn, self.owner, noted)
                released = self._release_abandoned(conn, now)
                if renew:
                    renew_lease(conn, self.owner, now, self.lease)
                rows = conn.execute(claim_statement(conn.dialect.name, self.due(now),
                                                    self.owner, now, limit, chat,
                                                    created_at)).all()
                found = self._event_rows(conn, {int(r.event_id) for r in rows})
            return released, rows, found
        released, rows, found = self.retry.run(write)
        self._renewed = now if renew else self._renewed
        self.abandoned -= released
        jobs = sorted((Job(r.id, r.event_id, r.platform, r.chat_id, r.attempts,
                           dict(found[r.event_id][0]), r.created_at, bool(r.held),
                           found[r.event_id][1]) for r in rows), key=lambda j: j.id)
        self.claimed.update(job.id for job in jobs)
        return jobs

    def _event_rows(
        self, conn: Connection, wanted: set[int]
    ) -> dict[int, tuple[dict[str, Any], datetime | None]]:
        """The events' payloads and record times; an event never changes, so each is read
        once (a fan-out of one alert reads it once, not once per chat)."""
        missing = wanted - self._events.keys()
        if len(self._events) + len(missing) > 4096:
            self._events.clear()
            missing = set(wanted)
        if missing:
            for row in conn.execute(sa.select(events.c.id, events.c.payload, events.c.created_at)
                                    .where(events.c.id.in_(missing))):
                self._events[int(row.id)] = (dict(row.payload), row.created_at)
        return {event_id: self._events[event_id] for event_id in wanted}

    def begin_batch(self) -> None:
        """A new batch of the worker: the rows it claims from now on are tracked anew."""
        self.claimed.clear()

    def abandon(self) -> None:
        """The batch stopped on an error: its rows not sent go back to pending at the next
        claim (the claim's attempt not counted), not after the claim timeout."""
        sent = {row_id for row_id, _ids, _at in self.unmarked}
        self.abandoned |= self.claimed - sent
        self.claimed.clear()

    def _release_abandoned(self, conn: Connection, now: datetime) -> set[int]:
        if not self.abandoned:
            return set()
        conn.execute(outbox.update().where(self._mine(*self.abandoned)).values(
            status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None, next_attempt_at=now,
            attempts=outbox.c.attempts - 1))
        return set(self.abandoned)

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
        """Put our claims (all, or these rows) back to pending, due now; how many. Without
        `ids` (a clean stop) the sends noted are recorded first and the lease given up."""
        where = [outbox.c.status == OutboxStatus.SENDING, outbox.c.claimed_by == self.owner]
        if ids is not None:
            where.append(outbox.c.id.in_(ids))
        else:
            try:
                self.flush_marks()
            except sa.exc.DBAPIError as err:  # they stay in the journal for the next start
                log.warning("cannot record %d sent delivery(s) at stop: %s", len(self.unmarked),
                            err.orig)
            if self.unmarked:  # sent: never back to pending
                where.append(outbox.c.id.not_in([row_id for row_id, _, _ in self.unmarked]))
        with write_transaction(self.engine) as conn:
            count = hand_back(conn, sa.and_(*where), now)
            if ids is None:
                drop_lease(conn, self.owner)
        if ids is None:
            self._renewed = None
            self.journal.close(remove=not self.unmarked)
        return count

    def lease_due(self, now: datetime) -> bool:
        """Whether the lease was last renewed a quarter of it ago (or never, or the clock went
        back): time to renew it."""
        return self._renewed is None or not now - self.lease / 4 < self._renewed <= now

    def keep_lease(self, now: datetime) -> None:
        """Renew this claimer's lease (between the sends of a long batch, and from a periodic
        job: a long send must not let it lapse)."""
        with write_transaction(self.engine) as conn:
            renew_lease(conn, self.owner, now, self.lease)
        self._renewed = now

    def release_dead(self, now: datetime) -> int:
        """Claims of a process of this host that no longer runs (it crashed) go back to
        pending now, instead of when its lease lapses; the sends it journaled are recorded
        as sent first, so they are not repeated. Other hosts' claims are left alone."""
        host = socket.gethostname()

        def write() -> tuple[list[str], int, int]:
            with write_transaction(self.engine) as conn:
                owners = set(conn.execute(
                    sa.select(outbox.c.claimed_by).distinct().where(
                        outbox.c.status == OutboxStatus.SENDING,
                        outbox.c.claimed_by.like(f"{host}:%"))
                ).scalars())
                dead = sorted(o for o in owners | set(journal_owners(self.journal_dir))
                              if o and o.startswith(f"{host}:") and owner_is_dead(o, host))
                recorded = 0
                for owner in dead:
                    sent = read_journal(self.journal_dir, owner)
                    recorded += len(sent)
                    write_sent(conn, owner, [(i, ids, now) for i, ids in sent])
                count = hand_back(conn, sa.and_(outbox.c.status == OutboxStatus.SENDING,
                                                 outbox.c.claimed_by.in_(dead)), now)
            return dead, count, recorded
        dead, count, recorded = self.retry.run(write)
        for owner in dead:
            drop_journal(self.journal_dir, owner)
        if count or recorded:
            log.info("took back %d delivery claim(s) of a stopped process (%d it had sent)",
                     count, recorded)
        return count

    # --- recording outcomes -------------------------------------------------------------------

    def _mine(self, *ids: int) -> sa.ColumnElement[bool]:
        return sa.and_(outbox.c.id.in_(ids), outbox.c.status == OutboxStatus.SENDING,
                       outbox.c.claimed_by == self.owner)

    def note_sent(self, ids: Sequence[int], sent: Sent, now: datetime) -> None:
        """These rows went out as `sent`: journaled now, recorded in the database with the
        next claim (one commit per batch)."""
        with self._noting:
            self.journal.note([(row_id, sent.message_ids) for row_id in ids])
            self.unmarked.extend((row_id, sent.message_ids, now) for row_id in ids)

    def mark_sent(self, ids: Sequence[int], sent: Sent, now: datetime) -> None:
        """These rows went out as `sent`: recorded now (with what was noted before); through
        a lasting fault the marks wait for the next claim."""
        self.note_sent(ids, sent, now)
        try:
            self.flush_marks()
        except sa.exc.DBAPIError as err:
            log.warning("cannot record %d sent delivery(s) yet: %s", len(self.unmarked),
                        err.orig)

    def flush_marks(self, *, retry: bool = True) -> None:
        """Record the sends noted so far (retried through transient faults unless `retry` is
        off; raise if the database still refuses: they stay noted)."""
        if not self.unmarked:
            return

        def write() -> None:
            with self._recording() as noted, write_transaction(self.engine) as conn:
                write_sent(conn, self.owner, noted)
        if retry:
            self.retry.run(write)
        else:
            write()

    @contextlib.contextmanager
    def _recording(self) -> Iterator[list[Sending]]:
        """The noted sends, taken out for one write (senders still running note the next
        ones meanwhile, and another write cannot take these too); put back in front when the
        write fails; the journal emptied once nothing is left unrecorded."""
        with self._noting:
            taken, self.unmarked = self.unmarked, []
            self._writing += 1
        try:
            yield taken
        except BaseException:
            with self._noting:
                self.unmarked[:0] = taken
                self._writing -= 1
            raise
        with self._noting:
            self._writing -= 1
            if not self.unmarked and not self._writing:
                self.journal.clear()

    def finish(self, job: Job, status: OutboxStatus, error: str) -> None:
        """End the row as failed / blocked / migrated, keeping the error."""
        def write() -> None:
            with write_transaction(self.engine) as conn:
                conn.execute(outbox.update().where(self._mine(job.id)).values(
                    status=status, last_error=error))
        self.retry.run(write)

    def retry_at(self, job: Job, at: datetime, *, attempts: int, error: str) -> None:
        """Back to pending until `at`, with the attempts counted so far."""
        def write() -> None:
            with write_transaction(self.engine) as conn:
                conn.execute(outbox.update().where(self._mine(job.id)).values(
                    status=OutboxStatus.PENDING, attempts=attempts, last_error=error,
                    claimed_by=None, next_attempt_at=at))
        self.retry.run(write)

    def block_chat(self, job: Job, chat_id: str, error: str) -> None:
        """The chat blocked or left us: deactivate it, and stop its pending rows and this one."""
        with write_transaction(self.engine) as conn:
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
        with write_transaction(self.engine) as conn:
            self.subs.migrate_chat(conn, jobs[0].platform, old, new)
            for job in jobs:
                if has_row(conn, job.event_id, job.platform, new):
                    conn.execute(outbox.update().where(self._mine(job.id)).values(
                        status=OutboxStatus.MIGRATED, last_error=f"chat moved to {new}"))
                    continue
                conn.execute(outbox.update().where(self._mine(job.id)).values(chat_id=new))
                moved.append(dataclasses.replace(job, chat_id=new))
        return moved

    def firing_message_ids(self, job: Job, rule_id: str) -> tuple[str, ...]:
        """For a resolve: the message ids of this chat's copy of the rule's last firing alert
        (sends noted but not yet recorded are recorded first, when the database lets us)."""
        with contextlib.suppress(sa.exc.DBAPIError):
            self.flush_marks()
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
