"""Telegram paid broadcast (issue 23, item 1): the setting puts `allow_paid_broadcast` on every
send and raises the notifier's overall rate to the paid one, which sizes the outbox's batches;
the aiohttp transport carries texts (JSON) and charts (multipart) to the fake Bot API."""

from __future__ import annotations

from telegram import Bot

from bot.alerts.outbox import batch_for
from bot.config import load_settings
from bot.notifiers.base import Button, Message
from bot.platforms.telegram.notifier import TelegramNotifier, TelegramRateLimiter
from bot.platforms.telegram.transport import AiohttpRequest
from tests.fakes.telegram import FakeTelegram

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
ALERT = Message(title="QT has ended", body="Holdings rose for 2 weeks.",
                buttons=(Button("Why?", "/why qt_ends"),))


def _notifier(fake: FakeTelegram, *, paid: bool) -> TelegramNotifier:
    bot = Bot(fake.token, base_url=fake.base_url, request=AiohttpRequest(pool_size=4))
    rate = fake.paid_rate if paid else fake.overall_rate
    return TelegramNotifier(bot, limiter=TelegramRateLimiter(rate, scale=fake.time_scale),
                            paid_broadcast=paid)


async def test_paid_sends_carry_the_flag_and_count_against_the_paid_limit() -> None:
    fake = await FakeTelegram(time_scale=20).start()
    paid, plain = _notifier(fake, paid=True), _notifier(fake, paid=False)
    try:
        for chat in range(1, 61):  # 60 chats at once: twice the unpaid second's quota
            await paid.send(str(chat), ALERT)
        await paid.send("61", Message(title="chart", body="", chart_png=PNG))
        await plain.send("62", ALERT)
    finally:
        await paid.close()
        await plain.close()
        await fake.close()
    assert fake.paid_messages == 61 and fake.rate_limited == 0
    flags = {params["chat_id"]: params.get("allow_paid_broadcast") for _, params in fake.calls}
    assert flags["1"] is True and flags["61"] in (True, "true") and flags["62"] is None
    assert fake.messages["1"][0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Why?"
    assert fake.photos("61")[0]["photo"] == PNG


def test_the_setting_sets_the_rate_and_the_batch() -> None:
    env = {"TELEGRAM_BOT_TOKEN": FakeTelegram.token}
    paid = TelegramNotifier.from_settings(load_settings(**env, TELEGRAM_ALLOW_PAID_BROADCAST=True))
    plain = TelegramNotifier.from_settings(load_settings(**env))
    assert (paid.rate_per_second, paid.paid) == (1000.0, True)
    assert (plain.rate_per_second, plain.paid) == (30.0, None)
    assert batch_for([paid]) == 250 and batch_for([plain]) == 20  # a quarter second's worth
