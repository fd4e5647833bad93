"""The outbox's claim SQL: which rows are due, the one statement that claims a batch, and the
writes that record sends and hand claims back (used by `bot.alerts.claims`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.store.leases import live_owners
from bot.store.schema import OutboxStatus, outbox

Sending = tuple[int, tuple[str, ...], datetime]  # a row id, the message ids, when it went out


def due(now: datetime, *, claim_timeout: timedelta, lease: timedelta) -> sa.ColumnElement[bool]:
    """Rows to send now: pending and due, or claimed by someone who lost the lease (died,
    hangs) or whose claim is older than the claim timeout.

    A claim younger than one lease is never taken over: a concurrent claimer whose snapshot
    predates the claim's commit (PostgreSQL re-checks a locked row's new version, but reads
    the leases as of its snapshot) would not see the lease taken with it."""
    lapsed = sa.and_(outbox.c.claimed_at < now - lease,
                     outbox.c.claimed_by.not_in(live_owners(now)))
    return sa.or_(
        sa.and_(outbox.c.status == OutboxStatus.PENDING, outbox.c.next_attempt_at <= now),
        sa.and_(outbox.c.status == OutboxStatus.SENDING,
                sa.or_(outbox.c.claimed_at < now - claim_timeout, lapsed)),
    )


def claim_statement(
    dialect: str, due_now: sa.ColumnElement[bool], owner: str, now: datetime,
    limit: int | None, chat: tuple[str, str] | None, created_at: datetime | None,
) -> sa.Update:
    """UPDATE … RETURNING of a claim: every due row of the chats and evaluations of the oldest
    `limit` due rows (all due rows without a limit; of one chat, one evaluation, when given).
    On PostgreSQL the rows are chosen FOR UPDATE SKIP LOCKED (never waiting on another
    claimer, so claims cannot deadlock); on SQLite the caller's immediate transaction is the
    only writer."""
    def due_rows(*columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
        query = sa.select(*columns).where(due_now)
        if chat is not None:
            query = query.where(outbox.c.platform == chat[0], outbox.c.chat_id == chat[1])
        if created_at is not None:
            query = query.where(outbox.c.created_at == created_at)
        return query

    locking = dialect == "postgresql"
    ids = due_rows(outbox.c.id)
    if limit is not None:  # whole evaluations of a chat: one message for them all
        evaluation = (outbox.c.platform, outbox.c.chat_id, outbox.c.created_at)
        first = due_rows(*evaluation).order_by(outbox.c.next_attempt_at, outbox.c.id)
        first = first.limit(limit)
        if locking:
            first = first.with_for_update(skip_locked=True)
        # Materialized: chosen once (PostgreSQL may otherwise run a locking subquery again for
        # each row and so pass the limit).
        chosen = first.cte("chosen").prefix_with("MATERIALIZED")
        ids = ids.where(sa.tuple_(*evaluation).in_(sa.select(*chosen.c)))
    if locking:
        ids = ids.with_for_update(skip_locked=True)
    taken = ids.cte("taken").prefix_with("MATERIALIZED")
    return (
        outbox.update().where(outbox.c.id.in_(sa.select(taken.c.id)), due_now)
        .values(status=OutboxStatus.SENDING, claimed_by=owner, claimed_at=now,
                attempts=outbox.c.attempts + 1)
        .returning(outbox.c.id, outbox.c.event_id, outbox.c.platform, outbox.c.chat_id,
                   outbox.c.attempts, outbox.c.created_at, outbox.c.held)
    )


def write_sent(conn: Connection, owner: str, sent: Sequence[Sending]) -> None:
    """Record sends of `owner`'s claims: one executemany UPDATE (rows another claimer took over
    meanwhile are left to it)."""
    if not sent:
        return
    conn.execute(
        outbox.update()
        .where(outbox.c.id == sa.bindparam("row"), outbox.c.status == OutboxStatus.SENDING,
               outbox.c.claimed_by == owner)
        .values(status=OutboxStatus.SENT, last_error=None,
                message_ids=sa.bindparam("ids", type_=outbox.c.message_ids.type),
                sent_at=sa.bindparam("at", type_=outbox.c.sent_at.type)),
        [{"row": row_id, "ids": list(ids), "at": at} for row_id, ids, at in sent],
    )


def hand_back(conn: Connection, where: sa.ColumnElement[bool], now: datetime) -> int:
    """Claims matching `where` back to pending, due now; how many."""
    result = conn.execute(outbox.update().where(where).values(
        status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None, next_attempt_at=now))
    return int(result.rowcount or 0)


def has_row(conn: Connection, event_id: int, platform: str, chat_id: str) -> bool:
    """Whether the chat has a row of this event (a chat that moved may have it already)."""
    return conn.execute(
        sa.select(outbox.c.id).where(outbox.c.event_id == event_id,
                                     outbox.c.platform == platform, outbox.c.chat_id == chat_id)
    ).first() is not None
