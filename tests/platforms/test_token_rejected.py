"""A chat token the platform refuses (Telegram 401, Slack invalid_auth) is one ERROR line
naming the variable, a slow retry, and /healthz degraded naming the platform."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app.chatside import ChatSide
from bot.app.health import HealthLimits, ServiceState, check_health
from bot.config import Settings
from bot.runtime.metrics import Metrics
from bot.store import Store
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import until

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
WRONG = "999999:" + "W" * 35  # the right shape, not the fake's token
RETRY = 0.3  # seconds between retries of a refused token (10 minutes in the service)
NONE: dict[str, Any] = {"telegram_bot_token": None, "slack_bot_token": None,
                        "slack_app_token": None, "webhook_url": None, "admins": []}


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()



def _chat(store: Store, **values: Any) -> ChatSide:
    settings = Settings(_env_file=None, **{**NONE, **values})  # type: ignore[call-arg]
    chat = ChatSide(settings, store, Metrics(), lambda: NOW, token_retry_seconds=RETRY)
    chat.build_front_ends()
    return chat


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_refused_telegram_token_is_one_line_a_slow_retry_and_unhealthy(
    fake_telegram: FakeTelegram, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = _chat(store, telegram_bot_token=WRONG, telegram_api_url=fake_telegram.base_url)
    try:
        await chat.start(leader=True)
        assert chat.down == {"telegram": "token rejected (TELEGRAM_BOT_TOKEN)"}
        assert "telegram DOWN" in chat.describe()  # the start line does not claim it is up
        asked = fake_telegram.rejected
        for _ in range(20):  # the leader check runs every few seconds: it must not retry
            await chat.on_leadership(True)
        assert fake_telegram.rejected == asked
        await until(lambda: fake_telegram.rejected >= asked + 2, seconds=30)  # slow retries
        errors = _errors(caplog)
        assert len(errors) == 1 and errors[0].startswith(
            "TELEGRAM_BOT_TOKEN was rejected by Telegram"), errors
        assert WRONG not in caplog.text

        state = ServiceState(started_at=NOW, last_evaluation_at=NOW)
        state.platforms_down = chat.down
        health = check_health(store, state, HealthLimits(), NOW)
        assert not health.ok
        assert health.body["problems"] == [
            "platform telegram down: token rejected (TELEGRAM_BOT_TOKEN)"]

        fake_telegram.token = WRONG  # the setting was fixed (here: the server now agrees)
        await until(lambda: not chat.down, seconds=30)
        await until(lambda: fake_telegram.polls > 0, seconds=30)  # polling runs again
        assert check_health(store, state, HealthLimits(), NOW).ok
    finally:
        await chat.stop()


async def test_a_telegram_token_revoked_while_polling_turns_the_platform_down(
    fake_telegram: FakeTelegram, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = _chat(store, telegram_bot_token=fake_telegram.token,
                 telegram_api_url=fake_telegram.base_url)
    try:
        await chat.start(leader=True)
        assert chat.down == {}
        await until(lambda: fake_telegram.polls > 0)
        fake_telegram.token = WRONG  # revoked in BotFather
        fake_telegram.push_update({})  # ends the long poll in flight: the next one is refused
        await until(lambda: "telegram" in chat.down, seconds=60)
        await asyncio.sleep(3 * RETRY)  # a few refused retries: still the one line
        errors = _errors(caplog)
        assert len(errors) == 1 and "TELEGRAM_BOT_TOKEN was rejected by Telegram" in errors[0]
        assert "Traceback" not in caplog.text
    finally:
        await chat.stop()


@pytest.mark.parametrize(("variable", "wrong"), [
    ("SLACK_BOT_TOKEN", {"slack_bot_token": "xoxb-not-the-one"}),
    ("SLACK_APP_TOKEN", {"slack_app_token": "xapp-not-the-one"}),
])
async def test_a_refused_slack_token_names_its_variable(
    fake_slack: FakeSlack, store: Store, caplog: pytest.LogCaptureFixture,
    variable: str, wrong: dict[str, str],
) -> None:
    right = {"slack_bot_token": fake_slack.bot_token, "slack_app_token": fake_slack.app_token}
    chat = _chat(store, slack_api_url=fake_slack.base_url, **{**right, **wrong})
    try:
        await chat.start(leader=False)  # Slack's front end runs in every process
        assert chat.down == {"slack": f"token rejected ({variable})"}
        await asyncio.sleep(3 * RETRY)
        errors = _errors(caplog)
        assert len(errors) == 1 and errors[0].startswith(f"{variable} was rejected by Slack")
        assert "not-the-one" not in caplog.text
    finally:
        await chat.stop()
