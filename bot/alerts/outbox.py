"""The delivery worker, the delivering half of the pipeline: claim -> route -> render -> send
-> mark, each stage one method (Alertmanager's notify stages are the model). `deliver` reads
as that sequence; every stage that ends a delivery early records why before it returns.

Guarantees (see `bot.alerts.claims`): a crash repeats at most the one message in flight;
flood control waits `retry_after` without counting as a failure; other transient errors back
off with jitter until the Backoff is exhausted; a chat that blocked the bot is deactivated; a
migrated chat is followed; markup the platform refuses is resent as plain text; a row that
fails for good stays with its error. Every database call runs in a worker thread.

Quiet hours: inside a chat's window an alert goes out silently (`silent`) or is handed back
due when the window ends (`hold`); held rows that come due go out as one digest per chat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from bot.alerts.claims import Job, OutboxRows
from bot.alerts.digest import compose_held
from bot.alerts.mutenotice import announce_expired_mutes
from bot.alerts.payload import AlertPayload
from bot.alerts.quiet import chat_zone, held_rows, hold
from bot.alerts.render import render_alert, render_group
from bot.notifiers.base import DeliveryError, Message, Notifier, Sent
from bot.runtime.backoff import Backoff
from bot.runtime.clock import Clock
from bot.store import Store
from bot.store.chats import Chat, Subscriptions
from bot.store.schema import OutboxStatus
from rules import Transition

log = logging.getLogger("cyclewatch.outbox")

ChartFor = Callable[[AlertPayload, str], bytes | None]  # the alert, the chat's language

__all__ = ["ChartFor", "DeliveryWorker", "Job", "OutboxStatus"]


@dataclass(frozen=True)
class Target:
    """Where a claimed row goes: the chat (after a migration), its language, the notifier."""

    chat_id: str
    lang: str
    notifier: Notifier
    moved: bool  # already followed a migration: a second one is an error
    chat: Chat | None = None  # its settings (quiet hours, zone); None for an unknown chat


@dataclass(frozen=True)
class Outcome:
    """What the send stage ended with, and the chat it ended in."""

    chat_id: str
    result: Sent | Exception


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
        self.batch = batch
        self.rng = rng or random.Random()
        self.chart_for = chart_for
        self.rows = OutboxRows(store.engine, worker_id, claim_timeout=claim_timeout)
        self.subs = Subscriptions(store.engine)

    def claim(self) -> list[Job]:
        """Take up to `batch` due rows (and stale claims of crashed workers) for this worker."""
        return self.rows.claim(self.clock(), limit=self.batch)

    def release_claims(self) -> int:
        """Put this worker's unfinished sends back to pending (a clean stop, not a crash)."""
        return self.rows.release(self.clock())

    def release_dead_claims(self) -> int:
        """Take back the claims of this host's processes that no longer run."""
        return self.rows.release_dead(self.clock())

    async def run_once(self) -> int:
        """Claim one batch and deliver it; how many rows were handled."""
        jobs = await asyncio.to_thread(self.claim)
        held = await asyncio.to_thread(held_rows, self.store.engine, [j.id for j in jobs])
        evaluation = lambda job: (job.platform, job.chat_id, job.created_at)  # noqa: E731
        fresh = [j for j in jobs if j.id not in held]
        extra = 0  # rows of the same evaluations claimed beyond the batch
        for key, same in groupby(sorted(fresh, key=lambda j: (j.platform, j.chat_id,
                                                              str(j.created_at), j.id)),
                                 key=evaluation):
            extra += await self.deliver_evaluation(list(same), key[2])
        chat_of = lambda job: (job.platform, job.chat_id)  # noqa: E731
        for chat, group in groupby(sorted((j for j in jobs if j.id in held), key=chat_of),
                                   key=chat_of):
            more = await asyncio.to_thread(self.rows.claim, self.clock(), limit=None, chat=chat)
            held |= await asyncio.to_thread(held_rows, self.store.engine, [j.id for j in more])
            for job in more:
                if job.id not in held:
                    await self.deliver(job)
            await self.deliver_held([*group, *(j for j in more if j.id in held)], held)
        await announce_expired_mutes(self.store, self.notifiers, self.clock())
        return len(jobs) + extra

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due now; how many rows were handled."""
        handled = 0
        for _ in range(max_rounds):
            count = await self.run_once()
            if count == 0:
                break
            handled += count
        return handled

    async def deliver(self, job: Job) -> None:
        """Send one claimed row and record the outcome (never drops it silently)."""
        target = await self._route(job)
        if target is None:
            return
        message = await self._render(job, target)
        if message is None:
            return
        message = await self._quiet(job, target, message)
        if message is None:
            return
        outcome = await self._send(job, target, message)
        if outcome is not None:
            await self._mark(job, outcome)

    async def deliver_evaluation(self, jobs: list[Job], created_at: datetime | None) -> int:
        """One chat's rows of one evaluation: claim the rest of them (a batch may have cut
        them off), then one message for all, or the usual one when there is only one; how
        many more rows were claimed."""
        more: list[Job] = []
        if created_at is not None:
            more = await asyncio.to_thread(self.rows.claim, self.clock(), limit=None,
                                           chat=(jobs[0].platform, jobs[0].chat_id),
                                           created_at=created_at)
        jobs = [*jobs, *more]
        if len(jobs) == 1:
            await self.deliver(jobs[0])
        else:
            await self.deliver_group(jobs)
        return len(more)

    async def deliver_group(self, jobs: list[Job]) -> None:
        """Send several rows of one chat as one message and mark them all with its ids;
        quiet hours and unreadable rows keep the one-by-one way, so nothing changes there."""
        target = await self._route(jobs[0])
        if target is None:  # the first row's end is recorded; the others find theirs
            for job in jobs[1:]:
                await self.deliver(job)
            return
        alerts: list[tuple[Job, AlertPayload]] = []
        for job in jobs:
            try:
                alerts.append((job, AlertPayload.from_payload(job.payload)))
            except ValueError:
                await self.deliver(job)  # records why it cannot be rendered
        if (target.chat is not None and target.chat.quiet is not None) or len(alerts) < 2:
            for job, _ in alerts:
                await self.deliver(job)
            return
        alerts.sort(key=lambda pair: (pair[1].date, pair[0].id))
        first = alerts[0][1]
        chart = (await asyncio.to_thread(self.chart_for, first, target.lang)
                 if self.chart_for else None)
        message = render_group([a for _, a in alerts], target.lang, chart_png=chart)
        outcome = await self._send(alerts[0][0], target, message)
        if outcome is None:  # moved to a chat that has the first one: the rest find their way
            for job, _ in alerts[1:]:
                await self.deliver(job)
        elif isinstance(outcome.result, Sent):
            await asyncio.to_thread(self.rows.mark_sent, [j.id for j, _ in alerts],
                                    outcome.result, self.clock())
        else:
            for job, _ in alerts:
                await self._mark(job, outcome)

    async def deliver_held(self, jobs: list[Job], happened: Mapping[int, datetime]) -> None:
        """Send one chat's held rows, now due, as one digest (oldest first, each with when it
        happened); anything unusual (moved chat, unreadable row) goes the one-by-one way."""
        target = await self._route(jobs[0])
        if target is None:  # the first row's end is recorded; the others find theirs
            for job in jobs[1:]:
                await self.deliver(job)
            return
        alerts: list[tuple[Job, AlertPayload]] = []
        for job in jobs:
            try:
                alerts.append((job, AlertPayload.from_payload(job.payload)))
            except ValueError:
                await self.deliver(job)  # records why it cannot be rendered
        now, chat = self.clock(), target.chat
        quiet = chat.quiet if chat is not None else None
        due = []
        for job, alert in alerts:
            until = quiet.holds(alert.severity, now, chat_zone(chat)) if quiet else None
            if until is None:
                due.append((job, alert))
            else:  # the window was changed while they waited: held again, to its new end
                await asyncio.to_thread(hold, self.store.engine, self.worker_id, job.id, until)
        if not due:
            return
        message = compose_held([(a, happened[j.id]) for j, a in due], target.lang,
                               chat_zone(chat))
        outcome = await self._send(due[0][0], target, message)
        if outcome is not None and isinstance(outcome.result, Sent):
            await asyncio.to_thread(self.rows.mark_sent, [j.id for j, _ in due], outcome.result,
                                    self.clock())
        elif outcome is not None:
            for job, _ in due:
                await self._mark(job, outcome)

    # --- the stages ---------------------------------------------------------------------------

    async def _route(self, job: Job) -> Target | None:
        """The chat to send to now: follow a move learnt since the claim; skip inactive chats."""
        chat = await asyncio.to_thread(self.subs.find, job.platform, job.chat_id)
        chat_id, moved = job.chat_id, False
        if chat is not None and chat.migrated_to is not None:
            if not await asyncio.to_thread(self.rows.migrate, job, chat_id, chat.migrated_to):
                return None
            chat_id, moved = chat.migrated_to, True
            chat = await asyncio.to_thread(self.subs.find, job.platform, chat_id)
        if chat is not None and not chat.active:
            await self._finish(job, OutboxStatus.BLOCKED, "chat is inactive (blocked or left)")
            return None
        notifier = self.notifiers.get(job.platform)
        if notifier is None:
            await self._retry_later(job, f"no notifier for platform {job.platform!r}", None)
            return None
        return Target(chat_id, chat.lang if chat is not None else "en", notifier, moved, chat)

    async def _render(self, job: Job, target: Target) -> Message | None:
        """The typed alert, in the chat's language, with its chart and the message it edits."""
        try:
            alert = AlertPayload.from_payload(job.payload)
        except ValueError as err:
            await self._finish(job, OutboxStatus.FAILED, f"cannot render the alert: {err}")
            return None
        replaces: tuple[str, ...] = ()
        if alert.state is Transition.RESOLVED:
            replaces = await asyncio.to_thread(self.rows.firing_message_ids, job, alert.rule)
        chart = (await asyncio.to_thread(self.chart_for, alert, target.lang)
                 if self.chart_for else None)
        return render_alert(alert, target.lang, replaces=replaces, chart_png=chart)

    async def _quiet(self, job: Job, target: Target, message: Message) -> Message | None:
        """Inside the chat's quiet hours: hand the row back held until they end (`hold`), or
        send it without ringing (`silent`); a severity that breaks through rings as ever."""
        chat = target.chat
        if chat is None or chat.quiet is None:
            return message
        now, tz = self.clock(), chat_zone(chat)
        severity = message.tags.get("severity", "milestone")
        until = chat.quiet.holds(severity, now, tz)
        if until is not None:
            await asyncio.to_thread(hold, self.store.engine, self.worker_id, job.id, until)
            return None
        return dataclasses.replace(message, silent=chat.quiet.quiets(severity, now, tz))

    async def _send(self, job: Job, target: Target, message: Message) -> Outcome | None:
        """Send, resending once as plain text and once to a migrated chat's new id; None when
        the migration showed the new chat already has this alert (recorded)."""
        chat_id, plain_tried, moved = target.chat_id, False, target.moved
        while True:
            try:
                return Outcome(chat_id, await target.notifier.send(chat_id, message))
            except DeliveryError as err:
                if err.malformed and not plain_tried:
                    plain_tried = True
                    message = dataclasses.replace(message, plain=True, chart_png=None)
                    continue
                if err.migrated_to and not moved:
                    moved = True
                    if not await asyncio.to_thread(self.rows.migrate, job, chat_id,
                                                   err.migrated_to):
                        return None
                    chat_id = err.migrated_to
                    continue
                return Outcome(chat_id, err)
            except Exception as err:  # a notifier bug must not lose the alert
                log.exception("notifier %s raised an unexpected error", job.platform)
                return Outcome(chat_id, err)

    async def _mark(self, job: Job, outcome: Outcome) -> None:
        """Record the send's outcome: sent with its ids, retry later, blocked, or failed."""
        result = outcome.result
        if isinstance(result, Sent):
            await asyncio.to_thread(self.rows.mark_sent, [job.id], result, self.clock())
        elif not isinstance(result, DeliveryError):
            await self._retry_later(job, f"{type(result).__name__}: {result}", None)
        elif result.blocked:
            await asyncio.to_thread(self.rows.block_chat, job, outcome.chat_id, str(result))
        elif result.retryable:
            await self._retry_later(job, str(result), result.retry_after)
        else:
            await self._finish(job, OutboxStatus.FAILED, str(result) or type(result).__name__)

    # --- helpers of the stages ----------------------------------------------------------------

    async def _finish(self, job: Job, status: OutboxStatus, error: str) -> None:
        await asyncio.to_thread(self.rows.finish, job, status, error)

    async def _retry_later(self, job: Job, error: str, retry_after: float | None) -> None:
        if retry_after is None and self.backoff.exhausted(job.attempts):
            await self._finish(job, OutboxStatus.FAILED,
                               f"gave up after {job.attempts} attempts: {error}")
            return
        if retry_after is not None:
            delay, attempts = retry_after, job.attempts - 1  # flood control is not a failure
        else:
            delay, attempts = self.backoff.delay(job.attempts, self.rng), job.attempts
        at = self.clock() + timedelta(seconds=delay)
        await asyncio.to_thread(self.rows.retry_at, job, at, attempts=attempts, error=error)
