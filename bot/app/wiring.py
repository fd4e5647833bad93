"""Connects the parts to the running service: per-source polls (bot.ingest) on
the release calendar, the evaluator (rules → pipeline), delivery (bot.alerts.outbox), the chat front
ends, rules hot reload and leader election."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.alerts.digest import send_digests
from bot.alerts.pipeline import Pipeline, Recipient
from bot.app.chatside import ChatSide
from bot.app.health import ServiceState, outbox_backlog
from bot.app.produce import Producer
from bot.app.sources import planned_sources, rules_options, source_context
from bot.briefing.deliver import Briefings
from bot.config import Settings
from bot.evaluate.evaluator import LiveEvaluator
from bot.evaluate.reload import ReloadResult, RulesHolder, watch_rules
from bot.ingest.calendar import ReleaseCalendar, SourceSchedule
from bot.ingest.held import held_back
from bot.ingest.knownat import known_at
from bot.ingest.poller import (
    PollHealth,
    PollOnce,
    SourcePoller,
)
from bot.ingest.releases import load_release_calendar
from bot.runtime.backoff import Backoff
from bot.runtime.clock import Clock
from bot.runtime.leader import Leadership
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import InFlight, JobBody, PeriodicJob, Timing
from bot.store import Store
from rules import RulesError
from sources.registry import entry

log = logging.getLogger("cyclewatch")
CATCH_UP_WAIT_SECONDS = 120.0


class Wiring:
    """Builds the jobs and front ends from whichever parts exist, and starts and stops them."""

    def __init__(
        self,
        settings: Settings,
        timing: Timing,
        store: Store,
        metrics: Metrics,
        state: ServiceState,
        inflight: InFlight,
        *,
        data_dir: Path | None,
        rules_path: Path,
        clock: Clock,
        calendar: ReleaseCalendar | None = None,
        record_clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.timing = timing
        self.store = store
        self.metrics = metrics
        self.state = state
        self.inflight = inflight
        self.data_dir = data_dir
        self.clock = clock
        self.record_clock = record_clock or clock  # the fetchers' stamps in the store
        self.calendar = calendar
        # A reload is trial-run over the stored history (synthetic while the store is empty).
        self.holder = RulesHolder(rules_path, history=lambda rs: store.frame(
            sorted({series.id for series in rs.inputs})))
        self.leadership = Leadership(settings.db_url)
        self.http = httpx.Client(timeout=settings.fred_timeout, follow_redirects=True)
        self.jobs: dict[str, PeriodicJob] = {}
        self.pollers: list[SourcePoller] = []
        self.chat = ChatSide(settings, store, metrics, clock)
        self.chat.build_front_ends()
        state.platforms_down = self.chat.down  # the same dict: /healthz sees it change
        metrics.watch_series(lambda: [(row.series, row.last_obs_date) for row in store.status()],
                             lambda: clock().date())
        metrics.held_values.set_function(lambda: len(held_back()))
        self._stop = asyncio.Event()
        self._digest_done = False
        self._started = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    def _backoff(self) -> Backoff:
        return Backoff(self.timing.retry_min_seconds, self.timing.retry_max_seconds)

    def _job(
        self, name: str, body: JobBody, interval: float, *, delay_first: bool = False
    ) -> PeriodicJob:
        job = PeriodicJob(name, body, interval=interval, backoff=self._backoff(),
                          inflight=self.inflight, delay_first=delay_first)
        self.jobs[name] = job
        return job

    # --- start and stop ------------------------------------------------------------------

    async def start(self, scheduler: AsyncIOScheduler) -> None:
        """Load the rules, take or wait for leadership, open the chat (it answers from the
        stored data at once), then schedule every job; the first polls refresh the store."""
        await asyncio.to_thread(self.chat.release_dead_claims)
        self._load_rules()
        self.state.leader = await self.leadership.check()
        self.metrics.leader.set(int(self.state.leader))
        self.chat.use_rules(self.holder.current)
        self.chat.offer_reload(self.reload_for_chat)
        await self.chat.start(leader=self.state.leader)
        self._job("leader", self._check_leader, self.timing.leader_check_seconds)
        self._add_producer()
        await self._add_pollers()
        self._job("deliver", self._deliver, self.timing.deliver_seconds)
        # The outbox lease, renewed apart from delivery: a send stuck for long must not let it
        # lapse (another process would take over claims that are still being sent).
        self._job("lease", self._keep_lease, self.settings.outbox_lease_seconds / 4)
        self._tasks.append(asyncio.create_task(self._watch_rules()))
        for job in self.jobs.values():
            job.add_to(scheduler)
        for poller in self.pollers:
            poller.start(scheduler)

    async def stop(self) -> None:
        """Stop the watcher and front ends, give up leadership, close HTTP clients."""
        self._stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        await self.chat.stop()
        await self.leadership.release()
        await asyncio.to_thread(self.http.close)

    def describe(self) -> str:
        """One phrase for the start-up line: role, rules, notifiers and front ends."""
        role = "leader" if self.state.leader else "follower"
        rules = f"{self.state.rules_loaded} rules" if self.holder.current else "no valid rules"
        return f"{role}, {rules}, {self.chat.describe()}"

    # --- leadership ----------------------------------------------------------------------

    async def _check_leader(self) -> bool:
        self.state.leader = await self.leadership.check()
        self.metrics.leader.set(int(self.state.leader))
        await self.chat.on_leadership(self.state.leader)
        return True

    # --- rules ---------------------------------------------------------------------------

    def _load_rules(self) -> None:
        try:
            ruleset = self.holder.load()
        except FileNotFoundError:
            self._rules_problem(f"{self.holder.path}: no such file")
            return
        except (OSError, UnicodeDecodeError) as err:
            self._rules_problem(f"{self.holder.path}: cannot read: {err}")
            return
        except RulesError as err:
            self._rules_problem("\n".join(str(p) for p in err.problems))
            return
        self.state.rules_loaded = len(ruleset.rules)
        self.metrics.rules_loaded.set(len(ruleset.rules))

    def _rules_problem(self, text: str) -> None:
        log.error("rules not loaded (no evaluation until the file is fixed):\n%s", text)
        self.state.last_evaluation_error = "rules file has problems"

    async def _watch_rules(self) -> None:
        try:
            await watch_rules(self.holder, self.announce_reload, self._stop)
        except Exception as err:  # e.g. the directory vanished: /reload still works
            log.warning("watching %s stopped: %s", self.holder.path, err)

    async def reload_rules(self) -> ReloadResult:
        """Reload now (the admins' /reload); returns what happened, already announced."""
        result = await self.holder.reload()
        if not result.unchanged_file:
            await self.announce_reload(result)
        return result

    async def reload_for_chat(self) -> str:
        """/reload for the chat commands: the outcome in one message."""
        return (await self.reload_rules()).summary()

    async def announce_reload(self, result: ReloadResult) -> None:
        """Record a reload's outcome and tell the admins."""
        self.metrics.reloads.labels("ok" if result.ok else "error").inc()
        await self.chat.tell_admins("cyclewatch rules", result.summary())
        if result.ok and self.holder.current is not None:
            self.chat.use_rules(self.holder.current)
            self.state.rules_loaded = len(self.holder.current.rules)
            self.metrics.rules_loaded.set(self.state.rules_loaded)
            if self.state.last_evaluation_error == "rules file has problems":
                self.state.last_evaluation_error = None
            if "evaluate" in self.jobs:
                self.jobs["evaluate"].run_soon()

    # --- polling -------------------------------------------------------------------------

    def _series_for(self, *sources: str) -> list[str]:
        ruleset = self.holder.current
        if ruleset is None:  # no usable rules: each source's built-in list (FRED's)
            return sorted({s for name in sources for s in entry(name).fallback})
        return sorted({i.id for i in ruleset.inputs if not sources or i.source in sources})

    async def _add_pollers(self) -> None:
        every = timedelta(seconds=self.timing.poll_seconds)
        fast = self.timing.release_poll_seconds
        if self.data_dir is None and self.calendar is None:
            self.calendar = await asyncio.to_thread(
                load_release_calendar, self.http, self.settings.fed_feeds_url)
        # The service backs off between polls itself, so the adapters retry only briefly.
        ctx = source_context(self.settings, self.http, data_dir=self.data_dir,
                             options=rules_options(lambda: self.holder.current),
                             attempts=2)
        planned = planned_sources(self.store, ctx, self._series_for, self.record_clock,
                                  fast_every=timedelta(seconds=fast) if fast else None,
                                  every=every)
        for source in planned:
            self._poller(source.schedule, source.poll, source.fixed_every)

    def _poller(self, schedule: SourceSchedule, poll: PollOnce,
                fixed_every: timedelta | None = None) -> None:
        health = self.state.polls.setdefault(schedule.name, PollHealth())
        self.pollers.append(SourcePoller(
            schedule, partial(self.producer.produce, schedule.name, poll),
            calendar=self.calendar or ReleaseCalendar(), backoff=self._backoff(),
            inflight=self.inflight, metrics=self.metrics, clock=self.clock,
            is_leader=lambda: self.leadership.is_leader, fixed_every=fixed_every, health=health,
        ))

    # --- delivery ------------------------------------------------------------------------

    async def _keep_lease(self) -> bool:
        await asyncio.to_thread(self.chat.keep_lease)
        return True

    async def _deliver(self) -> bool:
        if not self._digest_done:
            # At start the leader first catches up (polls, evaluation), so that everything that
            # changed while it was down goes out as one digest per chat; never wait forever.
            waiting = (self.leadership.is_leader and self.holder.current is not None
                       and self.state.evaluations == 0
                       and time.monotonic() - self._started < CATCH_UP_WAIT_SECONDS)
            if waiting:
                return True
            worker = self.chat.worker
            await send_digests(self.store, worker.notifiers, worker.worker_id, self.clock)
            self._digest_done = True
        ok = await self.chat.deliver()
        depth, _oldest = await asyncio.to_thread(outbox_backlog, self.store, self.clock())
        self.metrics.outbox_depth.set(depth)
        return ok

    # --- evaluation ----------------------------------------------------------------------

    def _briefings(self) -> Briefings:
        """The weekly briefing, read from the store with the running rules."""
        from bot.evaluate.insight import Insight

        cache: dict[int, Insight] = {}

        def insight() -> Insight | None:
            ruleset = self.holder.current
            if ruleset is None:
                return None
            if id(ruleset) not in cache:
                cache.clear()
                cache[id(ruleset)] = Insight.from_store(ruleset, self.store)
            return cache[id(ruleset)]

        return Briefings(self.store, insight, default_zone=self.settings.timezone)

    def _add_producer(self) -> None:
        implicit = [Recipient(p, c) for p, c in self.chat.implicit_recipients()]
        self.producer = Producer(
            holder=self.holder,
            evaluator=LiveEvaluator(self.store, self.holder, metrics=self.metrics,
                                    timezone=self.settings.timezone,
                                    released=partial(known_at, calendar=ReleaseCalendar())),
            pipeline=Pipeline(self.store, implicit=implicit), state=self.state,
            metrics=self.metrics, tell_admins=self.chat.tell_admins,
            wake_delivery=lambda: self.jobs["deliver"].run_soon(),
            is_leader=lambda: self.leadership.is_leader,
            chat_busy=lambda: self.chat.answering > 0,
            briefings=self._briefings().record_due,
        )
        # Besides after each poll with news, the rules run on a timer (inputs go stale as
        # time passes) and after a reload; the first timed run waits one interval.
        self._job("evaluate", lambda: self.producer.evaluate(self.clock()),
                  self.timing.poll_seconds, delay_first=True)
