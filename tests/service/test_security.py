"""The running bot refuses forged and replayed Slack requests on its HTTP server, and never
writes a token, key or secret to its log (the whole output is scanned)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.service.conftest import BotProcess

StartBot = Callable[..., BotProcess]
SIGNING = "test-signing-secret-0123456789"
FRED_KEY = "abcdefghijklmnopqrstuvwxyz012345"
TELEGRAM = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-"


def signed(body: str, secret: str = SIGNING, ts: int | None = None) -> dict[str, str]:
    stamp = str(ts if ts is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body) or ""
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"}


async def test_slack_forgery_and_replay_refused_and_no_secret_in_logs(
    bot_env: dict[str, str], start_bot: StartBot
) -> None:
    slack = await FakeSlack().start()
    telegram = await FakeTelegram(token=TELEGRAM).start()
    env = dict(bot_env, SLACK_BOT_TOKEN=slack.bot_token, SLACK_API_URL=slack.base_url,
               SLACK_SIGNING_SECRET=SIGNING, FRED_API_KEY=FRED_KEY,
               TELEGRAM_BOT_TOKEN=TELEGRAM, TELEGRAM_API_URL=telegram.base_url,
               CYCLEWATCH_LOG_LEVEL="DEBUG")
    body = ("command=%2Fcyclewatch&text=help&user_id=U1&channel_id=C1&team_id=T1"
            "&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr")
    try:
        bot = start_bot(env)
        url = f"http://{await asyncio.to_thread(bot.http_addr, 60)}/slack/commands"
        async with aiohttp.ClientSession() as session:
            headers = signed(body)
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200, await response.text()
                assert "regime" in await response.text()  # the help lists the commands
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 401  # the same signed request again: a replay
            forged = signed(body, secret="not-the-secret")
            async with session.post(url, data=body, headers=forged) as response:
                assert response.status == 401
            stale = signed(body, ts=int(time.time()) - 600)
            async with session.post(url, data=body, headers=stale) as response:
                assert response.status == 401
        await asyncio.to_thread(bot.wait_for, "FRED unreachable", 60)
        assert await asyncio.to_thread(bot.stop) == 0
    finally:
        await slack.close()
        await telegram.close()
    output = "\n".join(bot.output())
    for secret in (SIGNING, FRED_KEY, TELEGRAM, slack.bot_token, TELEGRAM.split(":")[1]):
        assert secret not in output, secret
    assert "DEBUG" in output  # the scan covered the most verbose level
