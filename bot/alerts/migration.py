"""Following a chat that moved (a Telegram group that became a supergroup gets a new id): learnt
from the chat's record when routing, or from the platform's answer to a send. Every row of the
message moves with the chat, the subscription once; a row whose alert the new chat already
has ends 'migrated' instead, so no chat gets an alert twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.alerts.claims import Job, OutboxRows

log = logging.getLogger("cyclewatch.outbox")


@dataclass(frozen=True)
class Moved:
    """A followed move: the rows that went to `chat_id` with the chat, as they are now."""

    chat_id: str
    jobs: tuple[Job, ...]
    whole: bool  # every row moved: a message composed for them all still fits


async def follow(rows: OutboxRows, jobs: Sequence[Job], old: str, new: str) -> Moved:
    """Move the chat `old` and these claimed rows of it to `new` (one transaction)."""
    moved = await asyncio.to_thread(rows.migrate, jobs, old, new)
    if len(moved) < len(jobs):
        log.info("chat %s moved to %s, which already has %d of these alert(s)",
                 old, new, len(jobs) - len(moved))
    return Moved(new, tuple(moved), whole=len(moved) == len(jobs))
