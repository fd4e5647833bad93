"""The catch-up digest: at start, a chat with several alerts waiting (created while the bot was
down, or left undelivered) gets them as ONE message; the outbox rows are marked sent together.

A failed digest puts the rows back to pending, so the delivery worker sends them one by one:
nothing is dropped, and a row already sent is never part of a digest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from bot.alerts.render import render_alert
from bot.notifiers.base import Message, Notifier
from bot.runtime.clock import Clock
from bot.store import Store
from bot.store.schema import chats, events, outbox

log = logging.getLogger("cyclewatch.digest")
MAX_BODY = 12_000  # notifiers split long text; keep a digest to a few platform messages


def claim_waiting(store: Store, worker_id: str, now: datetime) -> dict[tuple[str, str], list[
        tuple[int, dict[str, object]]]]:
    """Claim the due rows of every chat that has at least two; (platform, chat) -> rows."""
    due = sa.and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
    with store.engine.begin() as conn:
        crowded = conn.execute(
            sa.select(outbox.c.platform, outbox.c.chat_id).where(due)
            .group_by(outbox.c.platform, outbox.c.chat_id).having(sa.func.count() > 1)
        ).all()
        claimed: dict[tuple[str, str], list[tuple[int, dict[str, object]]]] = defaultdict(list)
        for platform, chat_id in crowded:
            rows = conn.execute(
                sa.select(outbox.c.id, events.c.payload)
                .join(events, events.c.id == outbox.c.event_id)
                .where(due, outbox.c.platform == platform, outbox.c.chat_id == chat_id)
                .order_by(events.c.obs_date, outbox.c.id)
            ).all()
            for row_id, payload in rows:
                taken = conn.execute(
                    outbox.update().where(outbox.c.id == row_id, due).values(
                        status="sending", claimed_by=worker_id, claimed_at=now,
                        attempts=outbox.c.attempts + 1)
                ).rowcount
                if taken:  # another process may have claimed it meanwhile
                    claimed[(platform, chat_id)].append((row_id, dict(payload)))
    return {chat: rows for chat, rows in claimed.items() if rows}


def compose(payloads: list[dict[str, object]], lang: str) -> Message:
    """One message listing every alert, oldest observation first."""
    parts = []
    for payload in payloads:
        alert = render_alert(payload, lang)
        parts.append(f"{alert.title}\n{alert.body}")
    body = "\n\n".join(parts)
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY].rsplit("\n", 1)[0] + "\n…"
    title = f"{len(payloads)} changes while cyclewatch was not running"
    return Message(title=title, body=body, tags={"digest": str(len(payloads))})


def _language(store: Store, platform: str, chat_id: str) -> str:
    with store.engine.connect() as conn:
        lang = conn.execute(sa.select(chats.c.lang).where(
            chats.c.platform == platform, chats.c.chat_id == chat_id)).scalar()
    return str(lang or "en")


def _finish(store: Store, ids: list[int], worker_id: str, values: Mapping[str, object]) -> None:
    with store.engine.begin() as conn:
        conn.execute(outbox.update().where(
            outbox.c.id.in_(ids), outbox.c.status == "sending",
            outbox.c.claimed_by == worker_id).values(**values))


async def send_digests(
    store: Store, notifiers: Mapping[str, Notifier], worker_id: str,
    clock: Clock,
) -> int:
    """Send one digest per crowded chat; return how many alerts went out in digests."""
    claimed = await asyncio.to_thread(claim_waiting, store, worker_id, clock())
    sent_alerts = 0
    for (platform, chat_id), rows in claimed.items():
        ids = [row_id for row_id, _ in rows]
        notifier = notifiers.get(platform)
        back = {"status": "pending", "claimed_by": None, "claimed_at": None}
        if notifier is None:
            await asyncio.to_thread(_finish, store, ids, worker_id, back)
            continue
        lang = await asyncio.to_thread(_language, store, platform, chat_id)
        try:
            sent = await notifier.send(chat_id, compose([p for _, p in rows], lang))
        except Exception as err:  # DeliveryError or worse: the worker sends them one by one
            log.warning("digest to %s:%s not sent (%s); sending the alerts one by one",
                        platform, chat_id, err)
            await asyncio.to_thread(_finish, store, ids, worker_id, back)
            continue
        done = {"status": "sent", "message_ids": list(sent.message_ids), "sent_at": clock(),
                "last_error": None}
        await asyncio.to_thread(_finish, store, ids, worker_id, done)
        sent_alerts += len(ids)
    if sent_alerts:
        log.info("catch-up: %d alert(s) sent as %d digest(s)", sent_alerts, len(claimed))
    return sent_alerts
