"""The catch-up digest over the real webhook notifier and a wire-level fake receiver."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
import sqlalchemy as sa

from bot.alerts.digest import send_digests
from bot.alerts.outbox import DeliveryWorker
from bot.notifiers.webhook import WebhookNotifier
from bot.store import Store
from bot.store.schema import events, outbox
from tests.fakes.webhook import FakeWebhook, Scripted

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


@pytest.fixture
async def hook() -> AsyncIterator[FakeWebhook]:
    fake = await FakeWebhook().start()
    yield fake
    await fake.close()


def add_alert(store: Store, chat: str, rule: str, day: int, status: str = "pending") -> None:
    payload = {"rule": rule, "state": "firing", "date": f"2026-11-{day:02d}",
               "texts": {"en": {"title": f"Title of {rule}", "text": f"{rule} happened"}}}
    with store.engine.begin() as conn:
        event = conn.execute(events.insert().values(
            rule_id=rule, state="firing", obs_date=date(2026, 11, day), payload=payload,
            created_at=NOW)).inserted_primary_key
        assert event is not None
        conn.execute(outbox.insert().values(
            event_id=event[0], platform="webhook", chat_id=chat, status=status, attempts=0,
            next_attempt_at=NOW, created_at=NOW))


def statuses(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [(r.chat_id, r.status) for r in conn.execute(
            sa.select(outbox.c.chat_id, outbox.c.status).order_by(outbox.c.id))]


async def test_several_waiting_alerts_go_as_one_message_per_chat(
    store: Store, hook: FakeWebhook
) -> None:
    add_alert(store, "a", "qt_ends", 18)
    add_alert(store, "a", "rate_cut", 11)
    add_alert(store, "a", "old_news", 4, status="sent")  # already delivered: never again
    add_alert(store, "b", "qt_ends", 19)  # a single alert is left to the worker
    async with httpx.AsyncClient() as client:
        notifier = WebhookNotifier(client, hook.url)
        sent = await send_digests(store, {"webhook": notifier}, "me", lambda: NOW)
    assert sent == 2
    (digest,) = hook.received
    assert digest["chat_id"] == "a" and digest["title"].startswith("2 changes")
    body = digest["body"]
    assert body.index("Title of rate_cut") < body.index("Title of qt_ends")  # oldest first
    assert "old_news" not in body
    assert statuses(store) == [("a", "sent"), ("a", "sent"), ("a", "sent"), ("b", "pending")]


async def test_a_failed_digest_leaves_every_alert_pending(
    store: Store, hook: FakeWebhook
) -> None:
    add_alert(store, "a", "qt_ends", 18)
    add_alert(store, "a", "rate_cut", 11)
    hook.script.append(Scripted(status=500, body="down"))
    async with httpx.AsyncClient() as client:
        notifier = WebhookNotifier(client, hook.url)
        assert await send_digests(store, {"webhook": notifier}, "me", lambda: NOW) == 0
    assert statuses(store) == [("a", "pending"), ("a", "pending")]


@pytest.mark.postgres
async def test_digest_and_worker_never_both_own_a_row(pg_url: str) -> None:
    """Both claim with the one claim: racing on the same rows, each alert goes out once.
    (PostgreSQL: the database for several claimers at once.)"""
    store = Store(pg_url)
    chats, per_chat = "abcdefgh", 3
    for chat in chats:
        for i in range(per_chat):
            add_alert(store, chat, f"r_{chat}{i}", 10 + i)
    hook = await FakeWebhook(latency=0.01).start()
    try:
        async with httpx.AsyncClient() as client:
            notifiers = {"webhook": WebhookNotifier(client, hook.url)}
            worker = DeliveryWorker(store, notifiers, clock=lambda: NOW, worker_id="w", batch=2)
            in_digests, alone = await asyncio.gather(
                send_digests(store, notifiers, "me", lambda: NOW), worker.drain())
    finally:
        await hook.close()
        store.close()
    store = Store(pg_url, migrate=False)
    texts = [f"{doc['title']}\n{doc['body']}" for doc in hook.received]
    for chat in chats:
        for i in range(per_chat):
            assert sum(t.count(f"Title of r_{chat}{i}\n") for t in texts) == 1, (chat, i)
    assert in_digests + alone == len(chats) * per_chat
    with store.engine.connect() as conn:
        owners = Counter(conn.execute(sa.select(outbox.c.claimed_by)).scalars())
    assert set(statuses(store)) == {(chat, "sent") for chat in chats}
    assert owners["me"] == in_digests and owners["w"] + owners["me"] == len(chats) * per_chat
    store.close()
    assert in_digests and alone  # the race really happened: each side won some rows
