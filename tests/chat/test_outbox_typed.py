"""The delivery side reads stored alerts as typed values (old rows included), names its row
states with an enum, and never runs a database call on the event loop's thread."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.alerts.digest import send_digests
from bot.alerts.outbox import DeliveryWorker, OutboxStatus
from bot.alerts.payload import AlertPayload, event_payload
from bot.alerts.pipeline import Pipeline
from bot.notifiers.base import DeliveryError
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import events, outbox
from rules import Event, RuleSet, Transition
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


def _chat(store: Store, clock: FakeClock, chat: str, lang: str = "en") -> None:
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", chat, is_group=False, language_code=lang, now=clock.now)
    subs.subscribe("telegram", chat, "all", clock.now)


def _event(ruleset: RuleSet, day: int, state: Transition = Transition.FIRING) -> Event:
    return Event(rule=ruleset.rule("qt_ends"), state=state, date=date(2030, 1, day),
                 value=float(day), threshold=0.2)


def _raw_row(store: Store, clock: FakeClock, chat: str, payload: dict[str, Any]) -> None:
    """An event and its outbox row as an earlier version (or another tool) wrote them."""
    with store.engine.begin() as conn:
        event_id = conn.execute(sa.insert(events).values(
            rule_id=payload.get("rule", "?"), state="firing", obs_date=date(2030, 3, 1),
            payload=payload, created_at=clock.now).returning(events.c.id)).scalar_one()
        conn.execute(sa.insert(outbox).values(
            event_id=event_id, platform="telegram", chat_id=chat, status="pending", attempts=0,
            next_attempt_at=clock.now, created_at=clock.now))


def test_a_fresh_event_reads_back_with_the_stored_keys(ruleset: RuleSet) -> None:
    event = _event(ruleset, 2, Transition.RESOLVED)
    stored = event_payload(event)
    assert set(stored) == {*event.to_dict(), "texts"}  # the JSON format is unchanged
    alert = AlertPayload.from_payload(stored)
    assert alert.state is Transition.RESOLVED and alert.date == date(2030, 1, 2)
    assert alert.rule == "qt_ends" and alert.value == 2.0 and alert.threshold == 0.2
    assert alert.text_in("zh").title == stored["texts"]["zh"]["title"]
    assert alert.text_in("fr") == alert.text_in("en")  # unknown language: English
    assert alert.model_dump(mode="json").keys() == stored.keys()


def test_an_unreadable_payload_names_its_problems() -> None:
    with pytest.raises(ValueError, match=r"rule: Field required.*texts"):
        AlertPayload.from_payload({"texts": ["junk"], "date": "2030-01-02"})
    with pytest.raises(ValueError, match="state"):
        AlertPayload.from_payload({"rule": "r", "date": "2030-01-02", "state": "exploded"})


async def test_an_old_format_row_still_delivers(store: Store, clock: FakeClock) -> None:
    _chat(store, clock, "c", lang="zh")
    # What the first versions stored: no severity, values, as_of or observed.
    _raw_row(store, clock, "c", {"rule": "qt_ends", "state": "firing", "date": "2030-03-01",
                                 "texts": {"en": {"title": "QT ends", "text": "It ended."}}})
    notifier = RecordingNotifier()
    await DeliveryWorker(store, {"telegram": notifier}, clock=clock).drain()
    [(chat, message)] = notifier.sent
    assert chat == "c" and "QT ends" in message.title and "It ended." in message.body
    assert "2030-03-01" in message.body and message.buttons  # firing: mute / why buttons
    assert message.tags == {"rule": "qt_ends", "state": "firing", "date": "2030-03-01",
                            "severity": "milestone"}
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(outbox.c.status)).scalar_one() == OutboxStatus.SENT


async def test_no_database_call_runs_on_the_event_loop(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    for chat in ("sent", "flood", "blocked", "moved", "bad", "many"):
        _chat(store, clock, chat)
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    subs = Subscriptions(store.engine)
    for chat in ("sent", "flood", "blocked", "moved", "bad"):
        subs.unsubscribe("telegram", chat, None)
    Pipeline(store).record([_event(ruleset, 3), _event(ruleset, 4)], clock.now)  # many: 3
    subs.mute("telegram", "sent", "rate_cut", clock.now - timedelta(minutes=1), "u", clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("flood", DeliveryError("flood", retry_after=30))
    notifier.fail_next("blocked", DeliveryError("blocked", blocked=True))
    notifier.fail_next("moved", DeliveryError("migrated", migrated_to="moved2"))
    notifier.fail_next("bad", DeliveryError("chat not found"))
    loop_thread, threads = threading.get_ident(), []

    def record(*_: object) -> None:
        threads.append(threading.get_ident())

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        notifiers = {"telegram": notifier}
        assert await send_digests(store, notifiers, "digest", clock) == 3
        worker = DeliveryWorker(store, notifiers, clock=clock, rng=random.Random(1))
        assert await worker.drain() == 5
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    assert len(threads) > 20 and loop_thread not in threads
    assert [m.tags.get("kind") for _, m in notifier.sent].count("mute_expired") == 1
    with store.engine.connect() as conn:
        found = set(conn.execute(sa.select(outbox.c.status)).scalars())
    assert found == {OutboxStatus.SENT, OutboxStatus.PENDING, OutboxStatus.BLOCKED,
                     OutboxStatus.FAILED}

