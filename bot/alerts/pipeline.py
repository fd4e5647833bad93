"""The alert pipeline, Alertmanager-like in small stages: events -> route to matching
subscriptions -> drop muted chats -> dedup -> outbox rows, in ONE transaction with the event.
A chat whose quiet hours hold the alert gets its row due when the window ends (`held`).

`Pipeline(store).record` fits `bot.evaluate.evaluator.RecordEvents`: it takes new rule
transitions and returns how many were new (an event already stored is a repeat and changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.alerts.payload import event_payload
from bot.alerts.quiet import held_until
from bot.store import Store
from bot.store.chats import insert_ignoring_duplicates
from bot.store.schema import OutboxStatus, chats, events, mutes, outbox, subscriptions
from rules import Event


@dataclass(frozen=True, order=True)
class Recipient:
    """One chat on one platform."""

    platform: str
    chat_id: str


def route(conn: Connection, rule_id: str, severity: str) -> set[Recipient]:
    """Stage 1: active chats with an active subscription to the rule, its severity, or all."""
    query = (
        sa.select(subscriptions.c.platform, subscriptions.c.chat_id)
        .select_from(
            subscriptions.join(
                chats,
                sa.and_(chats.c.platform == subscriptions.c.platform,
                        chats.c.chat_id == subscriptions.c.chat_id),
            )
        )
        .where(
            subscriptions.c.active,
            chats.c.active,
            subscriptions.c.target.in_([rule_id, severity, "all"]),
        )
        .distinct()
    )
    return {Recipient(row.platform, row.chat_id) for row in conn.execute(query)}


def drop_muted(
    conn: Connection, recipients: Iterable[Recipient], rule_id: str, now: datetime
) -> set[Recipient]:
    """Stage 2: leave out chats that muted this rule until later than `now`."""
    muted = {
        Recipient(row.platform, row.chat_id)
        for row in conn.execute(
            sa.select(mutes.c.platform, mutes.c.chat_id).where(
                mutes.c.rule_id == rule_id, mutes.c.until > now
            )
        )
    }
    return set(recipients) - muted


def store_event(conn: Connection, event: Event, now: datetime) -> int | None:
    """Stage 3 (dedup): insert the event once per rule/state/date; None when already known."""
    return store_payload(conn, event.rule_id, event.state, event.date, event.severity,
                         event_payload(event), now, value=event.value)


def store_payload(
    conn: Connection, rule_id: str, state: str, obs_date: date, severity: str,
    payload: dict[str, Any], now: datetime, *, value: float | None = None,
) -> int | None:
    """An event row once per rule/state/date (an alert, or the weekly briefing under its own
    id); its id, or None when it was already stored."""
    added = insert_ignoring_duplicates(
        conn,
        events,
        {
            "rule_id": rule_id,
            "state": state,
            "obs_date": obs_date,
            "value": value,
            "severity": severity,
            "payload": payload,
            "created_at": now,
        },
    )
    if not added:
        return None
    return int(
        conn.execute(
            sa.select(events.c.id).where(
                events.c.rule_id == rule_id,
                events.c.state == state,
                events.c.obs_date == obs_date,
            )
        ).scalar_one()
    )


def enqueue(
    conn: Connection, event_id: int, recipients: Iterable[Recipient], now: datetime,
    held: Mapping[Recipient, datetime] | None = None,
) -> int:
    """Stage 4: one outbox row per recipient (unique per event and chat), due now or, for a
    chat in quiet hours that hold, when they end; how many added."""
    added = 0
    held = held or {}
    for recipient in sorted(recipients):
        added += insert_ignoring_duplicates(
            conn,
            outbox,
            {
                "event_id": event_id,
                "platform": recipient.platform,
                "chat_id": recipient.chat_id,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": held.get(recipient, now),
                "held": recipient in held,
                "created_at": now,
            },
        )
    return added


class Pipeline:
    """Turns rule transitions into outbox rows for every chat that wants them.

    `implicit` recipients get every event without subscribing (the console notifier when no
    chat platform is configured).
    """

    def __init__(self, store: Store, *, implicit: Sequence[Recipient] = ()) -> None:
        self.store = store
        self.implicit = tuple(implicit)

    def record(self, found: Sequence[Event], now: datetime) -> int:
        """Store new events and their deliveries atomically; return how many events were new."""
        new = 0
        with self.store.engine.begin() as conn:
            for event in found:
                event_id = store_event(conn, event, now)
                if event_id is None:
                    continue
                new += 1
                recipients = route(conn, event.rule_id, event.severity) | set(self.implicit)
                wanted = drop_muted(conn, recipients, event.rule_id, now)
                enqueue(conn, event_id, wanted, now,
                        held_until(conn, wanted, event.severity, now))
        return new
