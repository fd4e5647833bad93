"""`cyclewatch run`: one asyncio process with the scheduler, the HTTP server, delivery and the
chat front ends; SIGINT/SIGTERM stop it cleanly (stop taking work, finish in-flight, exit 0)
and the process is gone within CYCLEWATCH_STOP_GRACE_SECONDS + 5 s whatever still runs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from bot.app.health import HealthLimits, ServiceState, check_health
from bot.app.http import Handler, HttpLimits, HttpServer, build_app
from bot.app.wiring import Wiring
from bot.config import Settings
from bot.ingest.calendar import ReleaseCalendar
from bot.runtime.clock import Clock, utc_now
from bot.runtime.exits import DetachedExecutor, ExitDeadline
from bot.runtime.httpserver import quiet_accept_errors
from bot.runtime.logsafe import configure_logging
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import InFlight, Timing, build_scheduler
from bot.store import Store

if TYPE_CHECKING:  # the dashboard's modules load with its first route
    from bot.app.dashboard import DashboardModel

log = logging.getLogger("cyclewatch")
DASHBOARD_WARM_CHECK_SECONDS = 2.0  # how soon after an evaluation the dashboard is ready
STOP_MARGIN_SECONDS = 3.5  # past the stop grace, the process ends this much later at most
EXIT_JOIN_SECONDS = 0.5  # after "cyclewatch stopped", the time threads still working get
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The loop's worker threads (Python's default on 2 cores is 6): polls hanging on slow servers
# must not leave the stop's own work (handing back claims, closing clients) waiting for one.
WORKER_THREADS = 32


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """The `run` subcommand: serve until stopped; 0 on a clean stop, 1 when it cannot start."""
    configure_logging(settings)
    data_dir: Path | None = getattr(args, "data", None) or settings.data_dir
    rules_path: Path = getattr(args, "rules", None) or settings.rules_path
    if data_dir is not None and not data_dir.is_dir():
        print(f"cyclewatch: --data {data_dir}: not a directory", file=sys.stderr)
        return 1
    try:
        timing = Timing()
    except ValidationError as err:
        problems = "; ".join(f"{p['loc'][0] if p['loc'] else 'timing'}: {p['msg']} "
                             f"(got {p.get('input')!r})" for p in err.errors())
        print(f"cyclewatch: configuration error: {problems}", file=sys.stderr)
        return 2
    deadline = ExitDeadline().start()
    service = Service(settings, timing, data_dir=data_dir, rules_path=rules_path,
                      exit_deadline=deadline)
    try:
        code = asyncio.run(_as_process(service))
    except StartupError as err:
        print(f"cyclewatch: {err}", file=sys.stderr)
        code = 1
    # Threads still working (a poll on a slow server, a dashboard render) would hold the
    # interpreter's exit: they get half a second, then the process ends anyway.
    deadline.arm(EXIT_JOIN_SECONDS, code)
    return code


async def _as_process(service: Service) -> int:
    """The service as the whole process: the loop's worker threads are not waited for at the
    end, and a failed accept() for want of files is one rated line, not a traceback."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(DetachedExecutor(WORKER_THREADS,
                                               thread_name_prefix="cyclewatch-worker"))
    quiet_accept_errors(loop)
    return await service.run()


class StartupError(Exception):
    """The service cannot start (port taken, database unreachable, ...)."""


class Service:
    """Owns the loop's long-lived parts and their order of start and stop."""

    def __init__(
        self,
        settings: Settings,
        timing: Timing,
        *,
        data_dir: Path | None = None,
        rules_path: Path | None = None,
        clock: Clock = utc_now,
        calendar: ReleaseCalendar | None = None,
        warm_dashboard: bool = True,
        record_clock: Clock | None = None,
        exit_deadline: ExitDeadline | None = None,
    ) -> None:
        self.calendar = calendar
        # When a fetched value was first seen (its stamps in the store); the service's clock
        # unless that is moved off the wall clock (a chat over a data directory).
        self.record_clock = record_clock or clock
        self.warm_dashboard = warm_dashboard  # False where no one can open it (chat)
        self.settings = settings
        self.timing = timing
        self.data_dir = data_dir
        self.rules_path = rules_path or settings.rules_path
        self.clock = clock
        self.metrics = Metrics()
        self.inflight = InFlight()
        self.state = ServiceState(started_at=clock())
        self._stop = asyncio.Event()
        self._signals = 0
        self.started = asyncio.Event()  # set once serving (tests and benchmarks wait on it)
        self._dashboard_model: Callable[[], DashboardModel | None] | None = None
        self.http_port: int | None = None
        self.wiring: Wiring | None = None
        # Set when the service is the whole process: a stop request arms it.
        self.exit_deadline = exit_deadline
        self._previous_handlers: dict[int, Callable[[int, FrameType | None], Any] | int
                                      | None] = {}

    def request_stop(self) -> None:
        """Begin a clean stop; a second request cancels in-flight work at once."""
        self._arm_exit()
        self._signals += 1
        if self._signals == 1:
            log.info("stopping: finishing work in flight (press Ctrl-C again to abandon it)")
        self._stop.set()
        if self._signals > 1:
            self.inflight.accepting = False
            self.timing.stop_grace_seconds = 0

    def _arm_exit(self) -> None:
        # The first request leaves the grace to work in flight; a second one none.
        if self.exit_deadline is not None:
            grace = self.timing.stop_grace_seconds if self._signals == 0 else 0.0
            self.exit_deadline.arm(grace + STOP_MARGIN_SECONDS)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            # A Python-level handler runs between two bytecodes of the main thread even while
            # the loop is busy, so the exit deadline is armed whatever the loop is doing.
            self._arm_exit()
            loop.call_soon_threadsafe(self.request_stop)

        for sig in STOP_SIGNALS:
            self._previous_handlers[sig] = signal.signal(sig, on_signal)

    def _remove_signal_handlers(self) -> None:
        for sig, previous in self._previous_handlers.items():
            if previous is not None:  # None: set outside Python, nothing to put back
                signal.signal(sig, previous)
        self._previous_handlers.clear()

    async def run(self) -> int:
        """Start everything, serve until a stop is requested, stop everything; return 0."""
        self._install_signal_handlers()
        try:
            return await self._run()
        finally:
            self._remove_signal_handlers()

    async def _run(self) -> int:
        try:
            store = await asyncio.to_thread(Store, self.settings.db_url)
        except Exception as err:
            shown = make_url(self.settings.db_url).render_as_string(hide_password=True)
            reason = (str(getattr(err, "orig", None) or err).strip().splitlines() or ["?"])[0]
            raise StartupError(f"cannot open the database {shown}: {reason}") from err
        try:
            wiring = Wiring(
                self.settings, self.timing, store, self.metrics, self.state, self.inflight,
                data_dir=self.data_dir, rules_path=self.rules_path, clock=self.clock,
                record_clock=self.record_clock,
                calendar=self.calendar,
            )
        except ValueError as err:  # e.g. a Telegram webhook URL without its secret
            store.close()
            raise StartupError(str(err)) from err
        limits = HealthLimits()
        http_limits = HttpLimits.from_settings(self.settings)
        app = build_app(
            lambda: check_health(store, self.state, limits, self.clock()),
            self.metrics,
            routes=wiring.chat.http_routes(),
            pages=self._dashboard(store, wiring),
            limits=http_limits,
        )
        server = HttpServer(app, self.settings.http_addr, limits=http_limits)
        try:
            await server.start()
        except OSError as err:
            store.close()
            raise StartupError(str(err)) from err
        scheduler = build_scheduler(self.settings.timezone)
        scheduler.start()  # APScheduler 3.11 needs the running loop here
        try:
            await wiring.start(scheduler)
            log.info(
                "cyclewatch running: http://%s:%s/healthz, database %s, sources %s, %s",
                server.host, server.bound_port,
                make_url(self.settings.db_url).render_as_string(hide_password=True),
                ", ".join(self.state.sources) or "none",
                wiring.describe(),
            )
            self.http_port, self.wiring = server.bound_port, wiring
            self.started.set()
            warming = asyncio.create_task(self._keep_dashboard_warm(wiring))
            await self._stop.wait()
            warming.cancel()
        finally:
            await self._shutdown(scheduler, wiring, server, store)
        return 0

    def _dashboard(self, store: Store, wiring: Wiring) -> dict[str, Handler]:
        """The read-only dashboard's routes, over the store and the current rules."""
        from bot.app.dashboard import DashboardRoutes, following

        token = self.settings.dashboard_token
        model_of = following(store, lambda: wiring.holder.current, lambda: self.clock().date())
        self._dashboard_model = model_of
        return DashboardRoutes(model_of, token.get_secret_value() if token else None).routes()

    async def _keep_dashboard_warm(self, wiring: Wiring) -> None:
        """After each evaluation, compute the dashboard's first view (the regime history takes
        seconds cold), so a visitor never waits for it; never while a chat command is being
        answered (the first /regime after a start must not share the CPU with it)."""
        warmed_at = 0
        while self.warm_dashboard:
            await asyncio.sleep(DASHBOARD_WARM_CHECK_SECONDS)
            model = self._dashboard_model() if self._dashboard_model else None
            if model is None or self.state.evaluations == warmed_at or wiring.chat.answering:
                continue
            warmed_at = self.state.evaluations
            try:
                await asyncio.to_thread(model.warm)
            except Exception as err:  # the page computes on demand instead
                log.warning("dashboard not precomputed: %s", type(err).__name__)

    async def _shutdown(
        self, scheduler: AsyncIOScheduler, wiring: Wiring, server: HttpServer, store: Store
    ) -> None:
        self.inflight.accepting = False
        if scheduler.running:
            scheduler.pause()  # no new runs; the executor would cancel running ones on shutdown
        # Jobs and HTTP requests in flight (a dashboard render) share the one grace.
        abandoned, _ = await asyncio.gather(
            self.inflight.drain(self.timing.stop_grace_seconds), _stop_http(server))
        if abandoned:
            log.warning("abandoned %d job(s) still running at stop; they resume at next start",
                        abandoned)
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await wiring.stop()
        store.close()
        log.info("cyclewatch stopped")


async def _stop_http(server: HttpServer) -> None:
    """Stop the HTTP server; a failure there must not keep the rest from stopping."""
    try:
        await server.stop()
    except Exception as err:
        log.warning("HTTP server did not stop cleanly: %s", err)
