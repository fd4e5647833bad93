"""Three `cyclewatch run` processes on one PostgreSQL: one leader evaluates, all deliver;
every alert reaches every subscriber once; kill -9 the leader, another takes over, nothing
is lost. The series is plainly synthetic (TESTX)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from bot.store import Store
from bot.store.schema import outbox
from tests.fakes.telegram import FakeTelegram
from tests.service.conftest import BotProcess
from tests.service.seeding import TESTX_RULES, seed_subscribers

pytestmark = pytest.mark.postgres
StartBot = Callable[..., BotProcess]
CHATS = [str(1000 + i) for i in range(150)]
RULES = TESTX_RULES


def write_series(path: Path, values: list[float]) -> None:
    dates = pd.date_range(start="2026-10-01", periods=len(values), freq="7D")
    rows = "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True))
    path.write_text("observation_date,TESTX\n" + rows)
    stamp = time.time() + len(values)
    os.utime(path, (stamp, stamp))


def health(addr: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://{addr}/healthz", timeout=5) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        body = err.read()
    except OSError:
        return {}
    report: dict[str, Any] = json.loads(body)
    return report


async def until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.1)):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def polls_started(telegram: FakeTelegram) -> int:
    """How many Telegram pollers started (PTB calls deleteWebhook before its first poll)."""
    return sum(method == "deleteWebhook" for method, _ in telegram.calls)


def claimers(pg_url: str) -> set[str]:
    store = Store(pg_url, migrate=False)
    with store.engine.connect() as conn:
        found = {r[0] for r in conn.execute(sa.select(outbox.c.claimed_by).distinct())}
    store.close()
    return found


async def test_three_processes_deliver_once_and_survive_the_leader(
    pg_url: str, tmp_path: Path, bot_env: dict[str, str], start_bot: StartBot
) -> None:
    telegram = await FakeTelegram(enforce_limits=False).start()
    data = tmp_path / "data"
    data.mkdir()
    write_series(data / "TESTX.csv", [1, 2, 3])
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    seed_subscribers(pg_url, "telegram", CHATS, RULES)
    env = dict(bot_env, CYCLEWATCH_DB_URL=pg_url, CYCLEWATCH_RULES=str(rules),
               CYCLEWATCH_POLL_SECONDS="0.5", CYCLEWATCH_DELIVER_SECONDS="0.3",
               CYCLEWATCH_LEADER_CHECK_SECONDS="1", TELEGRAM_BOT_TOKEN=telegram.token,
               TELEGRAM_API_URL=telegram.base_url)
    bots = {}
    try:
        started = [start_bot(env, "--data", str(data)) for _ in range(3)]
        for bot in started:  # each on a port of its own, as its first line says
            bots[await asyncio.to_thread(bot.http_addr, 90)] = bot
        leaders = [a for a in bots if health(a).get("leader")]
        assert len(leaders) == 1, leaders
        leader = leaders[0]
        # Telegram gives updates to one poller per bot: only the leader polls.
        await until(lambda: polls_started(telegram) == 1, "the leader's Telegram polling")
        await until(lambda: health(leader)["evaluation"]["runs"] > 0, "a first evaluation")

        write_series(data / "TESTX.csv", [1, 2, 3, 20, 30])  # crosses on 2026-10-22
        await until(lambda: all(len(telegram.texts(c)) == 1 for c in CHATS), "alert 1 to all")
        assert len(claimers(pg_url)) >= 2  # the followers delivered too
        assert telegram.photos(CHATS[0])  # the alert came with its chart

        bots[leader].proc.kill()  # kill -9: no clean stop, no unlock
        killed_at = time.monotonic()
        rest = [a for a in bots if a != leader]
        await until(lambda: any(health(a).get("leader") for a in rest), "a new leader", 30)
        assert time.monotonic() - killed_at < 30
        await until(lambda: polls_started(telegram) == 2, "the new leader's Telegram polling")

        write_series(data / "TESTX.csv", [1, 2, 3, 20, 30, 5])  # resolves on 2026-11-05
        await until(lambda: all(len(telegram.texts(c)) == 2 for c in CHATS), "alert 2 to all")
        await asyncio.sleep(1.0)  # a few more delivery rounds: no repeats
        assert all(len(telegram.texts(c)) == 2 for c in CHATS)
        for addr in rest:
            assert await asyncio.to_thread(bots[addr].stop) == 0
    finally:
        await telegram.close()
