"""Quiet hours end to end: the service in-process on an injected clock, the wire-level fake
Telegram in front of the real python-telegram-bot. An FOMC cut at 2:00 pm New York time is
02:00 in Shanghai: `hold` sends nothing then and one message at 07:00 saying what happened at
02:00; `silent` sends it at 02:00 with disable_notification. Then kill -9 inside a hold window:
nothing lost, nothing twice. The policy-rate series is plainly synthetic.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

from bot.app.service import Service
from bot.config import load_settings
from bot.runtime.scheduler import Timing
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.quiet import QuietHours
from bot.store.schema import events, outbox
from tests.fakes.telegram import FakeTelegram
from tests.service.conftest import BotProcess
from tests.service.seeding import TESTX_RULES, seed_subscribers

RULES = """\
series:
  fed_upper: {source: fred, id: DFEDTARU, fresh: 100y}
rules:
  - id: rate_cut
    title: {en: The Fed cut its policy rate, zh: 美联储降息}
    when: "change(fed_upper, 1) < 0"
    announce_resolved: false
"""
CHAT = 501
BEFORE = datetime(2026, 6, 16, 17, 0, tzinfo=UTC)  # the day before, 01:00 in Shanghai
DECISION = datetime(2026, 6, 17, 18, 0, tzinfo=UTC)  # 2:00 pm EDT = 02:00 CST, Jun 18
WINDOW_END = datetime(2026, 6, 17, 23, 0, tzinfo=UTC)  # 07:00 CST


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_rates(path: Path, values: list[float], last: str = "2026-06-17") -> None:
    """Daily target-range tops ending on `last` (the decision day); a newer mtime each time."""
    days = pd.date_range(end=last, periods=len(values), freq="D")
    path.write_text("observation_date,DFEDTARU\n"
                    + "".join(f"{d.date()},{v}\n" for d, v in zip(days, values, strict=True)))
    stamp = time.time() + len(values)
    os.utime(path, (stamp, stamp))


async def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(db_url: str) -> list[Any]:
    store = Store(db_url, migrate=False)
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(sa.select(outbox.c.status, outbox.c.next_attempt_at,
                                               outbox.c.held)
                                     .join(events, events.c.id == outbox.c.event_id)
                                     .where(events.c.rule_id == "rate_cut")).all())
    finally:
        store.close()


@asynccontextmanager
async def service_with(tmp_path: Path, telegram: FakeTelegram,
                       clock: Clock) -> AsyncIterator[tuple[Service, str, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    write_rates(data / "DFEDTARU.csv", [4.5] * 8, last="2026-06-16")  # before the decision
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    settings = load_settings(CYCLEWATCH_DB_URL=db_url, CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
                             TELEGRAM_BOT_TOKEN=telegram.token,
                             TELEGRAM_API_URL=telegram.base_url)
    timing = Timing.model_validate({"CYCLEWATCH_POLL_SECONDS": 0.3,
                                    "CYCLEWATCH_DELIVER_SECONDS": 0.2})
    service = Service(settings, timing, data_dir=data, rules_path=rules, clock=clock)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), timeout=30)
        await until(lambda: service.state.last_evaluation_at is not None, "an evaluation")
        yield service, db_url, data
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, timeout=30) == 0


async def tell(telegram: FakeTelegram, line: str) -> str:
    before = len(telegram.texts(CHAT))
    telegram.push_message(CHAT, line, language_code="zh-hans")
    await until(lambda: len(telegram.texts(CHAT)) > before, f"the answer to {line}")
    return telegram.texts(CHAT)[-1]


def alert_sends(telegram: FakeTelegram) -> list[dict[str, object]]:
    return [params for method, params in telegram.calls
            if method in ("sendMessage", "sendPhoto") and str(params.get("chat_id")) == str(CHAT)
            and "美联储降息" in str(params.get("text") or params.get("caption") or "")]


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.close()


async def test_hold_sends_nothing_at_2am_and_one_digest_at_7(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    clock = Clock(BEFORE)
    async with service_with(tmp_path, telegram, clock) as (_service, db_url, data):
        assert "Asia/Shanghai" in await tell(telegram, "/tz Asia/Shanghai")
        assert "07:00" in await tell(telegram, "/quiet 23:00-07:00 hold")
        await tell(telegram, "/subscribe rate_cut")
        answered = len(telegram.texts(CHAT))

        clock.now = DECISION
        write_rates(data / "DFEDTARU.csv", [4.5] * 8 + [4.25])  # the cut, published at 02:00
        await until(lambda: bool(rows(db_url)), "the alert's outbox row")
        [(status, due, held)] = rows(db_url)
        assert (status, held) == ("pending", True)
        assert due.replace(tzinfo=UTC) == WINDOW_END  # a later due time, not a second path
        await asyncio.sleep(1.5)  # several delivery rounds inside the window
        assert len(telegram.texts(CHAT)) == answered and not alert_sends(telegram)

        clock.now = WINDOW_END
        await until(lambda: bool(alert_sends(telegram)), "the digest at 07:00")
        await asyncio.sleep(1.0)
    [digest] = [m for m in telegram.messages[str(CHAT)][answered:]
                if "美联储降息" in m["shown"]]
    assert "02:00" in digest["shown"] and "Asia/Shanghai" in digest["shown"]
    assert "免打扰" in digest["shown"]
    assert len(alert_sends(telegram)) == 1
    assert [r.status for r in rows(db_url)] == ["sent"]


async def test_silent_sends_at_2am_without_ringing(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    clock = Clock(BEFORE)
    async with service_with(tmp_path, telegram, clock) as (_service, db_url, data):
        await tell(telegram, "/tz Asia/Shanghai")
        await tell(telegram, "/quiet 23:00-07:00 silent")
        await tell(telegram, "/subscribe rate_cut")
        clock.now = DECISION
        write_rates(data / "DFEDTARU.csv", [4.5] * 8 + [4.25])
        await until(lambda: bool(alert_sends(telegram)), "the alert at 02:00")
        await until(lambda: [r.status for r in rows(db_url)] == ["sent"], "its delivery")
    sends = alert_sends(telegram)
    assert sends and all(str(p.get("disable_notification")).lower() == "true" for p in sends)


# ---- kill -9 inside a hold window (the service as a process, on the real clock) ---------------
# The window is hours long, so the kills are inside it however slow this machine is; the
# window's end on the clock is the in-process tests' above (and tests/chat/test_quiet_window.py
# to the minute). Here the chats move their window off instead (/quiet does that), which
# makes the held rows due at once, as the window's end would.

def write_testx(path: Path, values: list[float]) -> None:
    dates = pd.date_range(start="2026-10-01", periods=len(values), freq="7D")
    path.write_text("observation_date,TESTX\n"
                    + "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True)))
    stamp = time.time() + len(values)
    os.utime(path, (stamp, stamp))


def held_rows(db_url: str) -> list[tuple[str, str, bool, datetime]]:
    store = Store(db_url, migrate=False)
    try:
        with store.engine.connect() as conn:
            return [(r.chat_id, r.status, r.held, r.next_attempt_at) for r in conn.execute(
                sa.select(outbox.c.chat_id, outbox.c.status, outbox.c.held,
                          outbox.c.next_attempt_at).order_by(outbox.c.id))]
    finally:
        store.close()


def set_quiet(db_url: str, chats: list[str], quiet: QuietHours) -> int:
    store = Store(db_url, migrate=False)
    try:
        subs = Subscriptions(store.engine)
        return sum(subs.set_quiet("telegram", chat, quiet, datetime.now(UTC)) for chat in chats)
    finally:
        store.close()


@pytest.mark.slow
async def test_kill_9_inside_a_hold_window_loses_nothing_and_repeats_nothing(
    tmp_path: Path, bot_env: dict[str, str], start_bot: Callable[..., BotProcess]
) -> None:
    telegram = await FakeTelegram().start()
    chats = [str(600 + i) for i in range(5)]
    db_url = bot_env["CYCLEWATCH_DB_URL"]
    seed_subscribers(db_url, "telegram", chats, TESTX_RULES)
    # A window in UTC from an hour ago to three hours on: every kill below is inside it.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    quiet = QuietHours((now - timedelta(hours=1)).time(), (now + timedelta(hours=3)).time(), "hold")
    end = quiet.ends_after(now, ZoneInfo("UTC"))
    store = Store(db_url, migrate=False)
    subs = Subscriptions(store.engine)
    for chat in chats:
        subs.set_zone("telegram", chat, "UTC")
    store.close()
    assert set_quiet(db_url, chats, quiet) == 0  # nothing held yet
    data = tmp_path / "data"
    data.mkdir()
    write_testx(data / "TESTX.csv", [1, 2, 3, 20])  # crosses the line: one event, five rows
    rules = tmp_path / "rules.yaml"
    rules.write_text(TESTX_RULES)
    env = dict(bot_env, CYCLEWATCH_RULES=str(rules), TELEGRAM_BOT_TOKEN=telegram.token,
               TELEGRAM_API_URL=telegram.base_url, CYCLEWATCH_POLL_SECONDS="0.3",
               CYCLEWATCH_DELIVER_SECONDS="0.2")
    try:
        for _ in range(2):  # held, killed, started again, killed again: still inside the window
            bot = start_bot(env, "--data", str(data))
            for _ in range(600):
                if len(held_rows(db_url)) == len(chats) or bot.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # a few delivery rounds over the held rows
            bot.kill()
            assert [(c, s, h, due.replace(tzinfo=UTC)) for c, s, h, due in held_rows(db_url)] \
                == [(c, "pending", True, end) for c in chats]  # held until the window's end
            assert not any(m == "sendMessage" or m == "sendPhoto" for m, _ in telegram.calls)
        later = QuietHours((now + timedelta(hours=4)).time(), (now + timedelta(hours=5)).time(),
                           "hold")
        assert set_quiet(db_url, chats, later) == len(chats)  # the window is over: due now
        bot = start_bot(env, "--data", str(data))
        await asyncio.to_thread(bot.wait_for, "cyclewatch running", 60)
        for _ in range(600):
            if all(status == "sent" for _, status, _, _ in held_rows(db_url)):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # more delivery rounds: nothing again
        assert await asyncio.to_thread(bot.stop) == 0
    finally:
        await telegram.close()
    sends = [str(p["chat_id"]) for m, p in telegram.calls if m in ("sendMessage", "sendPhoto")]
    assert sorted(sends) == sorted(chats)  # every chat once, after the window
    assert [s for _, s, _, _ in held_rows(db_url)] == ["sent"] * len(chats)
