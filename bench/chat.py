"""Chat-side costs, measured side by side in one run on the history in ../shared/data:

1. charts: first render vs a cached render of the regime dashboard and a rule chart;
2. /regime and /rules through `bot.chat.commands.handle`: cold (new data version) vs warm;
3. pipeline + outbox on SQLite: N events x M subscribers into the outbox (one transaction),
   then drained by one worker through an in-memory notifier; rows per second each way.

    .venv/bin/python -m bench.chat [--events 50] [--subscribers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.chat import charts
from bot.chat.commands import CommandContext, handle
from bot.chat.ratelimit import TokenBucket
from bot.chat.types import Caller
from bot.evaluate.insight import Insight
from bot.notifiers.base import Message, Sent
from bot.store import Store
from bot.store.chats import Subscriptions
from rules import Event, load_rules
from sources.base import SourceError
from sources.files import FileSource

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", ROOT.parent / "shared" / "data"))
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Counting:
    platform = "telegram"

    def __init__(self) -> None:
        self.count = 0

    async def send(self, chat_id: str, message: Message) -> Sent:
        self.count += 1
        return Sent((str(self.count),))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=200)
    args = parser.parse_args()
    ruleset = load_rules((ROOT / "rules.yaml").read_text(), "rules.yaml")
    files = FileSource(DATA)
    data: dict[str, pd.Series] = {}
    for series in ruleset.inputs:
        try:
            data[series.id] = files.fetch(series.id).values
        except SourceError:
            continue
    as_of = date(2026, 11, 23)

    cold = timed(lambda: charts.regime_dashboard(data, as_of, "bench-1", ruleset))
    warm = timed(lambda: charts.regime_dashboard(data, as_of, "bench-1", ruleset))
    print(f"dashboard: first {cold:.3f} s, cached {warm * 1e6:.0f} us -> {cold / warm:,.0f}x")
    cold = timed(lambda: charts.rule_chart(data, ruleset, "qt_ends", as_of, "bench-1"))
    warm = timed(lambda: charts.rule_chart(data, ruleset, "qt_ends", as_of, "bench-1"))
    print(f"rule chart: first {cold:.3f} s, cached {warm * 1e6:.0f} us -> {cold / warm:,.0f}x")

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        caller = Caller("telegram", "1", "u1")
        for line in ("/regime", "/rules", "/why qt_ends"):
            # a fresh bridge each time: "cold" is the first answer after new data arrive
            ctx = CommandContext(store, lambda: NOW, Insight(ruleset, lambda: data),
                                 limiter=TokenBucket(capacity=1e9), charts=False)
            cold = timed(lambda ctx=ctx, line=line: asyncio.run(handle(ctx, caller, line)))  # type: ignore[misc]
            warm = timed(lambda ctx=ctx, line=line: asyncio.run(handle(ctx, caller, line)))  # type: ignore[misc]
            print(f"{line}: cold {cold:.3f} s, warm {warm * 1e3:.1f} ms -> {cold / warm:,.0f}x")

        subs = Subscriptions(store.engine)
        for i in range(args.subscribers):
            subs.ensure_chat("telegram", f"c{i}", is_group=False, language_code=None, now=NOW)
            subs.subscribe("telegram", f"c{i}", "all", NOW)
        rule = ruleset.rule("qt_ends")
        found = [Event(rule=rule, state="firing", date=date(2030, 1, 1) + pd.Timedelta(days=d))
                 for d in range(args.events)]
        rows = args.events * args.subscribers
        spent = timed(lambda: Pipeline(store).record(found, NOW))
        print(f"pipeline: {rows} outbox rows in {spent:.2f} s -> {rows / spent:,.0f} rows/s")
        notifier = Counting()
        worker = DeliveryWorker(store, {"telegram": notifier}, clock=lambda: NOW, batch=100)
        spent = timed(lambda: asyncio.run(worker.drain(max_rounds=10**6)))
        print(f"outbox: {notifier.count} delivered in {spent:.2f} s -> "
              f"{notifier.count / spent:,.0f} rows/s (Telegram allows 30/s)")
        store.close()


if __name__ == "__main__":
    main()
