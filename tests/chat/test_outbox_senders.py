"""Sends in flight at once (issue 23 item 1): a notifier with a declared rate is sent to several
chats at once (a round trip's worth of its rate, at most `SENDERS_MOST`); each chat still gets
its alerts one at a time and in order, each once; one without a rate, one at a time."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.alerts.outbox import DeliveryWorker, senders_for
from bot.alerts.pipeline import Pipeline
from bot.notifiers.base import Message, Sent
from bot.store import Store
from bot.store.chats import add_subscribers
from rules import Event, RuleSet
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier

CHATS = 60


@dataclass
class Counting:
    """Records each chat's messages and how many sends were in flight at most."""

    rate_per_second: float | None = 200.0
    platform: str = "telegram"
    in_flight: int = 0
    most: int = 0
    sent: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def send(self, chat_id: str, message: Message) -> Sent:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.001)  # a round trip: the others go on meanwhile
        self.in_flight -= 1
        self.sent[chat_id].append(message.tags["date"])
        return Sent((f"{chat_id}:{len(self.sent[chat_id])}",))


def _fill(store: Store, clock: FakeClock, ruleset: RuleSet) -> None:
    add_subscribers(store.engine, "telegram", [f"c{n}" for n in range(CHATS)], clock.now)
    for day in (2, 3):  # two evaluations, a second apart: two messages to each chat, in order
        Pipeline(store).record([Event(rule=ruleset.rule("qt_ends"), state="firing",  # type: ignore[arg-type]
                                      date=date(2030, 1, day), value=2.0, threshold=0.2)],
                               clock.now - timedelta(seconds=4 - day))


async def test_several_chats_at_once_each_in_order(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _fill(store, clock, ruleset)
    notifier = Counting()
    worker = DeliveryWorker(store, {"telegram": notifier}, clock=clock, rng=random.Random(1))
    assert worker.senders == senders_for([notifier]) == 20
    await worker.drain()
    store.close()
    assert 1 < notifier.most <= 20
    assert {chat: dates for chat, dates in notifier.sent.items()} == {
        f"c{n}": ["2030-01-02", "2030-01-03"] for n in range(CHATS)}


def test_without_a_declared_rate_one_at_a_time() -> None:
    assert senders_for([RecordingNotifier()]) == 1
    assert senders_for([Counting(rate_per_second=30)]) == 3
    assert senders_for([Counting(rate_per_second=1000)]) == 64
