"""The route stage: where claimed rows of one chat go now. A move learnt since the claim is
followed (every row with it); an inactive chat (it blocked or left us) ends its rows blocked; a
platform without a notifier retries later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.alerts.claims import Job, OutboxRows
from bot.alerts.migration import follow
from bot.alerts.outcomes import Outcomes
from bot.notifiers.base import Notifier
from bot.store.chats import BatchChats, Chat, Subscriptions
from bot.store.schema import OutboxStatus


@dataclass(frozen=True)
class Target:
    """Where claimed rows go: the chat (after a migration), its language, the notifier."""

    chat_id: str
    lang: str
    notifier: Notifier
    moved: bool  # already followed a migration: a second one is an error
    chat: Chat | None = None  # its settings (quiet hours, zone); None for an unknown chat


class Router:
    """Finds each message's target (every database call in a worker thread)."""

    def __init__(
        self, rows: OutboxRows, subs: Subscriptions, notifiers: Mapping[str, Notifier],
        outcomes: Outcomes,
    ) -> None:
        self.rows = rows
        self.subs = subs
        self.notifiers = notifiers
        self.outcomes = outcomes

    async def route(
        self, jobs: Sequence[Job], *, moved: bool = False
    ) -> tuple[Target, tuple[Job, ...]] | None:
        """The target of these rows (of one chat) and the rows still to send there, as they
        are now; None when none is to go (each row's end is recorded)."""
        platform, chat_id = jobs[0].platform, jobs[0].chat_id
        chat = await self._find(platform, chat_id)
        if chat is not None and chat.migrated_to is not None:
            move = await follow(self.rows, jobs, chat_id, chat.migrated_to)
            if not move.jobs:
                return None
            jobs, chat_id, moved = move.jobs, move.chat_id, True
            chat = await self._find(platform, chat_id)
        if chat is not None and not chat.active:
            for job in jobs:
                await self.outcomes.finish(job, OutboxStatus.BLOCKED,
                                           "chat is inactive (blocked or left)")
            return None
        notifier = self.notifiers.get(platform)
        if notifier is None:
            for job in jobs:
                await self.outcomes.retry_later(job, f"no notifier for platform {platform!r}",
                                                None)
            return None
        lang = chat.lang if chat is not None else "en"
        return Target(chat_id, lang, notifier, moved, chat), tuple(jobs)

    async def _find(self, platform: str, chat_id: str) -> Chat | None:
        """The chat: from the batch's one read when it holds it, else from the store."""
        if isinstance(self.subs, BatchChats) and self.subs.holds(platform, chat_id):
            return self.subs.find(platform, chat_id)
        return await asyncio.to_thread(self.subs.find, platform, chat_id)
