"""Fan-out benchmark: one alert to N Telegram subscribers against the fake Bot API that
enforces Telegram's limits (30 msg/s overall, 1 msg/s per chat; 1,000 msg/s overall with
--paid, Telegram's paid broadcast), time-compressed by --scale, through the outbox on SQLite or
PostgreSQL (--db; a throwaway cluster, as the tests start one).

Prints the achieved send rate as a share of the allowed rate (target >= 95%), lost and
duplicate counts, the number of 429s the fake had to answer, our CPU per message (target
<= 1 ms at 1,000 msg/s) and the database commits and statements per message (target <= 0.2
commits); then the warm `/regime` latency through the Telegram front end (real PTB polling +
bot.chat.commands over the history in ../shared/data), p50/p95 (target p95 <= 300 ms). Run:

    .venv/bin/python -m bench.fanout --subscribers 10000 --scale 3 --workers 4
    .venv/bin/python -m bench.fanout --db postgresql --paid --scale 1 --subscribers 20000 \
        --workers 4 --regime-requests 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa
from telegram import Bot

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.chat.commands import CommandContext, handle
from bot.chat.ratelimit import TokenBucket
from bot.evaluate.insight import Insight
from bot.notifiers.base import Button, DeliveryError, Message
from bot.platforms.telegram.frontend import TelegramFrontEnd, build_application
from bot.platforms.telegram.notifier import TelegramNotifier, TelegramRateLimiter
from bot.platforms.telegram.transport import AiohttpRequest
from bot.runtime.backoff import Backoff
from bot.store import Store
from bot.store.chats import add_subscribers
from bot.store.schema import outbox
from rules import backtest, load_rules
from sources.base import SourceError
from sources.files import FileSource
from tests.fakes.telegram import FakeTelegram
from tests.pg import throwaway_cluster

# tmpfs when available: the benchmark measures the send path, not the disk's fsync time
TMP_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") else None
ALERT = Message(
    title="Quantitative tightening has ended",
    body="The Fed's Treasury holdings rose for 2 weeks after 26 weeks of decline.",
    buttons=(Button("Mute 7d", "/mute qt_ends 7d"), Button("Why?", "/why qt_ends")),
)


async def notifier_only(notifier: TelegramNotifier, chat_ids: list[str], workers: int) -> int:
    """Deliver to every chat with `workers` concurrent senders, honouring retry_after."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for chat in chat_ids:
        queue.put_nowait(chat)
    retries = 0

    async def worker() -> None:
        nonlocal retries
        while not queue.empty():
            chat = queue.get_nowait()
            while True:
                try:
                    await notifier.send(chat, ALERT)
                    break
                except DeliveryError as err:
                    if not err.retryable:
                        raise
                    retries += 1
                    await asyncio.sleep(err.retry_after or 0.1)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return retries


def prepare_outbox(chat_ids: list[str], store: Store) -> None:
    """Subscribe every chat (in bulk: the set-up is not what is measured) and publish one real
    history event through bot.alerts.pipeline."""
    now = datetime.now(UTC)
    add_subscribers(store.engine, "telegram", chat_ids, now)
    ctx = regime_context(store)
    assert ctx.insight is not None
    _, data = ctx.insight.data()
    event = [e for e in backtest(ctx.insight.ruleset, data, only=["qt_ends"])
             if e.state == "firing"][-1]
    Pipeline(store).record([event], now)


async def drain_outbox(notifier: TelegramNotifier, workers: int, store: Store) -> int:
    """Drain the outbox with `workers` DeliveryWorkers sharing the store (as processes do)."""

    def utc_now() -> datetime:
        return datetime.now(UTC)

    delivery = [DeliveryWorker(store, {"telegram": notifier}, clock=utc_now, worker_id=f"w{i}",
                               backoff=Backoff(base_seconds=0.2, max_seconds=2))
                for i in range(workers)]

    def waiting() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.status.in_(("pending", "sending")))).scalar_one())

    async def loop(worker: DeliveryWorker) -> None:
        while True:
            if await worker.drain() == 0:
                if await asyncio.to_thread(waiting) == 0:
                    return
                await asyncio.sleep(0.05)

    await asyncio.gather(*(loop(w) for w in delivery))
    return 0


FAKE_PIDS: list[int] = []  # the fake's process, whose CPU is not ours (but tells the story)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def fake_in_subprocess(scale: float) -> AsyncIterator[str]:
    """The fake Bot API in its own process (as the real one is remote); yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.telegram", str(scale), stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int((await process.stdout.readline()).decode().strip())
        FAKE_PIDS.append(process.pid)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database URL: SQLite on tmpfs, or a throwaway PostgreSQL cluster."""
    if kind == "postgresql":
        with throwaway_cluster() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        yield f"sqlite:///{tmp}/fanout.db"


class Counted:
    """Commits and statements an engine runs (an executemany counts once)."""

    def __init__(self, store: Store) -> None:
        self.commits = self.statements = 0
        sa.event.listen(store.engine, "commit", self._commit)
        sa.event.listen(store.engine, "before_cursor_execute", self._statement)

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    def _statement(self, *args: Any) -> None:
        if not str(args[2]).lstrip().upper().startswith("BEGIN"):
            self.statements += 1


async def run(subscribers: int, scale: float, workers: int, mode: str, *,
              db: str = "sqlite", paid: bool = False) -> dict[str, object]:
    """One fan-out (`mode` "outbox" or "notifier"); returns the measured figures."""
    with database(db) as url:
        async with fake_in_subprocess(scale) as root:
            return await _run(root, url, subscribers, scale, workers, mode, paid)


async def _run(root: str, url: str, subscribers: int, scale: float, workers: int,
               mode: str, paid: bool) -> dict[str, object]:
    token = FakeTelegram.token
    bot = Bot(token, base_url=f"{root}/bot", request=AiohttpRequest(pool_size=64 * workers))
    rate = FakeTelegram.paid_rate if paid else FakeTelegram.overall_rate
    notifier = TelegramNotifier(bot, limiter=TelegramRateLimiter(rate, scale=scale),
                                paid_broadcast=paid)
    chat_ids = [str(100_000 + i) for i in range(subscribers)]
    store = Store(url)
    if mode == "outbox":
        await asyncio.to_thread(prepare_outbox, chat_ids, store)
    counted = Counted(store)
    fake_cpu = cpu_seconds(FAKE_PIDS[-1])
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        if mode == "outbox":
            retries = await drain_outbox(notifier, workers, store)
        else:
            retries = await notifier_only(notifier, chat_ids, workers)
    finally:
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        fake_cpu = cpu_seconds(FAKE_PIDS[-1]) - fake_cpu
        await notifier.close()
        store.close()
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"{root}/_fake/stats")).json()
    counts = Counter({chat: int(stats["messages"].get(chat, 0)) for chat in chat_ids})
    allowed = rate * scale
    return {
        "mode": mode, "db": store.dialect, "paid_broadcast": paid,
        "subscribers": subscribers, "scale": scale, "seconds": elapsed,
        "achieved_per_s": subscribers / elapsed, "allowed_per_s": allowed,
        "share_of_allowed": subscribers / elapsed / allowed,
        "lost": sum(1 for c in chat_ids if counts[c] == 0),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "fake_429s": stats["rate_limited"], "fake_429s_per_chat": stats["rate_limited_chat"],
        "client_retries": retries,
        "paid_sends": stats["paid_messages"],
        # CPU this process spent per message (the fake and the database are other processes)
        "cpu_ms_per_message": 1000 * cpu / subscribers,
        "fake_cpu_ms_per_message": 1000 * fake_cpu / subscribers,
        "commits_per_message": counted.commits / subscribers,
        "statements_per_message": counted.statements / subscribers,
    }


def history_dir() -> Path:
    """../shared/data beside the clone, or CYCLEWATCH_HISTORY_DIR."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", default))


def regime_context(store: Store) -> CommandContext:
    """bot.chat.commands over the real rules and history, charts on (as in production)."""
    rules_file = Path(__file__).resolve().parents[1] / "rules.yaml"
    ruleset = load_rules(rules_file.read_text(encoding="utf-8"), str(rules_file))
    source = FileSource(history_dir())
    data: dict[str, pd.Series] = {}
    for series in ruleset.inputs:
        with contextlib.suppress(SourceError):
            data[series.id] = source.fetch(series.id).values
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    return CommandContext(store=store, clock=lambda: now, insight=Insight(ruleset, lambda: data),
                          limiter=TokenBucket(capacity=1000, per_second=1000))


async def regime_latency(requests: int) -> dict[str, object]:
    """Warm /regime round trips (update pushed -> every reply part recorded by the fake)."""
    fake = await FakeTelegram().start()  # real-time limits: one request per chat
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        ctx = regime_context(store)
        front = TelegramFrontEnd(build_application(fake.token, fake.base_url),
                                 functools.partial(handle, ctx))
        await front.start()
        timings = []
        try:
            for index in range(requests + 1):  # the first one warms the caches
                chat = 700_000 + index
                started = time.perf_counter()
                fake.push_message(chat, "/regime")
                # photo + the rest of the text; the fake has no event for "n messages"
                while len(fake.messages.get(str(chat), [])) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                if index:
                    timings.append(time.perf_counter() - started)
        finally:
            await front.stop()
            await fake.close()
            store.close()
    timings.sort()
    return {"requests": requests, "p50_ms": 1000 * timings[len(timings) // 2],
            "p95_ms": 1000 * timings[int(len(timings) * 0.95) - 1],
            "max_ms": 1000 * timings[-1]}


def _print(result: dict[str, object]) -> None:
    for key, value in result.items():
        print(f"{key:>18}: {value:.3f}" if isinstance(value, float) else f"{key:>18}: {value}")


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=3.0, help="time compression")
    parser.add_argument("--workers", type=int, default=4,
                        help="delivery workers (the service runs one; each sends to several "
                             "chats at once at the notifier's rate)")
    parser.add_argument("--regime-requests", type=int, default=40)
    parser.add_argument("--mode", choices=["outbox", "notifier"], default="outbox")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--paid", action="store_true",
                        help="Telegram paid broadcast (1,000 msg/s overall)")
    args = parser.parse_args()
    print("fan-out")
    _print(asyncio.run(run(args.subscribers, args.scale, args.workers, args.mode, db=args.db,
                           paid=args.paid)))
    if args.regime_requests:
        print("/regime through the Telegram front end (warm)")
        _print(asyncio.run(regime_latency(args.regime_requests)))


if __name__ == "__main__":
    main()
