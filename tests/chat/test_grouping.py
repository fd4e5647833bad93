"""One evaluation, one message per chat: the 2024-09-19 cut moved two milestones at once."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import date, time, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from telegram import Bot

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.notifiers.base import DeliveryError, Notifier
from bot.platforms.telegram.notifier import TelegramNotifier, TelegramRateLimiter
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.quiet import QuietHours
from bot.store.schema import outbox
from rules import Event, RuleSet, backtest
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier
from tests.fakes.telegram import FakeTelegram

CUT = date(2024, 9, 19)


@pytest.fixture(scope="module")
def cut_events(ruleset: RuleSet, history_data: Mapping[str, pd.Series]) -> list[Event]:
    """rate_cut and easing_cycle_starts on 2024-09-19, from the real history."""
    found = backtest(ruleset, dict(history_data), since=CUT, until=CUT,
                     only=["rate_cut", "easing_cycle_starts"])
    assert sorted(e.rule_id for e in found) == ["easing_cycle_starts", "rate_cut"]
    return found


def _chat(store: Store, clock: FakeClock, chat: str, lang: str = "en") -> None:
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", chat, is_group=False, language_code=lang, now=clock.now)
    subs.subscribe("telegram", chat, "all", clock.now)


def _rows(store: Store) -> list[tuple[str, str, list[str] | None]]:
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(outbox.c.chat_id, outbox.c.status, outbox.c.message_ids)
                             .order_by(outbox.c.id)).all()
    return [(str(c), str(s), m) for c, s, m in found]


def _worker(store: Store, notifier: Notifier, clock: FakeClock,
            batch: int = 20) -> DeliveryWorker:
    return DeliveryWorker(store, {"telegram": notifier}, clock=clock, batch=batch,
                          rng=random.Random(1))


@pytest.mark.parametrize("batch", [20, 1])
async def test_two_milestones_of_one_release_are_one_message_per_chat(
    store: Store, clock: FakeClock, cut_events: list[Event], batch: int
) -> None:
    _chat(store, clock, "en-chat")
    _chat(store, clock, "zh-chat", lang="zh")
    Pipeline(store).record(cut_events, clock.now)
    notifier = RecordingNotifier()
    await _worker(store, notifier, clock, batch=batch).drain()
    by_chat = dict(notifier.sent)
    assert sorted(chat for chat, _ in notifier.sent) == ["en-chat", "zh-chat"]
    en, zh = by_chat["en-chat"], by_chat["zh-chat"]
    assert en.title == "2 milestones moved (2024-09-19)"
    assert "Milestone crossed: The Fed cut its policy rate" in en.body
    assert "Milestone crossed: A new easing cycle has started" in en.body
    assert zh.title == "2 个里程碑发生变化(2024-09-19)"
    assert [b.action for b in en.buttons] == ["/why easing_cycle_starts", "/why rate_cut"] or \
        [b.action for b in en.buttons] == ["/why rate_cut", "/why easing_cycle_starts"]
    rows = _rows(store)
    assert [status for _, status, _ in rows] == ["sent"] * 4
    ids = {chat: tuple(m or ()) for chat, _, m in rows}
    assert len(ids) == 2 and all(ids.values())


async def test_a_single_transition_stays_a_single_alert(
    store: Store, clock: FakeClock, cut_events: list[Event]
) -> None:
    _chat(store, clock, "c")
    Pipeline(store).record([e for e in cut_events if e.rule_id == "rate_cut"], clock.now)
    notifier = RecordingNotifier()
    await _worker(store, notifier, clock).drain()
    ((_, message),) = notifier.sent
    assert message.title == "Milestone crossed: The Fed cut its policy rate"
    assert [b.action for b in message.buttons][-1] == "/why rate_cut"


async def test_a_failed_group_send_retries_every_row_and_sends_once(
    store: Store, clock: FakeClock, cut_events: list[Event]
) -> None:
    _chat(store, clock, "c")
    Pipeline(store).record(cut_events, clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("c", DeliveryError("flood", retryable=True, retry_after=30))
    worker = _worker(store, notifier, clock)
    await worker.drain()
    assert [status for _, status, _ in _rows(store)] == ["pending", "pending"]
    clock.advance(seconds=31)
    await worker.drain()
    assert len(notifier.sent) == 1
    assert [status for _, status, _ in _rows(store)] == ["sent", "sent"]
    clock.advance(seconds=timedelta(days=1).total_seconds())
    assert await worker.drain() == 0 and len(notifier.sent) == 1


async def test_grouped_delivery_is_exactly_once_under_injected_failures(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    """Ten evaluations of two plainly synthetic transitions (2030) each, three chats, 30 % of
    sends failing: every chat gets each evaluation once, as one message."""
    chats = ["a", "b", "c"]
    for chat in chats:
        _chat(store, clock, chat)
    for day in range(1, 11):
        pair = [Event(rule=ruleset.rule(rule), state="firing",  # type: ignore[arg-type]
                      date=date(2030, 1, day), value=1.0) for rule in ("qt_ends", "rate_cut")]
        Pipeline(store).record(pair, clock.now + timedelta(seconds=day))
    clock.advance(seconds=11)
    notifier = RecordingNotifier(failure_rate=0.3, rng=random.Random(5))
    worker = _worker(store, notifier, clock, batch=3)
    for _ in range(100):
        await worker.drain()
        if all(status == "sent" for _, status, _ in _rows(store)):
            break
        clock.advance(seconds=3600)
    delivered = Counter((chat, m.tags["date"]) for chat, m in notifier.sent)
    assert set(delivered.values()) == {1} and len(delivered) == 30
    assert all(m.tags["rule"] == "qt_ends,rate_cut" for _, m in notifier.sent)
    assert notifier.attempts > len(notifier.sent)


def _pair(ruleset: RuleSet, day: int) -> list[Event]:
    """Two plainly synthetic transitions (2030) of one evaluation."""
    return [Event(rule=ruleset.rule(rule), state="firing",  # type: ignore[arg-type]
                  date=date(2030, 1, day), value=1.0) for rule in ("qt_ends", "rate_cut")]


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, TelegramNotifier]]:
    """The wire-level fake Bot API and the real notifier (python-telegram-bot over HTTP)."""
    fake = await FakeTelegram(time_scale=10.0).start()
    notifier = TelegramNotifier(Bot(fake.token, base_url=fake.base_url),
                                limiter=TelegramRateLimiter(scale=10.0))
    yield fake, notifier
    await notifier.close()
    await fake.close()


async def test_a_group_to_a_migrated_chat_moves_every_row_and_arrives_once(
    store: Store, clock: FakeClock, cut_events: list[Event],
    telegram: tuple[FakeTelegram, TelegramNotifier],
) -> None:
    """Telegram answers the grouped send with migrate_to_chat_id: every row of the group
    follows the chat (not only the first), and the supergroup gets the one message once."""
    fake, notifier = telegram
    _chat(store, clock, "-904")
    fake.migrate(-904, -100904)
    Pipeline(store).record(cut_events, clock.now)
    await _worker(store, notifier, clock).drain()
    assert [(chat, status) for chat, status, _ in _rows(store)] == [("-100904", "sent")] * 2
    [message] = fake.messages["-100904"]
    assert "2 milestones moved (2024-09-19)" in message["shown"]
    assert "-904" not in fake.messages
    subs = Subscriptions(store.engine)
    assert subs.targets("telegram", "-100904") == ["all"] and subs.targets("telegram", "-904") == []
    assert await _worker(store, notifier, clock).drain() == 0


async def test_a_group_claimed_before_its_chat_moved_follows_with_every_row(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    """Two evaluations claimed in one batch: the first one's send learns the move, so the
    second group's rows, already claimed under the old id, all move when it is routed."""
    _chat(store, clock, "-100")
    Pipeline(store).record(_pair(ruleset, 1), clock.now - timedelta(seconds=1))
    Pipeline(store).record(_pair(ruleset, 2), clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("-100", DeliveryError("migrated", migrated_to="-1009"))
    await _worker(store, notifier, clock).drain()
    assert sorted((chat, m.tags["date"]) for chat, m in notifier.sent) == [
        ("-1009", "2030-01-01"), ("-1009", "2030-01-02")]
    assert [(chat, status) for chat, status, _ in _rows(store)] == [("-1009", "sent")] * 4


async def test_a_group_migrating_onto_a_chat_that_has_part_of_it_sends_the_rest_once(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    """The supergroup already has one of the group's alerts (its own subscription to one
    rule): that row ends 'migrated', the other goes out once at the new id."""
    _chat(store, clock, "-100")
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", "-1009", is_group=True, language_code="en", now=clock.now)
    subs.subscribe("telegram", "-1009", "qt_ends", clock.now)
    Pipeline(store).record(_pair(ruleset, 1), clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("-100", DeliveryError("migrated", migrated_to="-1009"))
    await _worker(store, notifier, clock).drain()
    delivered = Counter((chat, m.tags["rule"]) for chat, m in notifier.sent)
    assert delivered == {("-1009", "qt_ends"): 1, ("-1009", "rate_cut"): 1}
    assert Counter((chat, status) for chat, status, _ in _rows(store)) == {
        ("-1009", "sent"): 2, ("-100", "migrated"): 1}


async def test_held_rows_of_a_migrated_chat_all_move_and_come_as_one_digest(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    """Quiet hours held two alerts; when they end, the digest's send answers that the chat
    moved: both rows follow it, and the supergroup gets the one digest."""
    _chat(store, clock, "-100")
    Subscriptions(store.engine).set_quiet("telegram", "-100", QuietHours(time(14), time(16),
                                                                         "hold"), clock.now)
    Pipeline(store).record(_pair(ruleset, 1), clock.now)
    notifier = RecordingNotifier()
    worker = _worker(store, notifier, clock)
    await worker.drain()
    assert notifier.sent == [] and [s for _, s, _ in _rows(store)] == ["pending"] * 2
    clock.advance(hours=1, minutes=1)
    notifier.fail_next("-100", DeliveryError("migrated", migrated_to="-1009"))
    await worker.drain()
    [(chat, digest)] = notifier.sent
    assert chat == "-1009" and digest.tags == {"held": "2"}
    assert [(chat, status) for chat, status, _ in _rows(store)] == [("-1009", "sent")] * 2
