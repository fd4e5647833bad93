"""The producing half of the pipeline, readable in one function: a poll of one source carried
from the fetch to the outbox (fetch → store → evaluate → record events and outbox rows).

The delivering half is `bot.alerts.outbox.DeliveryWorker` (claim → render → send → mark).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.alerts.pipeline import Pipeline
from bot.app.health import ServiceState
from bot.evaluate.evaluator import EvaluationResult, LiveEvaluator
from bot.evaluate.reload import RulesHolder, in_daemon_thread
from bot.ingest.poller import PollOnce, PollOutcome
from bot.runtime.metrics import Metrics

log = logging.getLogger("cyclewatch")
TellAdmins = Callable[[str, str], Awaitable[None]]
EVAL_BUDGET = 300.0  # seconds one evaluation of every rule may take
CHAT_FIRST_SECONDS = 20.0  # how long the catch-up after a start lets chat answers go first
CHAT_CHECK_SECONDS = 0.05


class Producer:
    """Polls become events and outbox rows; one evaluation at a time, on the leader only."""

    def __init__(
        self, *, holder: RulesHolder, evaluator: LiveEvaluator, pipeline: Pipeline,
        state: ServiceState, metrics: Metrics, tell_admins: TellAdmins,
        wake_delivery: Callable[[], None], is_leader: Callable[[], bool],
        chat_busy: Callable[[], bool] = lambda: False,
        briefings: Callable[[datetime], int] | None = None,
    ) -> None:
        self.holder = holder
        self.evaluator = evaluator
        self.pipeline = pipeline
        self.state = state
        self.metrics = metrics
        self.tell_admins = tell_admins
        self.wake_delivery = wake_delivery
        self.is_leader = is_leader
        self.chat_busy = chat_busy
        self.briefings = briefings  # records the weekly briefing once an H.4.1 is evaluated
        self._one_at_a_time = asyncio.Lock()
        self._polled: set[str] = set()
        self._first_round = False  # every source polled once since start
        self.caught_up = asyncio.Event()  # set after the evaluation that ends the first round

    async def produce(self, source: str, fetch_and_store: PollOnce, now: datetime) -> PollOutcome:
        """One poll of one source, as far as it goes: fetch → store → evaluate → record."""
        polled = await self.fetch(source, fetch_and_store, now)  # new observations, vintages kept
        if self.is_news(source, polled):
            if not self.caught_up.is_set():
                await self._chat_first()
            await self.evaluate(now)  # the rules over the store → events and outbox rows
        if self._first_round:
            self.caught_up.set()
        return polled

    async def _chat_first(self) -> None:
        """The catch-up after a start waits (a bounded while) for the chat commands being
        answered: they read the stored data, and two cores are shared."""
        waited = 0.0
        while self.chat_busy() and waited < CHAT_FIRST_SECONDS:
            await asyncio.sleep(CHAT_CHECK_SECONDS)
            waited += CHAT_CHECK_SECONDS

    async def evaluate(self, now: datetime) -> bool:
        """The rules over the store; new transitions become events and their outbox rows."""
        if not self.is_leader() or self.holder.current is None:
            return True  # a follower waits; a broken rules file was reported at load
        async with self._one_at_a_time:
            try:
                # A daemon thread: an evaluation that never ends must not hold up a stop.
                found = await in_daemon_thread(self.evaluator.find, now, budget=EVAL_BUDGET)
                recorded = await asyncio.to_thread(self.pipeline.record, found.events, now)
                result = await asyncio.to_thread(self.evaluator.keep, found, recorded, now)
            except Exception as err:
                return self._failed(err)
            recorded += await self._briefing(now)
        await self._report(result, now)
        if recorded:
            self.wake_delivery()  # the delivering half takes it from here
        return True

    async def _briefing(self, now: datetime) -> int:
        """The weekly briefing of a new H.4.1 (1 when recorded); a failure is logged, and the
        evaluation stands."""
        if self.briefings is None:
            return 0
        try:
            return await asyncio.to_thread(self.briefings, now)
        except Exception:
            log.exception("weekly briefing not recorded")
            return 0

    async def fetch(self, source: str, fetch_and_store: PollOnce, now: datetime) -> PollOutcome:
        """Stages 1–2: the source's adapter, the plausibility guard and the store (blocking)."""
        started = time.monotonic()
        try:
            return await asyncio.to_thread(fetch_and_store, now)
        finally:
            self.metrics.fetch_seconds.labels(source).observe(time.monotonic() - started)

    def is_news(self, source: str, polled: PollOutcome) -> bool:
        """Whether this poll should be evaluated now. After a start, once: when every source
        has been polled (the catch-up; what the first polls brought is evaluated together,
        not poll by poll); from then on, whenever a poll brought rows."""
        self._polled.add(source)
        if polled.new_rows:
            log.info("%s: %d new rows", source, polled.new_rows)
        if not self._first_round:
            self._first_round = self._polled >= set(self.state.polls)
            return self._first_round
        return bool(polled.new_rows)

    def _failed(self, err: Exception) -> bool:
        log.error("evaluation failed", exc_info=err)
        self.metrics.evaluations.labels("error").inc()
        self.state.last_evaluation_error = f"{type(err).__name__}: {err}"
        return False

    async def _report_failures(self, result: EvaluationResult) -> None:
        # A rule that raised is skipped while the others alert; the admins hear of it once.
        failing = dict(result.failed)
        began = {r: e for r, e in failing.items() if r not in self.state.failing_rules}
        healed = sorted(self.state.failing_rules.keys() - failing.keys())
        self.state.failing_rules = failing
        if began:
            await self.tell_admins("cyclewatch: rule failed and is skipped",
                                   "\n".join(f"{r}: {e}" for r, e in sorted(began.items())))
        if healed:
            await self.tell_admins("cyclewatch: rules evaluated again", ", ".join(healed))

    async def _report(self, result: EvaluationResult, now: datetime) -> None:
        self.state.last_evaluation_at, self.state.last_evaluation_error = now, None
        self.state.evaluations += 1
        self.state.skipped_rules = {s.rule: s.reason for s in result.skipped}  # for /healthz
        # Stale inputs mean no alert rather than a false one; the admins hear about it.
        stale = [item for item in result.newly_skipped if "stale" in item]
        if stale:
            await self.tell_admins("cyclewatch: rules paused on stale data", "\n".join(stale))
        await self._report_failures(result)
        if result.resumed and self.state.evaluations > 1:
            await self.tell_admins("cyclewatch: rules evaluated again", ", ".join(result.resumed))
        if result.events:
            log.info("evaluation: %d new transition(s): %s", len(result.events),
                     ", ".join(f"{e.rule_id} {e.state}" for e in result.events))

