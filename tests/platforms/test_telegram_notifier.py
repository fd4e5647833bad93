"""The Telegram notifier through real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot

from bot.notifiers.base import Button, DeliveryError, Message
from bot.platforms.telegram.notifier import TelegramNotifier, TelegramRateLimiter
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import FAST

PNG = b"\x89PNG\r\n\x1a\nchart"
MUTE = (Button("Mute 1d", "/mute qt_ends 1d"), Button("Mute 7d", "/mute qt_ends 7d"),
        Button("Why?", "/why qt_ends"))


async def test_alert_is_escaped_html_with_buttons(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    sent = await telegram_notifier.send(
        "42", Message("QT <ends> & more", "Holdings rose 0.3% <week>", buttons=MUTE))
    [recorded] = fake_telegram.messages["42"]
    assert sent.message_ids == (str(recorded["message_id"]),)
    assert recorded["parse_mode"] == "HTML"
    assert recorded["shown"] == "QT <ends> & more\n\nHoldings rose 0.3% <week>"
    assert recorded["text"].startswith("<b>QT &lt;ends&gt; &amp; more</b>")
    data = [b["callback_data"] for b in recorded["reply_markup"]["inline_keyboard"][0]]
    assert data == ["/mute qt_ends 1d", "/mute qt_ends 7d", "/why qt_ends"]


async def test_long_alert_arrives_whole_in_several_messages(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    body = "\n\n".join(f"Paragraph {i}: " + "the balance sheet grew <again> & " * 20
                       for i in range(40))
    sent = await telegram_notifier.send("7", Message("Long", body, buttons=MUTE))
    shown = [m["shown"] for m in fake_telegram.messages["7"]]
    assert len(shown) >= 3 and len(sent.message_ids) == len(shown)
    assert all(len(s) <= 4096 for s in shown)
    assert "\n\n".join(shown).split() == f"Long\n\n{body}".split()
    # buttons only on the last part
    assert [m["reply_markup"] is not None for m in fake_telegram.messages["7"]][-1]
    assert all(m["reply_markup"] is None for m in fake_telegram.messages["7"][:-1])


async def test_chart_goes_as_photo_with_caption_and_rest_as_text(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    body = "word " * 600
    await telegram_notifier.send("9", Message("Chart", body, chart_png=PNG))
    first, *rest = fake_telegram.messages["9"]
    assert first["method"] == "sendPhoto" and first["photo"] == PNG
    assert 0 < len(first["shown"]) <= 1024 and rest
    joined = " ".join([first["shown"], *(m["shown"] for m in rest)])
    assert joined.split() == f"Chart\n\n{body}".split()


async def test_plain_message_has_no_parse_mode(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    await telegram_notifier.send("5", Message("<b>raw", "a & b", plain=True))
    [recorded] = fake_telegram.messages["5"]
    assert recorded["parse_mode"] is None and recorded["text"] == "<b>raw\n\na & b"


async def test_resolve_replies_to_the_original_alert(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    first = await telegram_notifier.send("5", Message("Firing", "x"))
    await telegram_notifier.send("5", Message("Resolved", "y", replaces=first.message_ids))
    reply = fake_telegram.messages["5"][1]["reply_parameters"]
    assert str(reply["message_id"]) == first.message_ids[0]


@pytest.mark.parametrize(
    ("status", "description", "parameters", "flag", "expected"),
    [
        (403, "Forbidden: bot was blocked by the user", None, "blocked", True),
        (429, "Too Many Requests: retry after 1", {"retry_after": 1}, "retry_after", 1.0),
        (400, "Bad Request: group chat was upgraded to a supergroup chat",
         {"migrate_to_chat_id": -100123}, "migrated_to", "-100123"),
        (400, "Bad Request: can't parse entities: Unsupported start tag", None, "malformed", True),
        (502, "Bad Gateway", None, "retryable", True),
        (400, "Bad Request: chat not found", None, "blocked", True),
    ],
)
async def test_errors_map_to_delivery_flags(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier,
    status: int, description: str, parameters: dict[str, int] | None, flag: str,
    expected: object,
) -> None:
    fake_telegram.inject(status, description, method="sendMessage", parameters=parameters)
    with pytest.raises(DeliveryError) as caught:
        await telegram_notifier.send("11", Message("t", "b"))
    assert getattr(caught.value, flag) == expected
    assert "11" not in fake_telegram.messages  # nothing half-sent
    await telegram_notifier.send("11", Message("t", "b"))  # the next attempt goes through
    assert len(fake_telegram.messages["11"]) == 1


async def test_other_bad_request_is_permanent(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    fake_telegram.inject(400, "Bad Request: message is too long", method="sendMessage")
    with pytest.raises(DeliveryError) as caught:
        await telegram_notifier.send("12", Message("t", "b"))
    err = caught.value
    assert not (err.retryable or err.blocked or err.malformed or err.migrated_to)


async def test_later_parts_are_retried_in_place_so_nothing_repeats(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    body = "\n\n".join(str(i) * 3000 for i in range(3))
    fake_telegram.inject(500, "Internal Server Error", method="sendMessage", after=1)
    fake_telegram.inject(429, "Too Many Requests: retry after 1", method="sendMessage",
                         parameters={"retry_after": 1}, after=2)
    sent = await telegram_notifier.send("13", Message("t", body))
    shown = [m["shown"] for m in fake_telegram.messages["13"]]
    assert len(sent.message_ids) == len(shown) == 3
    assert [s[-1] for s in shown] == ["0", "1", "2"]


async def test_broken_button_is_dropped_not_the_alert(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    too_long = Button("x", "/mute " + "r" * 80 + " 7d")
    await telegram_notifier.send("14", Message("t", "b", buttons=(too_long, MUTE[0])))
    [recorded] = fake_telegram.messages["14"]
    assert [b["text"] for b in recorded["reply_markup"]["inline_keyboard"][0]] == ["Mute 1d"]


async def test_fake_enforces_flood_limit_without_client_limiter() -> None:
    from telegram.error import RetryAfter

    # Its clock stands still: the chat's burst of 3 never refills, however slow the sends.
    fake = await FakeTelegram(time_scale=FAST, clock=lambda: 0.0).start()
    bot = Bot(fake.token, base_url=fake.base_url)
    try:
        async with bot:
            for _ in range(3):
                await bot.send_message(99, "x")
            with pytest.raises(RetryAfter):
                await bot.send_message(99, "x")
    finally:
        await fake.close()


async def test_client_limiter_paces_chats_and_groups_so_the_fake_never_429s() -> None:
    # A milder time compression than the other tests: the fake judges arrival times, so the
    # pacing (0.25 s a chat, 0.75 s a group here) must exceed any delay a loaded machine adds
    # to one request and not the next; at 10x (0.1 s) a load of 7 once got a 429.
    scale = 4.0
    fake = await FakeTelegram(time_scale=scale).start()
    notifier = TelegramNotifier(Bot(fake.token, base_url=fake.base_url),
                                limiter=TelegramRateLimiter(scale=scale))
    try:
        sends = [notifier.send(chat, Message("t", f"m{i}"))
                 for i in range(6) for chat in ("-100500", "600", "601")]
        await asyncio.gather(*sends)
    finally:
        await notifier.close()
        await fake.close()
    assert fake.rate_limited == 0
    assert [len(fake.messages[c]) for c in ("-100500", "600", "601")] == [6, 6, 6]


async def test_silent_message_is_sent_with_disable_notification(
    fake_telegram: FakeTelegram, telegram_notifier: TelegramNotifier
) -> None:
    await telegram_notifier.send("43", Message("Quiet", "x " * 3000, chart_png=PNG,
                                               silent=True))
    await telegram_notifier.send("44", Message("Loud", "y"))
    sends = [p for m, p in fake_telegram.calls if m in ("sendMessage", "sendPhoto")]
    quiet = [p for p in sends if str(p["chat_id"]) == "43"]
    assert len(quiet) >= 2 and all(str(p["disable_notification"]).lower() == "true"
                                   for p in quiet)  # every part, the photo too
    assert all("disable_notification" not in p for p in sends if str(p["chat_id"]) == "44")
