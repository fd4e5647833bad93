"""Delivery worker: language per chat, retry_after, backoff, blocked, migrated, malformed,
resolve replacing the firing message, and exactly-once under injected failures and crashes."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.notifiers.base import DeliveryError
from bot.runtime.backoff import Backoff
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import events, outbox
from rules import Event, RuleSet
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier, record_each


def _chat(store: Store, clock: FakeClock, chat: str, lang: str = "en", target: str = "all") -> None:
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", chat, is_group=False, language_code=lang, now=clock.now)
    subs.subscribe("telegram", chat, target, clock.now)


def _event(ruleset: RuleSet, day: int, state: str = "firing", rule: str = "qt_ends") -> Event:
    """A plainly synthetic transition in 2030."""
    return Event(rule=ruleset.rule(rule), state=state,  # type: ignore[arg-type]
                 date=date(2030, 1, day), value=float(day), threshold=0.2)


def _statuses(store: Store) -> list[tuple[str, str, int, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.chat_id, outbox.c.status, outbox.c.attempts,
                                      outbox.c.last_error).order_by(outbox.c.id)).all()
    return [tuple(r) for r in rows]


def _worker(
    store: Store, notifier: RecordingNotifier, clock: FakeClock, **kw: object
) -> DeliveryWorker:
    return DeliveryWorker(store, {"telegram": notifier}, clock=clock,
                          rng=random.Random(1), **kw)  # type: ignore[arg-type]


async def test_each_chat_gets_its_language_and_ids_are_recorded(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    _chat(store, clock, "en-chat")
    _chat(store, clock, "zh-chat", lang="zh")
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    notifier = RecordingNotifier()
    assert await _worker(store, notifier, clock).drain() == 2
    by_chat = dict(notifier.sent)
    event = _event(ruleset, 2)
    assert event.render("en")[0] in by_chat["en-chat"].title
    assert event.render("zh")[0] in by_chat["zh-chat"].title
    assert event.render("zh")[1] in by_chat["zh-chat"].body
    assert [b.action for b in by_chat["en-chat"].buttons] == [
        "/mute qt_ends 1d", "/mute qt_ends 7d", "/why qt_ends"]
    with store.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(outbox.c.chat_id, outbox.c.message_ids)).all())
    assert ids == {"en-chat": ["en-chat:1"], "zh-chat": ["zh-chat:2"]} or ids == {
        "en-chat": ["en-chat:2"], "zh-chat": ["zh-chat:1"]}


async def test_resolve_replaces_the_firing_message(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "c")
    notifier = RecordingNotifier()
    worker = _worker(store, notifier, clock)
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    await worker.drain()
    Pipeline(store).record([_event(ruleset, 9, "resolved")], clock.now)
    await worker.drain()
    firing, resolved = (m for _, m in notifier.sent)
    assert firing.replaces == () and resolved.replaces == ("c:1",)
    assert "9" in resolved.body and resolved.buttons == ()  # the current value, not the old one
    store.close()


async def test_retry_after_is_honoured(sqlite_url: str, clock: FakeClock, ruleset: RuleSet) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "c")
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("c", DeliveryError("flood", retry_after=30))
    worker = _worker(store, notifier, clock)
    await worker.drain()
    assert _statuses(store) == [("c", "pending", 0, "flood")]
    clock.advance(seconds=29)
    assert await worker.drain() == 0
    clock.advance(seconds=1)
    await worker.drain()
    assert _statuses(store) == [("c", "sent", 1, None)] and len(notifier.sent) == 1


async def test_backoff_grows_then_gives_up_with_the_error(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "c")
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("c", *[DeliveryError("HTTP 502", retryable=True)] * 4)
    worker = _worker(store, notifier, clock, backoff=Backoff(10, 1000, max_attempts=4))
    delays = []
    for _ in range(4):
        start = clock.now
        assert await worker.drain() == 1
        with store.engine.connect() as conn:
            due = conn.execute(sa.select(outbox.c.next_attempt_at)).scalar_one()
        if _statuses(store)[0][1] == "failed":
            break
        delays.append((due.replace(tzinfo=start.tzinfo) - start).total_seconds())
        clock.now = due.replace(tzinfo=start.tzinfo)
    assert len(delays) == 3
    for i, delay in enumerate(delays):  # base 10 s doubling, jitter within [half, full]
        assert 5 * 2**i <= delay <= 10 * 2**i
    assert _statuses(store) == [("c", "failed", 4, "gave up after 4 attempts: HTTP 502")]
    assert notifier.sent == []


async def test_blocked_chat_is_deactivated(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    _chat(store, clock, "c")
    _chat(store, clock, "d")
    Pipeline(store).record([_event(ruleset, 2), _event(ruleset, 3)], clock.now)  # one message
    notifier = RecordingNotifier()
    notifier.fail_next("c", DeliveryError("Forbidden: bot was blocked by the user", blocked=True))
    await _worker(store, notifier, clock).drain()
    statuses = Counter((chat, status) for chat, status, _, _ in _statuses(store))
    assert statuses == {("c", "blocked"): 2, ("d", "sent"): 2}
    assert Subscriptions(store.engine).targets("telegram", "c") == []
    Pipeline(store).record([_event(ruleset, 4)], clock.now)
    assert [c for c, s, _, _ in _statuses(store)][-1] == "d"
    # the user unblocks the bot and talks to it again: alerts resume
    subs = Subscriptions(store.engine)
    subs.ensure_chat("telegram", "c", is_group=False, language_code="en", now=clock.now)
    assert subs.targets("telegram", "c") == ["all"]
    Pipeline(store).record([_event(ruleset, 5)], clock.now)
    assert ("c", "pending") in [(c, s) for c, s, _, _ in _statuses(store)]


async def test_migrated_chat_follows_the_new_id(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    _chat(store, clock, "-100", lang="zh")
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("-100", DeliveryError("migrated", migrated_to="-1009"))
    await _worker(store, notifier, clock).drain()
    assert [chat for chat, _ in notifier.sent] == ["-1009"]
    assert _statuses(store) == [("-1009", "sent", 1, None)]
    subs = Subscriptions(store.engine)
    assert subs.targets("telegram", "-1009") == ["all"] and subs.targets("telegram", "-100") == []
    assert subs.language("telegram", "-1009") == "zh"
    Pipeline(store).record([_event(ruleset, 3)], clock.now)
    assert _statuses(store)[-1][0] == "-1009"


async def test_malformed_markup_is_resent_as_plain_text(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "c")
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("c", DeliveryError("can't parse entities", malformed=True))
    await _worker(store, notifier, clock).drain()
    [(_, message)] = notifier.sent
    assert message.plain and _event(ruleset, 2).render("en")[0] in message.title
    notifier.fail_next("c", DeliveryError("chat not found"))
    Pipeline(store).record([_event(ruleset, 3)], clock.now)
    await _worker(store, notifier, clock).drain()
    assert _statuses(store)[-1] == ("c", "failed", 1, "chat not found")


@pytest.mark.parametrize("failure_rate", [0.3])
async def test_exactly_once_under_injected_failures(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet, failure_rate: float
) -> None:
    store = Store(sqlite_url)
    chats = [f"c{i}" for i in range(4)]
    for chat in chats:
        _chat(store, clock, chat)
    found = [_event(ruleset, day, rule=rule) for day in range(1, 26)
             for rule in ("qt_ends", "rate_cut")]
    record_each(store, found, clock.now)
    notifier = RecordingNotifier(failure_rate=failure_rate, rng=random.Random(42))
    worker = _worker(store, notifier, clock, backoff=Backoff(1, 60, max_attempts=30))
    for _ in range(200):
        await worker.drain()
        if all(s == "sent" for _, s, _, _ in _statuses(store)):
            break
        clock.advance(seconds=61)
    delivered = Counter((chat, m.tags["rule"], m.tags["date"]) for chat, m in notifier.sent)
    assert len(delivered) == len(found) * len(chats)
    assert set(delivered.values()) == {1}
    assert notifier.attempts > len(delivered)  # failures really happened


async def test_crash_repeats_at_most_the_message_in_flight(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "c")
    record_each(store, [_event(ruleset, d) for d in (2, 3, 4)], clock.now)
    notifier = RecordingNotifier()
    crashed = _worker(store, notifier, clock, worker_id="a", batch=1)
    in_flight = crashed.claim()  # then the process dies before sending
    assert len(in_flight) == 1
    survivor = _worker(store, notifier, clock, worker_id="b")
    assert await survivor.drain() == 2  # the crashed claim is not stolen too early
    clock.advance(minutes=6)
    assert await survivor.drain() == 1
    assert sorted(m.tags["date"] for _, m in notifier.sent) == [
        "2030-01-02", "2030-01-03", "2030-01-04"]
    await crashed.deliver(in_flight[0])  # the old worker wakes up late: a repeat, not a loss
    assert len(notifier.sent) == 4 and notifier.sent[-1][1].tags["date"] == "2030-01-02"
    assert _statuses(store)[0][:2] == ("c", "sent")


async def test_migration_onto_a_chat_we_already_know_sends_once(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "-100")
    _chat(store, clock, "-1009")  # the supergroup already subscribed on its own
    record_each(store, [_event(ruleset, 2), _event(ruleset, 3)], clock.now)
    notifier = RecordingNotifier()
    notifier.fail_next("-100", DeliveryError("migrated", migrated_to="-1009"))
    await _worker(store, notifier, clock).drain()
    delivered = Counter((chat, m.tags["date"]) for chat, m in notifier.sent)
    assert delivered == {("-1009", "2030-01-02"): 1, ("-1009", "2030-01-03"): 1}
    assert Counter(s for _, s, _, _ in _statuses(store)) == {"sent": 2, "migrated": 2}
    assert Subscriptions(store.engine).targets("telegram", "-1009") == ["all"]
    store.close()


async def test_an_unrenderable_row_fails_with_its_error_and_others_go_out(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    store = Store(sqlite_url)
    _chat(store, clock, "c")
    Pipeline(store).record([_event(ruleset, 2)], clock.now)
    with store.engine.begin() as conn:  # a row written by something else, not by our pipeline
        event_id = conn.execute(sa.insert(events).values(
            rule_id="qt_ends", state="firing", obs_date=date(2030, 2, 1),
            payload={"texts": ["junk"]}, created_at=clock.now).returning(events.c.id)).scalar_one()
        conn.execute(sa.insert(outbox).values(
            event_id=event_id, platform="telegram", chat_id="c", status="pending", attempts=0,
            next_attempt_at=clock.now, created_at=clock.now))
    notifier = RecordingNotifier()
    await _worker(store, notifier, clock).drain()
    assert len(notifier.sent) == 1
    [(_, status, _, error)] = [row for row in _statuses(store) if row[1] != "sent"]
    assert status == "failed" and error is not None and "cannot render" in error
    store.close()


async def test_a_chat_is_told_once_when_its_mute_ends(
    store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    _chat(store, clock, "zh-chat", lang="zh")
    subs = Subscriptions(store.engine)
    subs.mute("telegram", "zh-chat", "qt_ends", clock.now + timedelta(days=1), "u1", clock.now)
    notifier = RecordingNotifier()
    workers = [_worker(store, notifier, clock, worker_id=w) for w in ("a", "b")]
    await workers[0].drain()
    assert notifier.sent == []  # still muted
    clock.advance(days=1)
    for worker in workers:
        await worker.drain()
    [(chat, notice)] = notifier.sent
    assert chat == "zh-chat" and "qt_ends" in notice.body and notice.title == "静音已结束"
    assert notice.buttons[0].action == "/mute qt_ends 7d"
    Pipeline(store).record([_event(ruleset, 2)], clock.now)  # alerts flow again
    await workers[1].drain()
    assert len(notifier.sent) == 2
