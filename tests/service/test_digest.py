"""The catch-up digest over the real webhook notifier and a wire-level fake receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
import sqlalchemy as sa

from bot.alerts.digest import send_digests
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
