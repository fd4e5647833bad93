"""End to end through the real clients: chat platforms -> front ends -> bot.chat.commands (real
rules over the real history) -> replies with checklist and chart, in the chat's language."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.chat.types import Caller, Reply
from bot.platforms.slack.frontend import SlackFrontEnd
from bot.platforms.slack.notifier import slack_client
from bot.platforms.telegram.frontend import TelegramFrontEnd, build_application
from tests.fakes.slack import FakeSlack, block_text
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import until

Handler = Callable[[Caller, str], Awaitable[Reply]]
# DESIGN.md §2: the regime ids, finer labels included; on this stale data "now" is undetermined.
REGIMES = ("easing_into_bubble", "easing_into_downturn", "tightening_into_bubble",
           "tightening_into_downturn", "neutral", "undetermined", "holding_into_bubble",
           "holding_into_downturn", "easing_mixed", "tightening_mixed")
CJK = re.compile(r"[\u4e00-\u9fff]")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECRET = "signing-secret-for-tests"


@pytest.fixture
async def telegram_front(
    fake_telegram: FakeTelegram, commands_handler: Handler
) -> AsyncIterator[TelegramFrontEnd]:
    front = TelegramFrontEnd(build_application(fake_telegram.token, fake_telegram.base_url),
                             commands_handler)
    await front.start()
    yield front
    await front.stop()


def _regime_named(text: str) -> bool:
    """The answer names a regime in words (en or zh), never by its id."""
    from bot.chat.views import regime_name

    named = any(f"{colon}{regime_name(r, lang)}" in text for r in REGIMES
                for lang, colon in (("en", ": "), ("zh", ":")))
    return named and not any(f"({r})" in text for r in REGIMES)


async def _reply_of(fake: FakeTelegram, chat: int, count: int) -> list[str]:
    await until(lambda: len(fake.messages.get(str(chat), [])) >= count, seconds=60)
    return [m["shown"] for m in fake.messages[str(chat)]]


async def test_telegram_regime_answers_checklist_and_chart(
    fake_telegram: FakeTelegram, telegram_front: TelegramFrontEnd
) -> None:
    fake_telegram.push_message(801, "/regime")
    await until(lambda: bool(fake_telegram.photos(801)), seconds=60)
    shown = "\n".join(await _reply_of(fake_telegram, 801, 2))
    assert _regime_named(shown)
    assert "Milestones" in shown and "Quantitative tightening has ended" in shown
    assert fake_telegram.photos(801)[0]["photo"].startswith(PNG_MAGIC)


async def test_telegram_lang_zh_gets_chinese_while_another_chat_stays_english(
    fake_telegram: FakeTelegram, telegram_front: TelegramFrontEnd
) -> None:
    fake_telegram.push_message(802, "/lang zh")
    await _reply_of(fake_telegram, 802, 1)
    fake_telegram.push_message(802, "/regime")
    fake_telegram.push_message(803, "/regime")
    await until(lambda: bool(fake_telegram.photos(802)) and bool(fake_telegram.photos(803)),
                seconds=60)

    def joined(chat: str, skip: int = 0) -> str:
        return "\n".join(m["shown"] for m in fake_telegram.messages[chat][skip:])

    # the checklist continues in a text message after the photo's caption
    await until(lambda: "Milestones" in joined("803") and "里程碑" in joined("802", 1))
    chinese, english = joined("802", 1), joined("803")
    assert CJK.search(chinese) and "里程碑" in chinese and _regime_named(chinese)
    assert not CJK.search(english) and "Milestones" in english


async def test_telegram_subscribe_in_group_needs_an_admin(
    fake_telegram: FakeTelegram, telegram_front: TelegramFrontEnd
) -> None:
    fake_telegram.admins["-100900"] = {"5"}
    fake_telegram.push_message(-100900, "/subscribe all", user_id=6, chat_type="supergroup")
    refused = await _reply_of(fake_telegram, -100900, 1)
    fake_telegram.push_message(-100900, "/subscribe all", user_id=5, chat_type="supergroup")
    accepted = await _reply_of(fake_telegram, -100900, 2)
    assert refused[0] != accepted[1]
    assert "admin" in refused[0].lower()



async def test_slack_regime_over_socket_mode(fake_slack: FakeSlack, commands_handler: Handler
                                             ) -> None:
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url),
                          commands_handler, app_token=fake_slack.app_token)
    await front.start()
    try:
        envelope = fake_slack.send_envelope("slash_commands", {
            "command": "/cyclewatch", "text": "regime", "channel_id": "C1", "user_id": "U1"})
        async with asyncio.timeout(3):
            ack = await fake_slack.wait_ack(envelope)
        await until(lambda: bool(fake_slack.files.get("C1")), seconds=60)
    finally:
        await front.stop()
    text = block_text(ack["payload"])
    assert _regime_named(text) and "Milestones" in text
    assert fake_slack.files["C1"][0]["data"].startswith(PNG_MAGIC)


async def test_slack_regime_shortcut_over_signed_http(
    fake_slack: FakeSlack, commands_handler: Handler
) -> None:
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url),
                          commands_handler, signing_secret=SECRET)
    app = web.Application()
    app.router.add_post("/slack/commands", front.handle_http)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    body = urlencode({"command": "/regime", "text": "", "channel_id": "C2", "user_id": "U2"})
    ts = str(int(time.time()))
    good = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body) or ""
    try:
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/slack/commands"
            headers = {"X-Slack-Request-Timestamp": ts,
                       "Content-Type": "application/x-www-form-urlencoded"}
            forged = await client.post(url, content=body, headers={
                **headers, "X-Slack-Signature": "v0=" + "f" * 64})
            answered = await client.post(url, content=body, headers={
                **headers, "X-Slack-Signature": good})
        await until(lambda: bool(fake_slack.files.get("C2")), seconds=60)
    finally:
        await front.stop()
        await runner.cleanup()
    assert forged.status_code == 401 and answered.status_code == 200
    text = block_text(answered.json())
    assert _regime_named(text) and "Milestones" in text
