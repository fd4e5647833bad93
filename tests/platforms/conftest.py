"""Fixtures for the Telegram and Slack front ends and notifiers: fakes on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.chat.commands import CommandContext, handle
from bot.chat.ratelimit import TokenBucket
from bot.chat.types import Caller, Reply
from bot.evaluate.insight import Insight
from bot.notifiers.base import Button
from bot.platforms.telegram.notifier import TelegramNotifier, TelegramRateLimiter
from bot.store import Store
from tests.conftest import sqlite_store
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

FAST = 10.0  # time compression for rate limits in functional tests (more invites jitter 429s)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1."""
    fake = await FakeSlack().start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A fake Bot API enforcing flood limits, time-compressed so tests stay fast."""
    fake = await FakeTelegram(time_scale=FAST).start()
    yield fake
    await fake.close()


@pytest.fixture
async def telegram_notifier(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramNotifier]:
    """The real notifier (real PTB Bot over HTTP) pointed at the fake."""
    bot = Bot(fake_telegram.token, base_url=fake_telegram.base_url,
              request=HTTPXRequest(connection_pool_size=16))
    notifier = TelegramNotifier(bot, limiter=TelegramRateLimiter(scale=FAST))
    yield notifier
    await notifier.close()


async def until(predicate: Callable[[], bool], seconds: float = 60.0) -> None:
    """Wait (polling) until `predicate()` holds; fail the test after `seconds` (a deadline for
    a test that went wrong, generous for a busy machine: a passing test never waits for it)."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - the fakes have no event for every condition
            await asyncio.sleep(0.02)


class Recorder:
    """A command handler for front-end tests: records (caller, text), answers from a script."""

    def __init__(self, chart: bytes | None = None, text: str = "ok") -> None:
        self.calls: list[tuple[Caller, str]] = []
        self.chart, self.text = chart, text

    async def __call__(self, caller: Caller, text: str) -> Reply:
        self.calls.append((caller, text))
        return Reply(text=f"{self.text} <{text}>", chart_png=self.chart,
                     buttons=(Button("Mute 7d", "/mute qt_ends 7d"),))


# ---- the real chat core (bot.chat.commands) over the session's rules and history -----------

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def platform_store(sqlite_url: str, migrated_sqlite: Path) -> Iterator[Store]:
    """A migrated SQLite store for one test."""
    store = sqlite_store(sqlite_url, migrated_sqlite)
    yield store
    store.close()


@pytest.fixture
def command_ctx(platform_store: Store, files_insight: Insight) -> CommandContext:
    """bot.chat.commands over the real history, charts on, a generous per-user rate limit."""
    return CommandContext(
        store=platform_store, clock=lambda: NOW, insight=files_insight,
        limiter=TokenBucket(capacity=1000, per_second=100), charts=True,
    )


@pytest.fixture
def commands_handler(command_ctx: CommandContext) -> Callable[[Caller, str], Awaitable[Reply]]:
    """What the service hands the front ends: handle() bound to its context."""
    return functools.partial(handle, command_ctx)
