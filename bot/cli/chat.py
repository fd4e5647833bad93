"""`cyclewatch chat [--data DIR]`: the service with the terminal as its chat platform.

Every command goes through the one handler (`bot.chat.commands.handle`) by way of the console
platform (bot/platforms/console/); alerts for a `/subscribe`d console are printed by the
delivery worker as they arrive. With `--data`, nothing touches the network and the session's
clock starts at the end of the data, so the rules are not stale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import httpx

from bot.app.service import Service, StartupError
from bot.cli.fetch import build_plan
from bot.config import Settings, data_db_url, state_dir
from bot.ingest.fetcher import Fetcher
from bot.platforms.console.frontend import ConsoleFrontEnd
from bot.runtime.clock import utc_now
from bot.runtime.logsafe import configure_logging
from bot.runtime.scheduler import Timing
from bot.store import Store

log = logging.getLogger("cyclewatch.chat")
START_TIMEOUT_SECONDS = 120.0


def chat_settings(settings: Settings, data_dir: Path | None, rules: Path | None,
                  charts: Path | None) -> Settings:
    """The settings of a chat session: the console platform on, an HTTP port of its own, and
    a store of its own unless CYCLEWATCH_DB_URL says otherwise. The person at the terminal
    is a bot admin (/reload, the admins' notices) only when CYCLEWATCH_ADMINS names
    `console:local`."""
    update: dict[str, object] = {"console_chat": True, "http_addr": "127.0.0.1:0"}
    if "db_url" not in settings.model_fields_set:
        update["db_url"] = (data_db_url(data_dir, "chat") if data_dir is not None
                            else f"sqlite:///{state_dir() / 'chat.db'}")
    if rules is not None:
        update["rules_path"] = rules
    if charts is not None:
        update["console_chart_dir"] = charts
    return settings.model_copy(update=update)


def load_data(settings: Settings, data_dir: Path) -> None:
    """Read the data directory into the session's store (quietly; a file unchanged since it
    was recorded is skipped by its fingerprint)."""
    store = Store(settings.db_url)
    try:
        with httpx.Client(timeout=settings.fred_timeout) as http:
            for planned in build_plan(settings, data_dir, http):
                Fetcher(store, planned.source, overlap=planned.entry.overlap).poll(planned.series)
    finally:
        store.close()


def newest_stored(settings: Settings) -> date | None:
    """The newest observation date in the session's store not in the future (projections
    are), or None when the store holds none."""
    store = Store(settings.db_url)
    try:
        today = utc_now().date()
        known = [s.last_obs_date for s in store.status()
                 if s.last_obs_date is not None and s.last_obs_date <= today]
    finally:
        store.close()
    return max(known) if known else None


class DataClock:
    """The wall clock, moved back so that the session's day is the end of the data (late in
    that day, after its releases); `move_to` follows the data when a refresh extends them.
    The wall clock itself while no day is set."""

    def __init__(self, as_of: date | None) -> None:
        self.offset = timedelta(0)
        self.as_of = as_of
        self.move_to(as_of)

    def move_to(self, as_of: date | None) -> None:
        """Make `as_of` the session's day (None, or a day ahead of the wall clock: no shift)."""
        self.as_of = as_of
        if as_of is None:
            self.offset = timedelta(0)
            return
        start = datetime.combine(as_of, time(23, 0), tzinfo=utc_now().tzinfo)
        self.offset = max(utc_now() - start, timedelta(0))

    def __call__(self) -> datetime:
        """Now, as the session sees it."""
        return utc_now() - self.offset


def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    """The `chat` subcommand: a console chat session; 0 when the input ends."""
    data_dir: Path | None = args.data or settings.data_dir
    if data_dir is not None and not data_dir.is_dir():
        print(f"cyclewatch chat: --data {data_dir}: not a directory", file=sys.stderr)
        return 2
    settings = chat_settings(settings, data_dir, args.rules, args.charts)
    explicit_level = "log_level" in settings.model_fields_set
    configure_logging(settings, level=None if explicit_level else "ERROR")
    as_of: date | None = args.as_of
    follow = False  # whether the clock follows the data once the first refresh is done
    if data_dir is not None:
        # A store that holds the data answers at once; the service's first poll refreshes
        # it (reading only the files that changed). An empty store is loaded first.
        newest = newest_stored(settings)
        if newest is None:
            load_data(settings, data_dir)
            newest = newest_stored(settings)
        follow = as_of is None
        as_of = as_of or newest
    where = f"data from {data_dir}" if data_dir else "live sources"
    when = f", the session's clock set to {as_of}" if as_of else ""
    print(f"cyclewatch chat ({where}{when}). Type /help; /subscribe all prints alerts here "
          f"as they come; Ctrl-D or /quit ends.\n", flush=True)
    with _patched_stdout():
        try:
            return asyncio.run(_session(settings, data_dir, DataClock(as_of), follow=follow))
        except StartupError as err:
            print(f"cyclewatch chat: {err}", file=sys.stderr)
            return 1


@contextlib.contextmanager
def _patched_stdout() -> Iterator[None]:
    # On a terminal, alerts printed while the prompt waits must go above it, not through it.
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        yield
        return
    from prompt_toolkit.patch_stdout import patch_stdout

    with patch_stdout(raw=True):
        yield


async def _session(settings: Settings, data_dir: Path | None, clock: DataClock, *,
                   follow: bool = False) -> int:
    # The session's dashboard has no announced address: nobody would see it warmed.
    # Stored values are stamped with the wall clock, as `load_data` stamps them.
    service = Service(settings, Timing(), data_dir=data_dir, rules_path=settings.rules_path,
                      clock=clock, warm_dashboard=False, record_clock=utc_now)
    running = asyncio.create_task(service.run())
    started = asyncio.create_task(service.started.wait())
    await asyncio.wait({running, started}, timeout=START_TIMEOUT_SECONDS,
                       return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        started.cancel()
        return running.result()
    front = service.wiring.chat.intakes["console"].front if service.wiring else None
    if not isinstance(front, ConsoleFrontEnd):
        service.request_stop()
        return await running
    following = asyncio.create_task(_follow_data(service, settings, clock)) if follow else None
    finished = asyncio.create_task(front.finished.wait())
    await asyncio.wait({running, finished}, return_when=asyncio.FIRST_COMPLETED)
    if following is not None:
        following.cancel()
    service.request_stop()
    return await running


async def _follow_data(service: Service, settings: Settings, clock: DataClock) -> None:
    """Once the first refresh is done, move the session's day to the end of the data (a file
    that changed since the last session may have extended it) and evaluate on that day."""
    wiring = service.wiring
    if wiring is None:
        return
    await wiring.producer.caught_up.wait()
    newest = await asyncio.to_thread(newest_stored, settings)
    if newest is not None and (clock.as_of is None or newest > clock.as_of):
        clock.move_to(newest)
        log.info("new data to %s: the session's clock moved there", newest)
        wiring.jobs["evaluate"].run_soon()
