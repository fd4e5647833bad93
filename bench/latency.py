"""Alert latency and idle memory of `cyclewatch run`.

Latency: from the moment the fake FRED publishes a new H.4.1 week (WALCL) to the moment the
fake Telegram receives the alert, with the release-window poll interval set to INTERVAL
seconds. Each trial starts the service in-process on a Thursday inside the H.4.1 window (its
clock is injected, the scheduler runs on the wall clock), publishes at a random phase of the
poll cycle, and waits for sendMessage. Target: ≤ interval + 2 s.

Idle RSS: `python -m bot run` as a subprocess against the fakes, read from /proc after it
settled. Target: ≤ 200 MB.

    .venv/bin/python -m bench.latency [--interval 2] [--trials 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.app.service import Service
from bot.config import load_settings
from bot.ingest.calendar import EASTERN
from bot.runtime.scheduler import Timing
from bot.store import Store
from bot.store.chats import Subscriptions
from tests.conftest import HISTORY
from tests.fakes.fred import FakeFred
from tests.fakes.telegram import FakeTelegram

RULES = """\
series:
  total_assets: {source: fred, id: WALCL, fresh: 100y}
rules:
  - id: assets_up
    title: Fed total assets rose this week
    when: "change(total_assets, 1) > 0"
"""
CHAT = 4242
FIRST_THURSDAY = date(2026, 10, 15)  # the week after ../shared/data's last H.4.1 row


class RunningClock:
    """The service's clock: `start` plus the wall time elapsed since construction."""

    def __init__(self, start: datetime) -> None:
        self.start, self.began = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


def env_for(fred: FakeFred, telegram: FakeTelegram, tmp: Path, closed: str) -> dict[str, str]:
    return {
        "CYCLEWATCH_DB_URL": f"sqlite:///{tmp / 'bench.db'}",
        "CYCLEWATCH_HTTP_ADDR": "127.0.0.1:0",
        "CYCLEWATCH_RULES": str(tmp / "rules.yaml"),
        "FRED_GRAPH_URL": f"{fred.url}/graph/fredgraph.csv",
        "FRED_RATE_PER_SECOND": "50",
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "FISCALDATA_URL": closed, "FED_FEEDS_URL": closed, "TREASURY_PRESS_URL": closed,
    }


async def run_service(env: dict[str, str], timing: Timing, clock: RunningClock,
                      work: object) -> float:
    settings = load_settings(**env)
    service = Service(settings, timing, rules_path=Path(env["CYCLEWATCH_RULES"]), clock=clock)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.started.wait(), 60)
    for _ in range(1200):  # the first round of polls and its evaluation
        if service.state.evaluations:
            break
        await asyncio.sleep(0.05)
    try:
        return await work(service)  # type: ignore[operator, no-any-return]
    finally:
        service.request_stop()
        await asyncio.wait_for(task, 60)


async def latency(args: argparse.Namespace, fred: FakeFred, tmp: Path) -> list[float]:
    telegram = await FakeTelegram().start()
    closed = "http://127.0.0.1:9"
    env = env_for(fred, telegram, tmp, closed)
    timing = Timing.model_validate({"CYCLEWATCH_RELEASE_POLL_SECONDS": args.interval,
                                    "CYCLEWATCH_DELIVER_SECONDS": 0.5,
                                    "CYCLEWATCH_STOP_GRACE_SECONDS": 2})
    store = Store(env["CYCLEWATCH_DB_URL"])
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", str(CHAT), is_group=False, language_code="en",
                     now=datetime.now(UTC))
    subs.subscribe("telegram", str(CHAT), "all", datetime.now(UTC))
    store.close()

    async def nothing(_service: Service) -> float:
        return 0.0

    # Warm-up on the Tuesday before: the rule's state starts here, so later weeks are news.
    tuesday = datetime.combine(FIRST_THURSDAY - timedelta(days=2), datetime.min.time(), EASTERN)
    await run_service(env, timing, RunningClock(tuesday.replace(hour=12)), nothing)
    rng = random.Random(7)
    results = []
    for k in range(args.trials):
        thursday = FIRST_THURSDAY + timedelta(weeks=k)
        opened = datetime.combine(thursday, datetime.min.time(), EASTERN).replace(hour=16,
                                                                                 minute=31)
        latest = fred.latest("WALCL")
        dates = sorted(latest)
        up = (latest[dates[-1]] or 0) <= (latest[dates[-2]] or 0)  # flip the rule each week
        value = (latest[dates[-1]] or 0) + (5000.0 if up else -5000.0)

        async def publish_and_wait(_service: Service, thursday: date = thursday,
                                   value: float = value) -> float:
            await asyncio.sleep(rng.uniform(0, args.interval))
            before = len(telegram.texts(CHAT))
            started = time.perf_counter()
            fred.publish("WALCL", thursday - timedelta(days=1), value, on=thursday)
            for _ in range(6000):
                if len(telegram.texts(CHAT)) > before:
                    break
                await asyncio.sleep(0.01)
            return time.perf_counter() - started

        seconds = await run_service(env, timing, RunningClock(opened), publish_and_wait)
        results.append(seconds)
        print(f"  week of {thursday}: alert after {seconds:.2f} s", flush=True)
    await telegram.close()
    return results


def rss_kb_of(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


async def idle_rss_mb(fred: FakeFred, tmp: Path, settle: float, *, rules: Path,
                      telegram: bool) -> float:
    """RSS of a `cyclewatch run` subprocess after `settle` seconds (its first polls done)."""
    fake = await FakeTelegram().start()
    env = dict(os.environ, **env_for(fred, fake, tmp, "http://127.0.0.1:9"))
    env.update(CYCLEWATCH_DB_URL=f"sqlite:///{tmp / f'idle-{telegram}.db'}",
               CYCLEWATCH_RULES=str(rules), CYCLEWATCH_HTTP_ADDR="127.0.0.1:0")
    if not telegram:
        del env["TELEGRAM_BOT_TOKEN"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.sleep(settle)
        rss_kb = rss_kb_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 60)
        await fake.close()
    return rss_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--settle", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name, FakeFred(HISTORY).running() as fred:
        tmp = Path(name)
        (tmp / "rules.yaml").write_text(RULES)
        print(f"latency, release-window poll interval {args.interval:g} s:")
        results = asyncio.run(latency(args, fred, tmp))
        worst, mean = max(results), sum(results) / len(results)
        print(f"alert latency: mean {mean:.2f} s, worst {worst:.2f} s over {len(results)} weeks;"
              f" worst / (interval + 2 s) = {worst / (args.interval + 2):.2f} (target ≤ 1)")
        default_rules = Path(__file__).resolve().parents[1] / "rules.yaml"
        for label, rules, telegram in (("bench rule, console only", tmp / "rules.yaml", False),
                                       ("default rules.yaml + Telegram", default_rules, True)):
            rss = asyncio.run(idle_rss_mb(fred, tmp, args.settle, rules=rules,
                                          telegram=telegram))
            print(f"idle RSS ({label}) after {args.settle:g} s: {rss:.0f} MB;"
                  f" / 200 MB = {rss / 200:.2f} (target ≤ 1)")


if __name__ == "__main__":
    main()
