"""Connects the parts to the running service: per-source polls (bot.ingest) on
the release calendar, the evaluator (rules → pipeline), delivery (bot.alerts.outbox), the chat front
ends, rules hot reload and leader election."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.alerts.digest import send_digests
from bot.alerts.pipeline import Pipeline, Recipient
from bot.app.chatside import ChatSide
from bot.app.health import ServiceState, outbox_backlog
from bot.app.http import Handler
from bot.app.sources import data_dir_source, network_sources
from bot.config import Settings
from bot.evaluate.evaluator import LiveEvaluator
from bot.evaluate.reload import ReloadResult, RulesHolder, watch_rules
from bot.ingest.calendar import ReleaseCalendar, SourceSchedule
from bot.ingest.fetcher import DEFAULT_FRED_SERIES
from bot.ingest.poller import (
    PollHealth,
    PollOnce,
    PollOutcome,
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
    ) -> None:
        self.settings = settings
        self.timing = timing
        self.store = store
        self.metrics = metrics
        self.state = state
        self.inflight = inflight
        self.data_dir = data_dir
        self.clock = clock
        self.calendar = calendar
        self.holder = RulesHolder(rules_path)
        self.leadership = Leadership(settings.db_url)
        self.http = httpx.Client(timeout=settings.fred_timeout, follow_redirects=True)
        self.jobs: dict[str, PeriodicJob] = {}
        self.pollers: list[SourcePoller] = []
        self.evaluator: LiveEvaluator | None = None
        self.chat = ChatSide(settings, store, metrics, clock)
        self.chat.build_front_ends()
        self._stop = asyncio.Event()
        self._polled: set[str] = set()
        self._first_round = False  # every source polled once since start
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
        """Load the rules, take or wait for leadership, then schedule every job."""
        await asyncio.to_thread(self.chat.release_dead_claims)
        self._load_rules()
        self.state.leader = await self.leadership.check()
        self.metrics.leader.set(int(self.state.leader))
        self._job("leader", self._check_leader, self.timing.leader_check_seconds)
        await self._add_pollers()
        self._add_evaluator()
        self.chat.use_rules(self.holder.current)
        self.chat.offer_reload(self.reload_for_chat)
        self._job("deliver", self._deliver, self.timing.deliver_seconds)
        self._tasks.append(asyncio.create_task(self._watch_rules()))
        for job in self.jobs.values():
            job.add_to(scheduler)
        for poller in self.pollers:
            poller.start(scheduler)
        await self.chat.start(leader=self.state.leader)

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

    def slack_commands_handler(self) -> Handler | None:
        """The signed Slack slash-command endpoint, when a signing secret is set."""
        return self.chat.slack_http_handler()

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
        if ruleset is None:
            return list(DEFAULT_FRED_SERIES) if "fred" in sources else []
        return sorted({i.id for i in ruleset.inputs if not sources or i.source in sources})

    async def _add_pollers(self) -> None:
        if self.data_dir is not None:
            every = timedelta(seconds=self.timing.poll_seconds)
            planned = data_dir_source(self.store, self.data_dir, self._series_for, self.clock,
                                      every)
        else:
            if self.calendar is None:
                self.calendar = await asyncio.to_thread(
                    load_release_calendar, self.http, self.settings.fed_feeds_url)
            fast = self.timing.release_poll_seconds
            planned = network_sources(self.settings, self.store, self.http, self._series_for,
                                      self.clock, timedelta(seconds=fast) if fast else None)
        for source in planned:
            self._poller(source.schedule, source.poll, source.fixed_every)

    def _poller(self, schedule: SourceSchedule, poll: PollOnce,
                fixed_every: timedelta | None = None) -> None:
        health = self.state.polls.setdefault(schedule.name, PollHealth())
        self.pollers.append(SourcePoller(
            schedule, poll, calendar=self.calendar or ReleaseCalendar(), backoff=self._backoff(),
            inflight=self.inflight, metrics=self.metrics, clock=self.clock,
            on_polled=self._on_polled, is_leader=lambda: self.leadership.is_leader,
            fixed_every=fixed_every, health=health,
        ))

    def _on_polled(self, source: str, outcome: PollOutcome) -> None:
        self._polled.add(source)
        if outcome.new_rows:
            log.info("%s: %d new rows", source, outcome.new_rows)
        first_round_done = self._polled >= set(self.state.polls) and not self._first_round
        if (outcome.new_rows or first_round_done) and "evaluate" in self.jobs:
            self.jobs["evaluate"].run_soon()
        self._first_round = self._first_round or first_round_done

    # --- delivery ------------------------------------------------------------------------

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

    def _add_evaluator(self) -> None:
        implicit = [Recipient(p, c) for p, c in self.chat.implicit_recipients()]
        self.pipeline = Pipeline(self.store, implicit=implicit)
        self.evaluator = LiveEvaluator(
            self.store, self.holder, self.pipeline.record,
            metrics=self.metrics, timezone=self.settings.timezone,
        )
        # The first evaluation waits for the first round of polls (see _on_polled).
        self._job("evaluate", self._evaluate, self.timing.poll_seconds, delay_first=True)

    async def _evaluate(self) -> bool:
        if self.evaluator is None or not self.leadership.is_leader:
            return True
        if self.holder.current is None:
            return True  # reported at load; the watcher re-enables evaluation
        now = self.clock()
        try:
            result = await asyncio.to_thread(self.evaluator.run, now)
        except Exception as err:
            log.exception("evaluation failed")
            self.metrics.evaluations.labels("error").inc()
            self.state.last_evaluation_error = f"{type(err).__name__}: {err}"
            return False
        self.state.last_evaluation_at, self.state.last_evaluation_error = now, None
        self.state.evaluations += 1
        if result.recorded:
            self.jobs["deliver"].run_soon()
        # Stale inputs mean no alert rather than a false one; the admins hear about it.
        stale = [item for item in result.newly_skipped if "stale" in item]
        if stale:
            await self.chat.tell_admins("cyclewatch: rules paused on stale data",
                                        "\n".join(stale))
        if result.resumed and self.state.evaluations > 1:
            await self.chat.tell_admins("cyclewatch: rules evaluated again",
                                        ", ".join(result.resumed))
        if result.events:
            log.info("evaluation: %d new transition(s): %s", len(result.events),
                     ", ".join(f"{e.rule_id} {e.state}" for e in result.events))
        return True
