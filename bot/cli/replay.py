"""`cyclewatch replay --from D [--until D] [--data DIR] [--speed S] [--to-chats]`: history
through the service's own delivery on a simulated clock.

The rules run once over all the data (`rules.backtest`, the same pass the backtest and the
regime history are views of); each transition carries the instant it was announced (its
inputs' release times, `bot.ingest.knownat`). The events announced in the span are recorded
through the pipeline (`bot.alerts.pipeline.Pipeline`: route, mute, outbox) at their instant
and delivered by the service's worker (`bot.alerts.outbox.DeliveryWorker`): printed here, or
sent to the live store's subscribed chats with `--to-chats`, marked as a replay. The replay
keeps a throwaway store unless `--db` names one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from itertools import groupby
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline, Recipient
from bot.briefing.deliver import Briefings
from bot.cli.dashboard import file_insight
from bot.cli.fetch import build_plan
from bot.cli.replaykit import ReplayNotifier, SimClock
from bot.config import Settings
from bot.evaluate.reload import RulesHolder
from bot.ingest.calendar import ReleaseCalendar, eastern
from bot.ingest.knownat import known_at
from bot.notifiers.base import Notifier
from bot.notifiers.console import CONSOLE_CHAT, ConsoleNotifier
from bot.platforms.base import Closer
from bot.platforms.registry import configured
from bot.runtime.clock import utc_now
from bot.runtime.logsafe import configure_logging
from bot.store import Store
from bot.store.chats import insert_ignoring_duplicates
from bot.store.schema import chats, subscriptions
from rules import Event, RulesError, RuleSet, backtest
from sources.base import SourceError

log = logging.getLogger("cyclewatch.replay")
Sleep = Callable[[float], Awaitable[None]]


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
        with store.engine.begin() as conn:  # a replay restarted on its --db has them
            for table, rows in found.items():
                for row in rows:
                    insert_ignoring_duplicates(conn, table, row)
        return len(found[subscriptions])

    async def run(self, start: date, until: date, *, speed: float = 0.0) -> int:
        """Replay [start, until]; print a summary; 0."""
        holder = RulesHolder(self.settings.rules_path)
        try:
            ruleset = holder.load()
        except (OSError, RulesError) as err:
            raise ReplayError(f"rules {self.settings.rules_path} are not usable: {err}") from err
        store = Store(self.db_url)
        http = httpx.Client(timeout=self.settings.fred_timeout, follow_redirects=True)
        try:
            notifiers = self._notifiers()
            if self.to_chats:
                count = await asyncio.to_thread(self._copy_subscriptions, store, set(notifiers))
                print(f"sending to the {count} subscription(s) of the live store, marked as a "
                      "replay")
            data = await asyncio.to_thread(self._read, ruleset, http)
            events = await asyncio.to_thread(self._pass, ruleset, data, start, until)
            implicit = [] if self.to_chats else [Recipient("console", CONSOLE_CHAT)]
            worker = DeliveryWorker(store, notifiers, clock=self.clock, worker_id="replay")
            insight = file_insight(ruleset, data)
            briefings = Briefings(store, lambda: insight, default_zone=self.settings.timezone,
                                  calendar=self.calendar)
            sent = await self._deliver(Pipeline(store, implicit=implicit), worker, events,
                                       start, until, speed, briefings)
        finally:
            for close in self._closers:
                await close()
            await asyncio.to_thread(http.close)
            store.close()
        self._summary(sent, notifiers)
        return 0

    def _read(self, ruleset: RuleSet, http: httpx.Client) -> dict[str, pd.Series]:
        """Every series the rules read, whole, from the sources `fetch` would use."""
        wanted = {i.id for i in ruleset.inputs}
        data: dict[str, pd.Series] = {}
        for planned in build_plan(self.settings, self.data_dir, http):
            for series_id in sorted(set(planned.series) & wanted - data.keys()):
                try:
                    data[series_id] = planned.source.fetch(series_id).values
                except SourceError as err:
                    log.warning("%s: %s: %s", planned.source.name, series_id, err)
        return data

    def _pass(self, ruleset: RuleSet, data: Mapping[str, pd.Series], start: date,
              until: date) -> list[Event]:
        """The transitions announced after `start` and by the end of `until`, in order."""
        first, last = self._span(start, until)
        found = backtest(ruleset, data, known=lambda d: known_at(ruleset, d, self.calendar),
                         zone=self.settings.timezone)
        # What was public before the first day is the baseline, never announced.
        due = [e for e in found if e.date > start and e.announced is not None
               and first < e.announced <= last]
        return sorted(due, key=lambda e: (e.announced or first, e.date, e.rule_id))

    @staticmethod
    def _span(start: date, until: date) -> tuple[datetime, datetime]:
        return (eastern(start, clock_time(0, 0)),
                eastern(until + timedelta(days=1), clock_time(0, 0)))

    async def _deliver(self, pipeline: Pipeline, worker: DeliveryWorker, events: Sequence[Event],
                       start: date, until: date, speed: float,
                       briefings: Briefings | None = None) -> int:
        """Each announcement at its instant: recorded through the pipeline, then delivered;
        after each H.4.1, the weekly briefing for the chats that want it."""
        first, last = self._span(start, until)
        self.clock.now = first
        by_instant = {when: list(group) for when, group in
                      groupby(events, key=lambda e: e.announced or first)}
        if briefings is not None:
            for release in self.calendar.releases("h41", start, until):
                if first < release.at <= last:
                    by_instant.setdefault(release.at, [])
        moments = sorted(by_instant.items())
        print(f"replaying {start} to {until}: {len(events)} announcement(s) at "
              f"{len(moments)} release time(s)")
        started, handled = time.monotonic(), 0
        for when, group in moments:
            if speed > 0:
                await self.sleep((when - self.clock.now).total_seconds() / speed)
            self.clock.now = when
            recorded = await asyncio.to_thread(pipeline.record, group, when) if group else 0
            if briefings is not None:
                recorded += await asyncio.to_thread(briefings.record_due, when)
            if recorded:
                handled += await worker.drain()
        self.clock.now = last  # deliveries held (quiet hours) until after the last day
        handled += await worker.drain()
        log.info("replay took %.1f s", time.monotonic() - started)
        return handled

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
