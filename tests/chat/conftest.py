"""Fixtures for chat commands, the pipeline and the outbox: a fake clock; the real rules and
history come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.chat.commands import CommandContext
from bot.chat.ratelimit import TokenBucket
from bot.chat.types import Caller
from bot.evaluate.insight import Insight
from bot.store import Store
from tests.conftest import sqlite_store


@dataclass
class FakeClock:
    """A settable clock: `clock()` gives aware UTC time, `monotonic()` seconds for buckets."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def history_data(files_history: Mapping[str, pd.Series]) -> Mapping[str, pd.Series]:
    """The session's one read of the real history without the csv series (tests/conftest.py),
    by its older name."""
    return files_history


@pytest.fixture
def clock() -> FakeClock:
    """Time stands still until a test advances it."""
    return FakeClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))


@pytest.fixture
def chat_store(sqlite_url: str, migrated_sqlite: Path) -> Iterator[Store]:
    """A migrated SQLite store for command tests."""
    s = sqlite_store(sqlite_url, migrated_sqlite)
    yield s
    s.close()


@pytest.fixture
def ctx(chat_store: Store, clock: FakeClock, files_insight: Insight) -> CommandContext:
    """Commands over the real rules and history, with charts off (tested separately)."""
    return CommandContext(
        store=chat_store,
        clock=clock,
        insight=files_insight,
        admins=frozenset({"boss"}),
        limiter=TokenBucket(capacity=1000, per_second=100, clock=clock.monotonic),
        charts=False,
    )


def private(chat_id: str = "100", lang: str | None = "en") -> Caller:
    """A user talking to the bot directly."""
    return Caller("telegram", chat_id, f"u{chat_id}", language_code=lang)


def group_member(chat_id: str = "-200", user: str = "u7", admin: bool = False) -> Caller:
    """Someone in a group chat (an admin of it when `admin`)."""
    return Caller("telegram", chat_id, user, is_group=True, is_chat_admin=admin)
