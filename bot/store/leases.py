"""Leases on outbox claims (table `outbox_leases`): a delivering process renews its own while
it runs; a claim whose owner holds no live lease may be taken over by anyone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.store.schema import outbox_leases


def renew_lease(conn: Connection, owner: str, now: datetime, duration: timedelta) -> None:
    """Hold (or take) `owner`'s lease until `now + duration`; lapsed leases are removed (a
    missing lease and a lapsed one mean the same: the claims are free)."""
    conn.execute(outbox_leases.delete().where(outbox_leases.c.expires_at <= now))
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    until = now + duration
    conn.execute(dialect.insert(outbox_leases).values(owner=owner, expires_at=until)
                 .on_conflict_do_update(index_elements=["owner"], set_={"expires_at": until}))


def drop_lease(conn: Connection, owner: str) -> None:
    """Give the lease up (a clean stop): whatever it still covers is free at once."""
    conn.execute(outbox_leases.delete().where(outbox_leases.c.owner == owner))


def live_owners(now: datetime) -> sa.Select[tuple[str]]:
    """The owners whose lease runs past `now` (a subquery for a claim's condition)."""
    return sa.select(outbox_leases.c.owner).where(outbox_leases.c.expires_at > now)
