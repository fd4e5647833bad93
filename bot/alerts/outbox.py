"""The delivery worker: claims due outbox rows, renders each alert in its chat's language,
sends it through the platform's notifier and records the platform's message ids.

Claim -> send -> mark sent: a crash can at most repeat the one message in flight, because a
claim older than `claim_timeout` is taken over by the next worker. On PostgreSQL several
processes claim with `FOR UPDATE SKIP LOCKED`; every claim is also a compare-and-set UPDATE,
so two workers never both own a row (on SQLite too).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.alerts.mutenotice import announce_expired_mutes
from bot.alerts.render import render_alert
from bot.notifiers.base import DeliveryError, Notifier, Sent
from bot.runtime.backoff import Backoff
from bot.runtime.clock import Clock
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import chats, events, outbox

log = logging.getLogger("cyclewatch.outbox")

ChartFor = Callable[[dict[str, Any]], bytes | None]


@dataclass(frozen=True)
class Job:
    """One claimed delivery."""

    id: int
    event_id: int
    platform: str
    chat_id: str
    attempts: int
    payload: dict[str, Any]


class DeliveryWorker:
    """Drains the outbox; one per process, safe to run several against one PostgreSQL."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Clock,
        worker_id: str = "worker",
        backoff: Backoff | None = None,
        claim_timeout: timedelta = timedelta(minutes=5),
        batch: int = 20,
        rng: random.Random | None = None,
        chart_for: ChartFor | None = None,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.worker_id = worker_id
        self.backoff = backoff or Backoff(5.0, 3600.0, max_attempts=8)
        self.claim_timeout = claim_timeout
        self.batch = batch
        self.rng = rng or random.Random()
        self.chart_for = chart_for
        self.subs = Subscriptions(store.engine)

    # --- claiming --------------------------------------------------------------------------

    def _due(self, now: datetime) -> sa.ColumnElement[bool]:
        return sa.or_(
            sa.and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
            sa.and_(outbox.c.status == "sending", outbox.c.claimed_at < now - self.claim_timeout),
        )

    def claim(self) -> list[Job]:
        """Take up to `batch` due rows (and stale claims of crashed workers) for this worker."""
        now = self.clock()
        with self.store.engine.begin() as conn:
            query = (
                sa.select(outbox.c.id)
                .where(self._due(now))
                .order_by(outbox.c.next_attempt_at, outbox.c.id)
                .limit(self.batch)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            claimed = [
                row_id
                for row_id in ids
                if conn.execute(
                    outbox.update()
                    .where(outbox.c.id == row_id, self._due(now))
                    .values(status="sending", claimed_by=self.worker_id, claimed_at=now,
                            attempts=outbox.c.attempts + 1)
                ).rowcount
            ]
            rows = conn.execute(
                sa.select(outbox, events.c.payload)
                .join(events, events.c.id == outbox.c.event_id)
                .where(outbox.c.id.in_(claimed))
                .order_by(outbox.c.id)
            ).all()
        return [Job(r.id, r.event_id, r.platform, r.chat_id, r.attempts, dict(r.payload))
                for r in rows]

    # --- delivering ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch and deliver it; how many rows were handled."""
        jobs = await asyncio.to_thread(self.claim)
        for job in jobs:
            await self.deliver(job)
        await announce_expired_mutes(self.store, self.notifiers, self.clock())
        return len(jobs)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due now; how many rows were handled."""
        handled = 0
        for _ in range(max_rounds):
            count = await self.run_once()
            if count == 0:
                break
            handled += count
        return handled

    def _chat(self, platform: str, chat_id: str) -> tuple[str, bool, str | None]:
        """(language, active, id it migrated to) of a chat; unknown chats are English."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(chats.c.lang, chats.c.active, chats.c.migrated_to).where(
                    chats.c.platform == platform, chats.c.chat_id == chat_id
                )
            ).first()
        if row is None:
            return "en", True, None
        return str(row.lang), bool(row.active), row.migrated_to

    def _replaces(self, job: Job) -> tuple[str, ...]:
        """For a resolve: the message ids of this chat's copy of the rule's last firing alert."""
        if job.payload.get("state") != "resolved":
            return ()
        with self.store.engine.connect() as conn:
            found = conn.execute(
                sa.select(outbox.c.message_ids)
                .join(events, events.c.id == outbox.c.event_id)
                .where(
                    events.c.rule_id == job.payload.get("rule"),
                    events.c.state == "firing",
                    events.c.id != job.event_id,
                    outbox.c.platform == job.platform,
                    outbox.c.chat_id == job.chat_id,
                    outbox.c.status == "sent",
                )
                .order_by(events.c.obs_date.desc())
                .limit(1)
            ).scalar()
        return tuple(str(i) for i in found or ())

    async def deliver(self, job: Job) -> None:
        """Send one claimed row and record the outcome (never drops it silently)."""
        lang, active, moved_to = await asyncio.to_thread(self._chat, job.platform, job.chat_id)
        chat_id = job.chat_id
        if moved_to is not None:  # claimed before another row's send learnt of the move
            if not self._migrate(job, chat_id, moved_to):
                return
            chat_id = moved_to
            lang, active, _ = await asyncio.to_thread(self._chat, job.platform, chat_id)
        if not active:
            self._finish(job, "blocked", error="chat is inactive (blocked or left)")
            return
        notifier = self.notifiers.get(job.platform)
        if notifier is None:
            self._retry_later(job, f"no notifier for platform {job.platform!r}", None)
            return
        replaces = await asyncio.to_thread(self._replaces, job)
        chart = await asyncio.to_thread(self.chart_for, job.payload) if self.chart_for else None
        try:
            message = render_alert(job.payload, lang, replaces=replaces, chart_png=chart)
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            self._finish(job, "failed", error=f"cannot render the alert: {err!r}")
            return
        plain_tried, moved = False, moved_to is not None
        while True:
            try:
                sent = await notifier.send(chat_id, message)
            except DeliveryError as err:
                if err.malformed and not plain_tried:
                    plain_tried = True
                    message = render_alert(job.payload, lang, replaces=replaces, plain=True)
                    continue
                if err.migrated_to and not moved:
                    moved = True
                    if not self._migrate(job, chat_id, err.migrated_to):
                        return
                    chat_id = err.migrated_to
                    continue
                self._failed_send(job, err)
                return
            except Exception as err:  # a notifier bug must not lose the alert
                log.exception("notifier %s raised an unexpected error", job.platform)
                self._retry_later(job, f"{type(err).__name__}: {err}", None)
                return
            self._mark_sent(job, sent)
            return

    # --- recording outcomes -----------------------------------------------------------------

    def _mine(self, job: Job) -> sa.ColumnElement[bool]:
        return sa.and_(outbox.c.id == job.id, outbox.c.status == "sending",
                       outbox.c.claimed_by == self.worker_id)

    def _mark_sent(self, job: Job, sent: Sent) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                outbox.update().where(self._mine(job)).values(
                    status="sent", message_ids=list(sent.message_ids), sent_at=self.clock(),
                    last_error=None,
                )
            )

    def _finish(self, job: Job, status: str, *, error: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                outbox.update().where(self._mine(job)).values(status=status, last_error=error)
            )

    def _retry_later(self, job: Job, error: str, retry_after: float | None) -> None:
        if retry_after is None and self.backoff.exhausted(job.attempts):
            self._finish(job, "failed", error=f"gave up after {job.attempts} attempts: {error}")
            return
        if retry_after is not None:
            delay, attempts = retry_after, job.attempts - 1  # flood control is not a failure
        else:
            delay, attempts = self.backoff.delay(job.attempts, self.rng), job.attempts
        with self.store.engine.begin() as conn:
            conn.execute(
                outbox.update().where(self._mine(job)).values(
                    status="pending", attempts=attempts, last_error=error, claimed_by=None,
                    next_attempt_at=self.clock() + timedelta(seconds=delay),
                )
            )

    def _failed_send(self, job: Job, err: DeliveryError) -> None:
        if err.blocked:
            with self.store.engine.begin() as conn:
                self.subs.deactivate_chat(conn, job.platform, job.chat_id)
                conn.execute(
                    outbox.update()
                    .where(outbox.c.platform == job.platform, outbox.c.chat_id == job.chat_id,
                           outbox.c.status == "pending")
                    .values(status="blocked", last_error="chat blocked the bot")
                )
            self._finish(job, "blocked", error=str(err))
        elif err.retryable:
            self._retry_later(job, str(err), err.retry_after)
        else:
            self._finish(job, "failed", error=str(err) or type(err).__name__)

    def _migrate(self, job: Job, old: str, new: str) -> bool:
        """Move the chat to its new id; False when the new chat already has this alert."""
        with self.store.engine.begin() as conn:
            self.subs.migrate_chat(conn, job.platform, old, new)
            if _has_row(conn, job.event_id, job.platform, new):
                conn.execute(outbox.update().where(self._mine(job)).values(
                    status="migrated", last_error=f"chat moved to {new}"))
                return False
            conn.execute(outbox.update().where(self._mine(job)).values(chat_id=new))
        return True


def _has_row(conn: Connection, event_id: int, platform: str, chat_id: str) -> bool:
    return conn.execute(
        sa.select(outbox.c.id).where(outbox.c.event_id == event_id,
                                     outbox.c.platform == platform, outbox.c.chat_id == chat_id)
    ).first() is not None
