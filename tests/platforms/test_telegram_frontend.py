"""The Telegram front end (PTB Application) against the fake: polling, buttons, webhook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.platforms.telegram.frontend import TelegramFrontEnd, build_application, command_line
from bot.platforms.telegram.notifier import TelegramRateLimiter
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import FAST, Recorder, until


@pytest.fixture
async def polling(fake_telegram: FakeTelegram) -> AsyncIterator[tuple[TelegramFrontEnd, Recorder]]:
    recorder = Recorder(chart=b"\x89PNG-chart")
    front = TelegramFrontEnd(build_application(fake_telegram.token, fake_telegram.base_url),
                             recorder, limiter=TelegramRateLimiter(scale=FAST))
    await front.start()
    yield front, recorder
    await front.stop()


def test_command_line_strips_own_mention_only() -> None:
    assert command_line("/regime@cwbot  2024-01-05", "cwbot") == "/regime 2024-01-05"
    assert command_line("/regime@otherbot", "cwbot") == "/regime@otherbot"
    assert command_line("/help", "cwbot") == "/help"


async def test_command_reaches_handler_and_reply_arrives_with_chart(
    fake_telegram: FakeTelegram, polling: tuple[TelegramFrontEnd, Recorder]
) -> None:
    _, recorder = polling
    fake_telegram.push_message(501, "/regime@cwbot 2024-01-05", language_code="zh")
    await until(lambda: bool(fake_telegram.messages.get("501")))
    [(caller, text)] = recorder.calls
    assert text == "/regime 2024-01-05"
    assert (caller.platform, caller.chat_id, caller.user_id) == ("telegram", "501", "501")
    assert caller.language_code == "zh" and not caller.is_group
    [photo] = fake_telegram.messages["501"]
    assert photo["method"] == "sendPhoto" and photo["photo"] == b"\x89PNG-chart"
    assert photo["shown"] == "ok </regime 2024-01-05>"  # escaped, shown literally
    assert photo["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/mute qt_ends 7d"


async def test_group_admin_is_looked_up_once_and_cached(
    fake_telegram: FakeTelegram, polling: tuple[TelegramFrontEnd, Recorder]
) -> None:
    _, recorder = polling
    fake_telegram.admins["-1001"] = {"77"}
    for text in ("/subscribe all", "/unsubscribe"):
        fake_telegram.push_message(-1001, text, user_id=77, chat_type="supergroup")
    fake_telegram.push_message(-1001, "/subscribe all", user_id=78, chat_type="supergroup")
    await until(lambda: len(recorder.calls) == 3)
    admin_flags = {(c.user_id, c.is_chat_admin) for c, _ in recorder.calls}
    assert admin_flags == {("77", True), ("78", False)}
    assert all(c.is_group for c, _ in recorder.calls)
    lookups = [p for m, p in fake_telegram.calls if m == "getChatMember"]
    assert len(lookups) == 2


async def test_button_press_is_answered_and_handled(
    fake_telegram: FakeTelegram, polling: tuple[TelegramFrontEnd, Recorder]
) -> None:
    _, recorder = polling
    fake_telegram.push_callback(502, "/mute qt_ends 7d")
    await until(lambda: bool(fake_telegram.messages.get("502")))
    assert [t for _, t in recorder.calls] == ["/mute qt_ends 7d"]
    assert len(fake_telegram.callback_answers) == 1


async def test_plain_text_is_ignored(
    fake_telegram: FakeTelegram, polling: tuple[TelegramFrontEnd, Recorder]
) -> None:
    _, recorder = polling
    fake_telegram.push_message(503, "hello bot")
    fake_telegram.push_message(503, "/help")
    await until(lambda: bool(fake_telegram.messages.get("503")))
    assert [t for _, t in recorder.calls] == ["/help"]


async def test_webhook_accepts_the_secret_and_refuses_others(
    fake_telegram: FakeTelegram,
) -> None:
    recorder = Recorder()
    front = TelegramFrontEnd(
        build_application(fake_telegram.token, fake_telegram.base_url), recorder,
        webhook_url="https://bot.example/tg/hook-path", webhook_secret="s3cret",
        webhook_listen=("127.0.0.1", 0))  # the system picks the port: no bind-release race
    await front.start()
    try:
        assert fake_telegram.webhook["secret_token"] == "s3cret"
        assert fake_telegram.webhook["url"] == "https://bot.example/tg/hook-path"
        update = fake_telegram.push_message(504, "/status")
        url = f"http://127.0.0.1:{front.webhook_port}/tg/hook-path"
        async with httpx.AsyncClient() as client:
            bad = await client.post(url, json=update, headers={
                "X-Telegram-Bot-Api-Secret-Token": "wrong"})
            missing = await client.post(url, json=update)
            good = await client.post(url, json=update, headers={
                "X-Telegram-Bot-Api-Secret-Token": "s3cret"})
        assert (bad.status_code, missing.status_code, good.status_code) == (403, 403, 200)
        await until(lambda: bool(fake_telegram.messages.get("504")))
        assert [t for _, t in recorder.calls] == ["/status"]
    finally:
        await front.stop()


def test_webhook_without_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="SECRET"):
        TelegramFrontEnd(build_application("1:x", "http://127.0.0.1:9/bot"), Recorder(),
                         webhook_url="https://bot.example/hook")


async def test_channel_post_counts_as_admin_and_edits_do_not_rerun(
    fake_telegram: FakeTelegram, polling: tuple[TelegramFrontEnd, Recorder]
) -> None:
    _, recorder = polling
    channel = {"id": -100777, "type": "channel", "title": "Macro"}
    command = [{"offset": 0, "length": 10, "type": "bot_command"}]
    fake_telegram.push_update({"channel_post": {
        "message_id": 3, "date": 0, "chat": channel, "text": "/subscribe all",
        "entities": command}})
    fake_telegram.push_update({"edited_message": {
        "message_id": 4, "date": 0, "edit_date": 1, "chat": {"id": 505, "type": "private"},
        "from": {"id": 505, "is_bot": False, "first_name": "U"}, "text": "/subscribe all",
        "entities": command}})
    fake_telegram.push_message(505, "/help")
    await until(lambda: len(recorder.calls) == 2 and "505" in fake_telegram.messages)
    await asyncio.sleep(0.2)  # time for a wrongly handled edit to show up
    [(caller, text), (_, second)] = sorted(recorder.calls, key=lambda c: c[0].chat_id)
    assert (caller.chat_id, caller.is_group, caller.is_chat_admin) == ("-100777", True, True)
    assert text == "/subscribe all" and second == "/help"
