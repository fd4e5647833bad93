"""Quiet hours on the delivery side: which recipients a hold keeps, and the outbox writes that
hold a row (a later due time and the `held` mark: still the one row, claimed the one way)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.store.chats import Chat
from bot.store.quiet import QuietHours, zone
from bot.store.schema import OutboxStatus, chats, events, outbox


class Addressed(Hashable, Protocol):
    """A recipient: one chat on one platform (`bot.alerts.pipeline.Recipient`)."""

    @property
    def platform(self) -> str:
        """The platform."""
        ...

    @property
    def chat_id(self) -> str:
        """The chat."""
        ...


R = TypeVar("R", bound=Addressed)


def chat_zone(chat: Chat | None, default: str = "UTC") -> ZoneInfo:
    """The chat's zone (the default for an unknown chat or one without its own)."""
    return zone(chat.tz if chat is not None else None, default)


def held_until(
    conn: Connection, recipients: Iterable[R], severity: str, now: datetime
) -> dict[R, datetime]:
    """The recipients whose quiet hours hold an alert of `severity` now, and until when."""
    wanted = {(r.platform, r.chat_id): r for r in recipients}
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(chats.c.platform, chats.c.chat_id, chats.c.tz, chats.c.quiet)
        .where(chats.c.quiet.is_not(None))
    ).all()
    found = {}
    for row in rows:
        recipient = wanted.get((row.platform, row.chat_id))
        quiet = QuietHours.from_spec(row.quiet)
        if recipient is None or quiet is None:
            continue
        until = quiet.holds(severity, now, zone(row.tz))
        if until is not None:
            found[recipient] = until
    return found


def held_rows(engine: Engine, ids: Sequence[int]) -> dict[int, datetime]:
    """Of these outbox rows, the held ones, with when their event happened."""
    if not ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.id, events.c.created_at)
            .join(events, events.c.id == outbox.c.event_id)
            .where(outbox.c.id.in_(ids), outbox.c.held)
        ).all()
    return {int(r.id): r.created_at for r in rows}


def hold(engine: Engine, owner: str, row_id: int, until: datetime) -> None:
    """Hand our claim back as a held row due at `until`; the claim's attempt is not counted."""
    with engine.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == row_id, outbox.c.status == OutboxStatus.SENDING,
                   outbox.c.claimed_by == owner)
            .values(status=OutboxStatus.PENDING, held=True, next_attempt_at=until,
                    claimed_by=None, claimed_at=None, attempts=outbox.c.attempts - 1)
        )
