"""`cyclewatch replay --from D [--until D] [--data DIR] [--speed S] [--to-chats]`: the
service's own pipeline (bot.app.produce.Producer, then bot.alerts.outbox.DeliveryWorker) on a
simulated clock that walks from release to release through history.

Each observation appears when it was published (its rules `lag:`, else the release calendar),
the producer fetches it, evaluates and records, and the worker delivers what is due: printed
here, or sent to the live store's subscribed chats with `--to-chats`, marked as a replay.
The replay keeps a throwaway store unless `--db` names one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline, Recipient
from bot.app.health import ServiceState
from bot.app.produce import Producer
from bot.cli.fetch import build_plan
from bot.cli.replaykit import ReplayNotifier, ReplayStore, RevealingSource, SimClock, series_lags
from bot.config import Settings
from bot.evaluate.evaluator import LiveEvaluator
from bot.evaluate.reload import RulesHolder
from bot.ingest.calendar import ReleaseCalendar, eastern
from bot.ingest.fetcher import Fetcher
from bot.ingest.poller import fetcher_poll
from bot.notifiers.base import Notifier
from bot.notifiers.console import CONSOLE_CHAT, ConsoleNotifier
from bot.platforms.base import Closer
from bot.platforms.registry import configured
from bot.runtime.clock import utc_now
from bot.runtime.logsafe import configure_logging
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.schema import chats, subscriptions
from rules import RulesError

log = logging.getLogger("cyclewatch.replay")
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Feed:
    """One source of the replay: the revealing wrapper, its fetcher, the series it serves."""

    source: RevealingSource
    fetcher: Fetcher
    series: list[str]


def replay_command(args: argparse.Namespace, settings: Settings) -> int:
    """The `replay` subcommand: 0 when the replay ran to its end."""
    data_dir: Path | None = args.data or settings.data_dir
    if data_dir is not None and not data_dir.is_dir():
        print(f"cyclewatch replay: --data {data_dir}: not a directory", file=sys.stderr)
        return 2
    until: date = args.until or utc_now().date()
    if until < args.from_:
        print("cyclewatch replay: --until is before --from", file=sys.stderr)
        return 2
    if args.rules is not None:
        settings = settings.model_copy(update={"rules_path": args.rules})
    configure_logging(settings, None if "log_level" in settings.model_fields_set else "ERROR")
    with tempfile.TemporaryDirectory(prefix="cyclewatch-replay-") as scratch:
        url = args.db or f"sqlite:///{Path(scratch) / 'replay.db'}"
        try:
            return asyncio.run(Replay(settings, data_dir, url, args.to_chats).run(
                args.from_, until, speed=args.speed))
        except ReplayError as err:
            print(f"cyclewatch replay: {err}", file=sys.stderr)
            return 2


class ReplayError(Exception):
    """The replay cannot run (rules unusable, no chat platform for --to-chats, ...)."""


class Replay:
    """Builds the pipeline around a simulated clock and walks it through history."""

    def __init__(self, settings: Settings, data_dir: Path | None, db_url: str,
                 to_chats: bool, *, sleep: Sleep = asyncio.sleep) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.db_url = db_url
        self.to_chats = to_chats
        self.sleep = sleep
        self.clock = SimClock(utc_now())
        self.calendar = ReleaseCalendar()
        self.woken = False
        self._closers: list[Closer] = []

    def _notifiers(self) -> dict[str, Notifier]:
        zone = self.settings.timezone
        if not self.to_chats:
            return {"console": ReplayNotifier(ConsoleNotifier(), self.clock, zone)}
        platforms = [p for p in configured(self.settings) if p.name != "console"]
        if not platforms:
            raise ReplayError("--to-chats needs a chat platform (TELEGRAM_BOT_TOKEN or "
                              "SLACK_BOT_TOKEN)")
        found: dict[str, Notifier] = {}
        for platform in platforms:
            delivery = platform.connect(self.settings)
            self._closers.extend(delivery.closers)
            found[platform.name] = ReplayNotifier(delivery.notifier, self.clock, zone)
        return found

    def _copy_subscriptions(self, store: Store, platforms: set[str]) -> int:
        live = Store(self.settings.db_url)
        try:
            with live.engine.connect() as conn:
                found = {table: [dict(r) for r in conn.execute(sa.select(table).where(
                    table.c.platform.in_(platforms))).mappings()]
                    for table in (chats, subscriptions)}
        finally:
            live.close()
        with store.engine.begin() as conn:
            for table, rows in found.items():
                if rows:
                    conn.execute(table.insert(), rows)
        return len(found[subscriptions])

    async def run(self, start: date, until: date, *, speed: float = 0.0) -> int:
        """Replay [start, until]; print a summary; 0."""
        holder = RulesHolder(self.settings.rules_path)
        try:
            ruleset = holder.load()
        except (OSError, RulesError) as err:
            raise ReplayError(f"rules {self.settings.rules_path} are not usable: {err}") from err
        store = ReplayStore(self.db_url)
        http = httpx.Client(timeout=self.settings.fred_timeout, follow_redirects=True)
        try:
            notifiers = self._notifiers()
            if self.to_chats:
                count = await asyncio.to_thread(self._copy_subscriptions, store, set(notifiers))
                print(f"sending to the {count} subscription(s) of the live store, marked as a "
                      "replay")
            wanted = {i.id for i in ruleset.inputs}
            lags = series_lags(ruleset)
            feeds = [Feed(src := RevealingSource(p.source, self.clock, lags, self.calendar),
                          Fetcher(store, src, clock=self.clock, overlap=timedelta(days=45)),
                          sorted(set(p.series) & wanted))
                     for p in build_plan(self.settings, self.data_dir, http)]
            implicit = [] if self.to_chats else [Recipient("console", CONSOLE_CHAT)]
            metrics = Metrics()
            producer = Producer(
                holder=holder, pipeline=Pipeline(store, implicit=implicit),
                evaluator=LiveEvaluator(store, holder, metrics=metrics,
                                        timezone=self.settings.timezone),
                state=ServiceState(started_at=self.clock()), metrics=metrics,
                tell_admins=_no_admins, wake_delivery=self._wake, is_leader=lambda: True)
            worker = DeliveryWorker(store, notifiers, clock=self.clock, worker_id="replay")
            sent = await self._walk(store, producer, worker, feeds, start, until, speed)
        finally:
            for close in self._closers:
                await close()
            await asyncio.to_thread(http.close)
            store.close()
        self._summary(sent, notifiers)
        return 0

    def _wake(self) -> None:
        self.woken = True

    async def _walk(self, store: ReplayStore, producer: Producer, worker: DeliveryWorker,
                    feeds: list[Feed], start: date, until: date, speed: float) -> int:
        first = eastern(start, clock_time(0, 0))
        last = eastern(until + timedelta(days=1), clock_time(0, 0))
        self.clock.now = first  # what was public before the first day: silently known
        for feed in feeds:
            for series_id in feed.series:
                history = feed.source.history(series_id)
                if history is not None:
                    store.seed(feed.source.name, series_id, history, first)
        await producer.evaluate(first)  # each rule's baseline: history is not re-announced
        steps: dict[datetime, dict[str, set[str]]] = {}
        for feed in feeds:
            for when, ids in feed.source.publications(feed.series, first, last).items():
                steps.setdefault(when, {})[feed.source.name] = ids
        print(f"replaying {start} to {until}: {len(steps)} release times, "
              f"{sum(len(f.series) for f in feeds)} series")
        started, handled = time.monotonic(), 0
        for when in sorted(steps):
            if speed > 0:
                await self.sleep((when - self.clock.now).total_seconds() / speed)
            self.clock.now = when
            handled += await self._step(producer, worker, steps[when], feeds)
        self.clock.now = last  # deliveries held (quiet hours) until after the last day
        handled += await worker.drain()
        log.info("replay took %.1f s", time.monotonic() - started)
        return handled

    async def _step(self, producer: Producer, worker: DeliveryWorker,
                    due: Mapping[str, set[str] | list[str]], feeds: list[Feed]) -> int:
        """One release time: fetch what was published, evaluate once, deliver what is due."""
        news = False
        for feed in feeds:
            ids = sorted(due.get(feed.source.name, ()))
            if not ids:
                continue
            poll = fetcher_poll(feed.fetcher, lambda ids=ids: ids)  # type: ignore[misc]
            outcome = await producer.fetch(feed.source.name, poll, self.clock())
            news = producer.is_news(feed.source.name, outcome) or news
        if news:
            await producer.evaluate(self.clock())
        if not self.woken:
            return 0
        self.woken = False
        return await worker.drain()

    def _summary(self, handled: int, notifiers: Mapping[str, Notifier]) -> None:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.settings.timezone)
        sent = sorted((when, message.title) for n in notifiers.values()
                      if isinstance(n, ReplayNotifier) for when, message in n.sent)
        print(f"\n{len(sent)} alert(s) replayed:")
        for when, title in sent:
            print(f"  {when.astimezone(zone):%Y-%m-%d %H:%M %Z}  {title}")


async def _no_admins(title: str, body: str) -> None:
    """Admin notices (stale data and the like) are not part of a replay."""
