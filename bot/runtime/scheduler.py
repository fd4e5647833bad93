"""APScheduler 3.x set-up: one AsyncIOScheduler started inside the running loop, explicit
defaults and time zone, and periodic jobs that back off after a failure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.runtime.backoff import Backoff
from bot.runtime.clock import utc_now

log = logging.getLogger(__name__)

# APScheduler's own default grace is 1 s: a poll delayed by a busy loop or a suspended laptop
# would be skipped. Five minutes late is still worth running; coalesce runs missed meanwhile.
JOB_DEFAULTS = {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}

JobBody = Callable[[], Awaitable[bool]]


class Timing(BaseSettings):
    """How often the service does each thing (environment variables, seconds)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    poll_seconds: float = Field(900.0, gt=0, alias="CYCLEWATCH_POLL_SECONDS")
    # In a release window, poll this often (default: each source's calendar schedule).
    release_poll_seconds: float | None = Field(
        None, gt=0, alias="CYCLEWATCH_RELEASE_POLL_SECONDS"
    )
    deliver_seconds: float = Field(2.0, gt=0, alias="CYCLEWATCH_DELIVER_SECONDS")
    retry_min_seconds: float = Field(5.0, gt=0, alias="CYCLEWATCH_RETRY_MIN_SECONDS")
    retry_max_seconds: float = Field(900.0, gt=0, alias="CYCLEWATCH_RETRY_MAX_SECONDS")
    leader_check_seconds: float = Field(5.0, gt=0, alias="CYCLEWATCH_LEADER_CHECK_SECONDS")
    stop_grace_seconds: float = Field(10.0, ge=0, alias="CYCLEWATCH_STOP_GRACE_SECONDS")


def build_scheduler(timezone: str) -> AsyncIOScheduler:
    """A scheduler with explicit defaults; call `.start()` only inside the running loop."""
    return AsyncIOScheduler(timezone=ZoneInfo(timezone), job_defaults=dict(JOB_DEFAULTS))


class InFlight:
    """Tracks running job bodies so a shutdown can wait for them (or cancel them)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self.accepting = True

    def track(self) -> asyncio.Task[object] | None:
        """Register the current task; None when the service is stopping (skip the work)."""
        task = asyncio.current_task()
        if not self.accepting or task is None:
            return None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, grace: float) -> int:
        """Stop accepting; wait up to `grace` s, then cancel what is left; return that count."""
        self.accepting = False
        current = asyncio.current_task()
        pending = {t for t in self._tasks if t is not current and not t.done()}
        if not pending:
            return 0
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=grace or 1.0)
        return len(late)


class PeriodicJob:
    """A job run every `interval` seconds; after a failure it retries sooner, backing off.

    It schedules on the wall clock (APScheduler's); the work it runs takes the service's clock.
    """

    def __init__(
        self,
        name: str,
        body: JobBody,
        *,
        interval: float,
        backoff: Backoff,
        inflight: InFlight,
        delay_first: bool = False,
    ) -> None:
        self.name = name
        self.delay_first = delay_first  # first run after one interval (or an early run_soon)
        self.body = body
        self.interval = interval
        self.backoff = backoff
        self.inflight = inflight
        self.scheduler: AsyncIOScheduler | None = None
        self.running = False
        self.failures = 0  # consecutive
        self._again = False

    def add_to(self, scheduler: AsyncIOScheduler, *, first_run: datetime | None = None) -> None:
        """Schedule on `scheduler`; the first run is now unless `first_run` says otherwise."""
        self.scheduler = scheduler
        if first_run is None:
            first_run = utc_now() + timedelta(seconds=self.interval if self.delay_first else 0)
        scheduler.add_job(
            self.run, "interval", seconds=self.interval, id=self.name, name=self.name,
            next_run_time=first_run, replace_existing=True,
        )

    async def run(self) -> None:
        """One run: the body says whether it succeeded; failures reschedule with backoff."""
        task = self.inflight.track()
        if task is None:
            return
        self.running, self._again = True, False
        try:
            ok = await self.body()
        except asyncio.CancelledError:
            log.info("%s abandoned at stop", self.name)
            return
        except Exception:
            log.exception("%s failed", self.name)
            ok = False
        finally:
            self.running = False
        if ok:
            self.failures = 0
            if self._again:  # asked to run again while it ran: go once this run has ended
                task.add_done_callback(lambda _task: self.run_soon())
            return
        self.failures += 1
        delay = min(self.backoff.delay(self.failures), self.interval)
        self.run_at(utc_now() + timedelta(seconds=delay))

    def run_at(self, when: datetime) -> None:
        """Move the next run to `when` (used by retries, and to poll at a release time)."""
        if self.scheduler is None or not self.inflight.accepting:
            return
        job = self.scheduler.get_job(self.name)
        if job is not None:
            job.modify(next_run_time=when)

    def run_soon(self) -> None:
        """Run as soon as the loop gets to it (e.g. after new data arrived)."""
        if self.running:
            self._again = True
        else:
            self.run_at(utc_now())
