"""Per-source poll jobs on the release calendar: poll often inside a release window until the
data change, else at the release instant or a slow safety poll; back off after failures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.ingest.calendar import PollState, ReleaseCalendar, SourceSchedule, plan_polls
from bot.ingest.fetcher import Fetcher, PollResult
from bot.runtime.backoff import Backoff
from bot.runtime.clock import Clock, utc_now
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import InFlight

log = logging.getLogger("cyclewatch.polling")


@dataclass
class PollHealth:
    """How one source's polls have gone (kept by its poller)."""

    last_ok_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive


@dataclass(frozen=True)
class PollOutcome:
    """One poll of one source: whether it answered, and how many new rows it brought."""

    ok: bool
    new_rows: int = 0
    error: str | None = None
    partial: bool = False  # it answered, but some series came back unusable: retry soon


PollOnce = Callable[[datetime], PollOutcome]  # blocking: runs in a worker thread
# One run of a poll as the service does it: the fetch and all it leads to (bot.app.produce).
Produce = Callable[[datetime], Awaitable[PollOutcome]]


class SourcePoller:
    """Schedules one source's polls as one-off APScheduler jobs, re-planned after every run."""

    def __init__(
        self,
        schedule: SourceSchedule,
        produce: Produce,
        *,
        calendar: ReleaseCalendar,
        backoff: Backoff,
        inflight: InFlight,
        metrics: Metrics,
        clock: Clock,
        is_leader: Callable[[], bool] = lambda: True,
        fixed_every: timedelta | None = None,
        health: PollHealth | None = None,
    ) -> None:
        self.schedule = schedule
        self.produce = produce
        self.calendar = calendar
        self.backoff = backoff
        self.inflight = inflight
        self.metrics = metrics
        self.clock = clock
        self.is_leader = is_leader
        self.fixed_every = fixed_every  # an offline data directory has no release calendar
        self.state = PollState()
        self.health = health if health is not None else PollHealth()
        self.scheduler: AsyncIOScheduler | None = None
        self._last_ok: float | None = None  # wall-clock seconds, for the age gauge
        self._failures = 0  # consecutive failed or partial polls, for the backoff

    @property
    def job_id(self) -> str:
        """The APScheduler job id."""
        return f"poll:{self.schedule.name}"

    def start(self, scheduler: AsyncIOScheduler) -> None:
        """Poll once now; later runs are planned after each one."""
        self.scheduler = scheduler
        self.metrics.source_age.labels(self.schedule.name).set_function(self._age)
        self._schedule_at(self.clock())

    def _age(self) -> float:
        return float("nan") if self._last_ok is None else time.time() - self._last_ok

    def _schedule_at(self, when: datetime) -> None:
        if self.scheduler is None or not self.inflight.accepting:
            return
        # The plan is made on the injected clock; the scheduler runs on the wall clock.
        delay = max(timedelta(0), when - self.clock())
        self.scheduler.add_job(
            self.run, "date", run_date=utc_now() + delay, id=self.job_id, name=self.job_id,
            replace_existing=True,
        )

    def next_planned(self, now: datetime) -> tuple[datetime, str]:
        """When to poll next after a successful poll, and why."""
        if self.fixed_every is not None:
            return now + self.fixed_every, "fixed interval"
        plan = plan_polls(now, [self.schedule], {self.schedule.name: self.state}, self.calendar)
        return plan[0].at, plan[0].reason

    async def run(self) -> None:
        """Poll (leader only), record the outcome, and plan the next poll."""
        if self.inflight.track() is None:
            return
        now = self.clock()
        if not self.is_leader():
            self._schedule_after_this_run(now + timedelta(seconds=self.backoff.base_seconds))
            return
        try:
            outcome = await self.produce(now)
        except asyncio.CancelledError:
            log.info("poll of %s abandoned at stop", self.schedule.name)
            return
        except Exception as err:  # a bug in a poll must not stop the schedule
            log.exception("polling %s failed", self.schedule.name)
            outcome = PollOutcome(ok=False, error=f"{type(err).__name__}: {err}")
        name = self.schedule.name
        self.metrics.fetches.labels(name, "ok" if outcome.ok else "error").inc()
        finished = self.clock()
        # The first poll after a start loads what was missed while down; it is no sign that
        # this window's release is out, so fast polling continues until a later poll sees it.
        first = self.state.last_poll is None
        changed = now if outcome.new_rows and not first else self.state.last_change
        self.state = replace(self.state, last_poll=now, last_change=changed)
        self.health.last_error = outcome.error
        if outcome.ok:
            self._last_ok = time.time()
            self.health.last_ok_at, self.health.failures = finished, 0
            when, _reason = self.next_planned(finished)
            if outcome.partial:  # a garbled body may be fixed at the source any moment
                self._failures += 1
                when = min(when, finished + timedelta(seconds=self.backoff.delay(self._failures)))
            else:
                self._failures = 0
        else:
            self.metrics.fetch_failures.labels(name).inc()
            self.health.failures += 1
            self._failures += 1
            when = finished + timedelta(seconds=self.backoff.delay(self._failures))
        self._schedule_after_this_run(max(when, finished))

    def _schedule_after_this_run(self, when: datetime) -> None:
        # Re-adding the job id while this instance still runs would be refused by
        # max_instances=1; the executor frees the slot in its own done-callback, which
        # was registered before ours, so ours runs after it.
        task = asyncio.current_task()
        if task is None:
            self._schedule_at(when)
        else:
            task.add_done_callback(lambda _task: self._schedule_at(when))


def with_fast_poll(
    schedules: Sequence[SourceSchedule], every: timedelta | None
) -> list[SourceSchedule]:
    """The schedules, with the in-window poll interval overridden when `every` is given."""
    if every is None:
        return list(schedules)
    return [replace(s, fast_every=every, rate_floor=min(s.rate_floor, every)) for s in schedules]


def fetcher_poll(
    fetcher: Fetcher,
    series_ids: Callable[[], Sequence[str]],
    after: Callable[[datetime, PollResult], None] | None = None,
) -> PollOnce:
    """A poll of a Fetcher's source for the series the running rules need; `after` runs
    when the poll brought new rows (e.g. settling FOMC decisions against FRED)."""

    def poll_once(now: datetime) -> PollOutcome:
        result = fetcher.poll(series_ids())
        if after is not None and result.new_rows:
            after(now, result)
        errors = [r.error for r in result.results if r.error]
        return PollOutcome(ok=result.ok, new_rows=result.new_rows,
                           error=errors[0] if errors else None, partial=bool(errors))

    return poll_once
