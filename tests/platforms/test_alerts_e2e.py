"""Alerts end to end: Telegram commands -> bot.alerts.pipeline -> bot.alerts.outbox -> the
Telegram notifier -> the fake Bot API (real python-telegram-bot over HTTP), faults at the wire."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.payload import AlertPayload
from bot.alerts.pipeline import Pipeline, Recipient, enqueue
from bot.chat import charts
from bot.chat.types import Caller, Reply
from bot.evaluate.insight import Insight
from bot.platforms.telegram.frontend import TelegramFrontEnd, build_application
from bot.platforms.telegram.notifier import TelegramNotifier
from bot.runtime.backoff import Backoff
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import chats, events, outbox
from rules import Event, backtest
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import NOW, until

Handler = Callable[[Caller, str], Awaitable[Reply]]
CJK = re.compile(r"[\u4e00-\u9fff]")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Clock:
    """The worker's clock; the test moves it past backoff delays."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def telegram_front(
    fake_telegram: FakeTelegram, commands_handler: Handler
) -> AsyncIterator[TelegramFrontEnd]:
    front = TelegramFrontEnd(build_application(fake_telegram.token, fake_telegram.base_url),
                             commands_handler)
    await front.start()
    yield front
    await front.stop()


@pytest.fixture
def qt_ends_event(files_insight: Insight) -> Event:
    """The real Dec 2025 'QT ends' transition found in the history."""
    _, data = files_insight.data()
    found = [e for e in backtest(files_insight.ruleset, data, only=["qt_ends"])
             if e.state == "firing" and e.date.year == 2025]
    assert found, "history should show QT ending in late 2025"
    return found[-1]


@pytest.fixture
def worker(platform_store: Store, telegram_notifier: TelegramNotifier,
           files_insight: Insight) -> tuple[DeliveryWorker, Clock]:
    version, data = files_insight.data()

    def chart_for(alert: AlertPayload, lang: str) -> bytes | None:
        return charts.rule_chart(data, files_insight.ruleset, alert.rule, alert.date,
                                 version, lang=lang)

    clock = Clock(NOW)
    return DeliveryWorker(platform_store, {"telegram": telegram_notifier}, clock=clock,
                          rng=random.Random(7), chart_for=chart_for,
                          backoff=Backoff(base_seconds=1, max_seconds=8, max_attempts=30)), clock


async def deliver_everything(worker: tuple[DeliveryWorker, Clock], rounds: int = 200) -> None:
    """Drain; whenever rows wait for a retry, move the clock past the wait and drain again."""
    delivery, clock = worker
    for _ in range(rounds):
        await delivery.drain()
        with delivery.store.engine.connect() as conn:
            waiting = conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.status.in_(("pending", "sending")))).scalar_one()
        if not waiting:
            return
        clock.now += timedelta(minutes=10)
    raise AssertionError("outbox did not drain")


def subscribe(store: Store, chat: str, *, group: bool = False) -> None:
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", chat, is_group=group, language_code="en", now=NOW)
    subs.subscribe("telegram", chat, "all", NOW)


def alert_messages(fake: FakeTelegram, chat: str | int, title: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages.get(str(chat), []) if title in m["shown"]]


def title_of(event: Event, lang: str = "en") -> str:
    title, _ = event.render(lang)
    return title


async def test_subscribe_then_alert_arrives_with_text_and_chart(
    fake_telegram: FakeTelegram, telegram_front: TelegramFrontEnd, platform_store: Store,
    worker: tuple[DeliveryWorker, Clock], qt_ends_event: Event,
) -> None:
    fake_telegram.push_message(901, "/subscribe all")
    await until(lambda: bool(fake_telegram.messages.get("901")))
    assert Pipeline(platform_store).record([qt_ends_event], NOW) == 1
    await deliver_everything(worker)
    [photo] = fake_telegram.photos(901)
    assert photo["photo"].startswith(PNG_MAGIC)
    shown = "\n".join(m["shown"] for m in fake_telegram.messages["901"][1:])
    assert title_of(qt_ends_event) in shown
    assert qt_ends_event.date.isoformat() in shown
    buttons = photo["reply_markup"]["inline_keyboard"][0]
    assert "/mute qt_ends 7d" in [b["callback_data"] for b in buttons]


async def test_every_alert_arrives_exactly_once_despite_30_percent_failures(
    fake_telegram: FakeTelegram, platform_store: Store, worker: tuple[DeliveryWorker, Clock],
    qt_ends_event: Event,
) -> None:
    chats_ids = [str(1000 + i) for i in range(12)]
    for chat in chats_ids:
        subscribe(platform_store, chat)
    fake_telegram.failure_rate = 0.3
    Pipeline(platform_store).record([qt_ends_event], NOW)
    await deliver_everything(worker)
    title = title_of(qt_ends_event)
    assert fake_telegram.random_failures >= 3  # the faults really happened
    assert {c: len(alert_messages(fake_telegram, c, title)) for c in chats_ids} == {
        c: 1 for c in chats_ids}
    assert all(len(fake_telegram.photos(c)) == 1 for c in chats_ids)


async def test_blocked_user_is_deactivated_and_not_tried_again(
    fake_telegram: FakeTelegram, platform_store: Store, worker: tuple[DeliveryWorker, Clock],
    files_insight: Insight, qt_ends_event: Event,
) -> None:
    subscribe(platform_store, "902")
    subscribe(platform_store, "903")
    fake_telegram.block(902)
    Pipeline(platform_store).record([qt_ends_event], NOW)
    await deliver_everything(worker)
    with platform_store.engine.connect() as conn:
        active = dict(conn.execute(sa.select(chats.c.chat_id, chats.c.active)).all())
    assert active == {"902": False, "903": True}
    attempts = sum(1 for m, p in fake_telegram.calls if str(p.get("chat_id")) == "902")
    later = Event(rule=qt_ends_event.rule, state="resolved", date=date(2030, 1, 2))
    Pipeline(platform_store).record([later], NOW)
    await deliver_everything(worker)
    assert sum(1 for m, p in fake_telegram.calls if str(p.get("chat_id")) == "902") == attempts
    assert "903" in fake_telegram.messages


async def test_migrated_group_keeps_getting_alerts(
    fake_telegram: FakeTelegram, platform_store: Store, worker: tuple[DeliveryWorker, Clock],
    qt_ends_event: Event,
) -> None:
    subscribe(platform_store, "-904", group=True)
    fake_telegram.migrate(-904, -100904)
    Pipeline(platform_store).record([qt_ends_event], NOW)
    await deliver_everything(worker)
    title = title_of(qt_ends_event)
    assert len(alert_messages(fake_telegram, -100904, title)) == 1
    later = Event(rule=qt_ends_event.rule, state="resolved", date=date(2030, 1, 2))
    Pipeline(platform_store).record([later], NOW)
    await deliver_everything(worker)
    shown = "\n".join(m["shown"] for m in fake_telegram.messages["-100904"])
    assert "2030-01-02" in shown  # the resolve arrived at the new id
    assert "-904" not in fake_telegram.messages


async def test_alert_longer_than_4096_arrives_whole_in_several_messages(
    fake_telegram: FakeTelegram, platform_store: Store, worker: tuple[DeliveryWorker, Clock],
) -> None:
    subscribe(platform_store, "905")
    # A plainly synthetic explanation, long enough to need three messages.
    paragraphs = [f"Paragraph {i}: <reserves> & holdings " + "lorem ipsum " * 60
                  for i in range(12)]
    payload = {"rule": "qt_ends", "state": "firing", "date": "2030-01-02", "severity": "info",
               "texts": {"en": {"title": "Synthetic long alert", "text": "\n\n".join(paragraphs)}}}
    with platform_store.engine.begin() as conn:
        inserted = conn.execute(events.insert().values(
            rule_id="qt_ends", state="firing", obs_date=date(2030, 1, 2), payload=payload,
            severity="info", created_at=NOW)).inserted_primary_key
        assert inserted is not None
        event_id = int(inserted[0])
        enqueue(conn, event_id, [Recipient("telegram", "905")], NOW)
    delivery, _ = worker
    delivery.chart_for = None
    await deliver_everything(worker)
    parts = [m["shown"] for m in fake_telegram.messages["905"]]
    assert len(parts) >= 3 and all(len(p) <= 4096 for p in parts)
    joined = "\n\n".join(parts)
    assert all(p.strip() in joined for p in paragraphs)
    with platform_store.engine.connect() as conn:
        ids = conn.execute(sa.select(outbox.c.message_ids)).scalar_one()
    assert len(ids) == len(parts)


async def test_chinese_chat_gets_chinese_alert_english_chat_english(
    fake_telegram: FakeTelegram, telegram_front: TelegramFrontEnd, platform_store: Store,
    worker: tuple[DeliveryWorker, Clock], qt_ends_event: Event,
) -> None:
    def replies(chat: int) -> int:
        return len(fake_telegram.messages.get(str(chat), []))

    for chat, lines in ((906, ["/lang zh", "/subscribe all"]), (907, ["/subscribe all"])):
        for index, line in enumerate(lines, start=1):
            fake_telegram.push_message(chat, line)
            await until(functools.partial(lambda c, n: replies(c) >= n, chat, index))
    Pipeline(platform_store).record([qt_ends_event], NOW)
    await deliver_everything(worker)
    chinese = "\n".join(m["shown"] for m in fake_telegram.messages["906"][2:])
    english = "\n".join(m["shown"] for m in fake_telegram.messages["907"][1:])
    assert title_of(qt_ends_event, "zh") in chinese and CJK.search(chinese)
    assert title_of(qt_ends_event, "en") in english and not CJK.search(english)
