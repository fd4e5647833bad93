"""The delivery worker, the delivering half of the pipeline: claim -> route -> render -> send
-> mark (Alertmanager's notify stages are the model), each stage a module of its own:
`bot.alerts.claims` (claim, and every outbox write), `routing`, `compose` (render, quiet hours),
`sending`, `outcomes` (mark), and `migration` (a chat that moved). This module is the loop: it
claims batches (one statement and one commit each, sized to the notifiers' rates), reads the
batch's chats at once, groups one chat's rows of one evaluation (or its held rows) into one
message, and carries each message through the stages; a stage that ends a delivery early
records why. A batch that stops on an error (a database fault) hands its unsent rows back.

Guarantees (see `bot.alerts.claims`): a crash repeats at most the messages in flight (one,
unless a notifier declares a rate: then up to `senders_for` chats are sent to at once);
flood control waits `retry_after` without counting as a failure; other transient errors back
off with jitter until the Backoff is exhausted; a chat that blocked the bot is deactivated; a
migrated chat is followed by every row of the message; markup the platform refuses is resent
as plain text; a row that fails for good stays with its error. Every database call runs in a
worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from itertools import groupby

import sqlalchemy as sa

from bot.alerts.claims import Job, OutboxRows
from bot.alerts.compose import ChartFor, Compose, Composer, NumbersFor, OneByOne
from bot.alerts.journal import journal_dir
from bot.alerts.mutenotice import announce_expired_mutes
from bot.alerts.outcomes import Outcome, Outcomes
from bot.alerts.routing import Router
from bot.alerts.sending import send
from bot.config import state_dir
from bot.notifiers.base import Notifier
from bot.runtime.backoff import Backoff
from bot.runtime.clock import Clock
from bot.store import Store
from bot.store.chats import BatchChats
from bot.store.faults import DEFAULT_RETRY, Retry
from bot.store.schema import OutboxStatus

__all__ = ["ChartFor", "DeliveryWorker", "Job", "OutboxStatus", "batch_for", "senders_for"]
# A batch is about this long at the fastest notifier's rate, within these bounds: one commit
# per batch, and not so many rows claimed that a stalled batch holds much back.
BATCH_SECONDS = 0.25
BATCH_BOUNDS = (20, 500)
# Chats sent to at once: a round trip of this long at the fastest declared rate (3 for
# Telegram's 30/s, the most for paid broadcast), one without a declared rate; a crash repeats
# at most the messages in flight.
SEND_SECONDS = 0.1
SENDERS_MOST = 64
MARK_AFTER = timedelta(seconds=1)  # sends noted longer ago are recorded before the next


def _fastest(notifiers: Iterable[Notifier]) -> float:
    """The fastest rate a notifier declares (`rate_per_second`: Telegram's 30/s, or 1,000/s
    with paid broadcast); 0 when none does."""
    rates = [float(rate) for n in notifiers if (rate := getattr(n, "rate_per_second", None))]
    return max(rates, default=0.0)


def batch_for(notifiers: Iterable[Notifier]) -> int:
    """Rows per claim: a quarter second at the fastest declared rate, within `BATCH_BOUNDS`."""
    low, high = BATCH_BOUNDS
    return max(low, min(high, int(_fastest(notifiers) * BATCH_SECONDS)))


def senders_for(notifiers: Iterable[Notifier]) -> int:
    """Sends in flight at once: `SEND_SECONDS` at the fastest declared rate, 1 to
    `SENDERS_MOST` (1 when no notifier declares a rate: a webhook, the console)."""
    return max(1, min(SENDERS_MOST, int(_fastest(notifiers) * SEND_SECONDS)))


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
        lease: timedelta = timedelta(seconds=20),
        batch: int | None = None,
        senders: int | None = None,
        rng: random.Random | None = None,
        chart_for: ChartFor | None = None,
        retry: Retry = DEFAULT_RETRY,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.worker_id = worker_id
        self.batch = batch or batch_for(self.notifiers.values())
        self.senders = senders or senders_for(self.notifiers.values())
        self.rows = OutboxRows(store.engine, worker_id, claim_timeout=claim_timeout,
                               lease=lease, journal=journal_dir(store.url, state_dir()),
                               retry=retry)
        self.outcomes = Outcomes(self.rows, clock, backoff or Backoff(5.0, 3600.0, max_attempts=8),
                                 rng or random.Random())
        self.chats = BatchChats(store.engine)
        self.router = Router(self.rows, self.chats, self.notifiers, self.outcomes)
        self._upkeep = asyncio.Lock()
        self.composer = Composer(self.rows, self.outcomes, clock, chart_for)

    @property
    def chart_for(self) -> ChartFor | None:
        """Draws an alert's chart (set once the history is known; None: no charts)."""
        return self.composer.chart_for

    @chart_for.setter
    def chart_for(self, chart_for: ChartFor | None) -> None:
        self.composer.chart_for = chart_for

    @property
    def numbers_for(self) -> NumbersFor | None:
        """The seed's numbers an alert carries (set once the history is known; None: none)."""
        return self.composer.numbers_for

    @numbers_for.setter
    def numbers_for(self, numbers_for: NumbersFor | None) -> None:
        self.composer.numbers_for = numbers_for

    def claim(self) -> list[Job]:
        """Take up to `batch` due rows (and stale claims of crashed workers) for this worker."""
        return self.rows.claim(self.clock(), limit=self.batch)

    def release_claims(self) -> int:
        """Put this worker's unfinished sends back to pending (a clean stop, not a crash)."""
        return self.rows.release(self.clock())

    def release_dead_claims(self) -> int:
        """Take back the claims of this host's processes that no longer run."""
        return self.rows.release_dead(self.clock())

    def keep_lease(self) -> None:
        """Renew this worker's lease on its claims, and take back those of this host's dead
        processes (a periodic job, so a long send never lets the lease lapse)."""
        self.rows.keep_lease(self.clock())
        self.rows.release_dead(self.clock())

    async def run_once(self) -> int:
        """Claim one batch and deliver it; how many rows were handled. When it stops on an
        error, the rows it did not send go back to pending with the next claim."""
        self.rows.begin_batch()
        try:
            handled = await self._deliver_batch(await asyncio.to_thread(self.claim))
            await announce_expired_mutes(self.store, self.notifiers, self.clock())
        except BaseException:
            self.rows.abandon()
            raise
        return handled

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due now; how many rows were handled. While a full batch
        is sent the next one is claimed, so sending never waits on a claim."""
        handled = 0
        ahead: asyncio.Future[list[Job]] | None = None
        self.rows.begin_batch()
        try:
            jobs = await asyncio.to_thread(self.claim)
            for _ in range(max_rounds):
                if not jobs:
                    break
                if len(jobs) >= self.batch:  # more may be due
                    ahead = asyncio.ensure_future(asyncio.to_thread(self.claim))
                handled += await self._deliver_batch(jobs)
                jobs = await (ahead if ahead is not None else asyncio.to_thread(self.claim))
                ahead = None
            # A claim made ahead ran before the last batch's sends: record them now.
            await asyncio.to_thread(self.rows.flush_marks)
            await announce_expired_mutes(self.store, self.notifiers, self.clock())
        except BaseException:
            if ahead is not None:  # its rows are ours too: let it finish, hand them back
                with contextlib.suppress(Exception):
                    await asyncio.shield(ahead)
            self.rows.abandon()
            raise
        return handled

    async def _deliver_batch(self, jobs: list[Job]) -> int:
        """Send claimed rows: fresh ones by chat and evaluation, held ones as each chat's
        digest; how many rows were handled (a held chat's other due rows are claimed too)."""
        if jobs:
            await asyncio.to_thread(self.chats.prefetch, {(j.platform, j.chat_id) for j in jobs})
        chat_of = lambda job: (job.platform, job.chat_id)  # noqa: E731
        await self._deliver_chats(sorted((j for j in jobs if not j.held),
                                         key=lambda j: (j.platform, j.chat_id,
                                                        str(j.created_at), j.id)))
        extra = 0  # a held chat's other due rows, claimed beyond the batch
        for chat, group in groupby(sorted((j for j in jobs if j.held), key=chat_of),
                                   key=chat_of):
            more = await asyncio.to_thread(self.rows.claim, self.clock(), limit=None, chat=chat)
            extra += len(more)
            for job in more:
                if not job.held:
                    await self.deliver(job)
            held = [*group, *(j for j in more if j.held)]
            await self.deliver_held(held, {j.id: j.happened or self.clock() for j in held})
        return len(jobs) + extra

    async def _deliver_chats(self, jobs: list[Job]) -> None:
        """Each chat's evaluations in order, one message each; up to `senders` chats at once
        (a failure cancels the others: their rows go back with the batch)."""
        limit = asyncio.Semaphore(self.senders)

        async def one_chat(evaluations: list[list[Job]]) -> None:
            async with limit:
                for same in evaluations:
                    await self.deliver_evaluation(same)

        chat_of = lambda job: (job.platform, job.chat_id)  # noqa: E731
        evaluation = lambda job: (job.platform, job.chat_id, job.created_at)  # noqa: E731
        async with asyncio.TaskGroup() as group:
            for _chat, rows in groupby(jobs, key=chat_of):
                group.create_task(one_chat([list(same) for _key, same
                                            in groupby(rows, key=evaluation)]))

    async def deliver_evaluation(self, jobs: list[Job]) -> None:
        """One chat's rows of one evaluation (the claim takes an evaluation whole): one message
        for all, or the usual one when there is only one."""
        if len(jobs) == 1:
            await self.deliver(jobs[0])
        else:
            await self.deliver_group(jobs)

    async def deliver(self, job: Job) -> None:
        """Send one claimed row and record the outcome (never drops it silently)."""
        await self._deliver_message((job,), self.composer.alert)

    async def deliver_group(self, jobs: list[Job]) -> None:
        """Send several rows of one chat as one message and mark them all with its ids;
        inside quiet hours, or with fewer than two readable alerts, they go one by one."""
        await self._deliver_message(tuple(jobs), self.composer.group)

    async def deliver_held(self, jobs: list[Job], happened: Mapping[int, datetime]) -> None:
        """Send one chat's held rows, now due, as one digest (oldest first, each with when it
        happened)."""
        await self._deliver_message(tuple(jobs), self.composer.held(happened))

    async def _deliver_message(
        self, jobs: tuple[Job, ...], compose: Compose, *, moved: bool = False
    ) -> None:
        """One message for these rows of one chat through route -> render -> send -> mark.
        When the chat moved to one that already has some of the alerts, the rows that moved
        get a message composed anew for them."""
        now = self.clock()
        if not self._upkeep.locked():  # one sender at a time renews and records for all
            async with self._upkeep:
                with contextlib.suppress(sa.exc.DBAPIError):  # the next claim retries them
                    if self.rows.lease_due(now):  # a long batch: the lease must not lapse
                        await asyncio.to_thread(self.rows.keep_lease, now)
                    if self.rows.unmarked and now - self.rows.unmarked[0][2] >= MARK_AFTER:
                        # a slow platform: record what went out a while ago, so that a crash
                        # on another host (whose journal no survivor reads) repeats little
                        await asyncio.to_thread(self.rows.flush_marks, retry=False)
        routed = await self.router.route(jobs, moved=moved)
        if routed is None:
            return
        target, jobs = routed
        composed = await compose(target, jobs)
        if isinstance(composed, OneByOne):
            for job in composed.jobs:
                await self.deliver(job)
            return
        if composed is None:
            return
        outcome = await send(self.rows, target, composed.jobs, composed.message)
        if isinstance(outcome, Outcome):
            await self.outcomes.record(outcome)
        elif outcome.jobs:
            await self._deliver_message(outcome.jobs, compose, moved=True)
