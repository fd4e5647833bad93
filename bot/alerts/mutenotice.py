"""Tell a chat when one of its mutes runs out (each expired mute is announced once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from bot.i18n import text
from bot.notifiers.base import Button, DeliveryError, Message, Notifier
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import mutes

log = logging.getLogger("cyclewatch.mutes")


def take_expired(store: Store, now: datetime) -> list[tuple[str, str, str]]:
    """Remove mutes that ended by `now`; (platform, chat, rule) of each, to one caller only."""
    with store.engine.begin() as conn:
        rows = conn.execute(
            mutes.delete()
            .where(mutes.c.until <= now)
            .returning(mutes.c.platform, mutes.c.chat_id, mutes.c.rule_id)
        ).all()
    return sorted({(r.platform, r.chat_id, r.rule_id) for r in rows})


async def announce_expired_mutes(
    store: Store, notifiers: Mapping[str, Notifier], now: datetime
) -> int:
    """Send "mute ended" to each chat whose mute expired; how many notices went out.

    A notice that cannot be sent is logged, not retried: the mute itself has ended either way.
    """
    subs = Subscriptions(store.engine)
    sent = 0
    for platform, chat_id, rule_id in await asyncio.to_thread(take_expired, store, now):
        notifier = notifiers.get(platform)
        if notifier is None:
            continue
        lang = await asyncio.to_thread(subs.language, platform, chat_id)
        message = Message(
            title=text(lang, "mute_expired_title"),
            body=text(lang, "mute_expired", rule=rule_id),
            buttons=(Button(text(lang, "button_mute_7d"), f"/mute {rule_id} 7d"),),
            tags={"rule": rule_id, "kind": "mute_expired"},
        )
        try:
            await notifier.send(chat_id, message)
        except DeliveryError as err:
            log.warning("mute-ended notice to %s:%s not sent: %s", platform, chat_id, err)
            continue
        sent += 1
    return sent


def active_mutes(store: Store, platform: str, chat_id: str, now: datetime) -> list[str]:
    """The chat's rules muted at `now`, sorted."""
    with store.engine.connect() as conn:
        return sorted(
            conn.execute(
                sa.select(mutes.c.rule_id).where(
                    mutes.c.platform == platform, mutes.c.chat_id == chat_id, mutes.c.until > now
                )
            ).scalars()
        )
