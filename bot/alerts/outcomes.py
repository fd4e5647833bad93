"""Recording how a delivery ended, the mark stage: sent with the platform's message ids, back to
pending for a retry (flood control waits `retry_after` without counting as a failure, other
transient errors back off with jitter until the Backoff is exhausted), blocked (the chat is
deactivated), or failed for good with its error. One send can carry several rows (a group, a
digest): they all end the same way.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import timedelta

from bot.alerts.claims import Job, OutboxRows
from bot.notifiers.base import DeliveryError, Sent
from bot.runtime.backoff import Backoff
from bot.runtime.clock import Clock
from bot.store.schema import OutboxStatus


@dataclass(frozen=True)
class Outcome:
    """What a send ended with, the chat it ended in, and the rows it carried (as they are
    now: at that chat, when they followed a migration)."""

    chat_id: str
    result: Sent | Exception
    jobs: tuple[Job, ...]


class Outcomes:
    """Writes each row's end through `OutboxRows` (every database call in a worker thread)."""

    def __init__(
        self, rows: OutboxRows, clock: Clock, backoff: Backoff, rng: random.Random
    ) -> None:
        self.rows = rows
        self.clock = clock
        self.backoff = backoff
        self.rng = rng

    async def record(self, outcome: Outcome) -> None:
        """Sent (every row with the one message's ids), retry later, blocked, or failed."""
        result = outcome.result
        if isinstance(result, Sent):  # noted at once (no await before): recorded with the batch
            self.rows.note_sent([j.id for j in outcome.jobs], result, self.clock())
            return
        for job in outcome.jobs:
            if not isinstance(result, DeliveryError):
                await self.retry_later(job, f"{type(result).__name__}: {result}", None)
            elif result.blocked:
                await asyncio.to_thread(self.rows.block_chat, job, outcome.chat_id, str(result))
            elif result.retryable:
                await self.retry_later(job, str(result), result.retry_after)
            else:
                await self.finish(job, OutboxStatus.FAILED, str(result) or type(result).__name__)

    async def finish(self, job: Job, status: OutboxStatus, error: str) -> None:
        """End the row for good (failed, blocked), keeping why."""
        await asyncio.to_thread(self.rows.finish, job, status, error)

    async def retry_later(self, job: Job, error: str, retry_after: float | None) -> None:
        """Back to pending after `retry_after` (flood control) or the backoff's next delay;
        failed once the backoff is exhausted."""
        if retry_after is None and self.backoff.exhausted(job.attempts):
            await self.finish(job, OutboxStatus.FAILED,
                              f"gave up after {job.attempts} attempts: {error}")
            return
        if retry_after is not None:
            delay, attempts = retry_after, job.attempts - 1  # flood control is not a failure
        else:
            delay, attempts = self.backoff.delay(job.attempts, self.rng), job.attempts
        at = self.clock() + timedelta(seconds=delay)
        await asyncio.to_thread(self.rows.retry_at, job, at, attempts=attempts, error=error)
