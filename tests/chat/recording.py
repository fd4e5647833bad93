"""A tiny in-memory notifier for tests: records what it sends, fails as scripted."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.notifiers.base import DeliveryError, Message, Sent


@dataclass
class RecordingNotifier:
    """Raises the scripted DeliveryErrors per chat first, then a random retryable error at
    `failure_rate`, else records the message and returns ids `<chat>:<n>`."""

    platform: str = "telegram"
    failure_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    script: dict[str, list[DeliveryError]] = field(default_factory=lambda: defaultdict(list))
    sent: list[tuple[str, Message]] = field(default_factory=list)
    attempts: int = 0

    def fail_next(self, chat_id: str, *errors: DeliveryError) -> None:
        """Make the next sends to `chat_id` raise these errors, in order."""
        self.script[chat_id].extend(errors)

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Record or fail, after yielding once so concurrent workers interleave."""
        await asyncio.sleep(0)
        self.attempts += 1
        if self.script.get(chat_id):
            raise self.script[chat_id].pop(0)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise DeliveryError("injected 503", retryable=True)
        self.sent.append((chat_id, message))
        return Sent((f"{chat_id}:{len(self.sent)}",))


def record_each(store: Any, found: Sequence[Any], now: datetime) -> None:
    """Record each event as its own evaluation (one second apart, oldest first), so each is
    delivered as its own message: what tests of per-row delivery guarantees want."""
    from bot.alerts.pipeline import Pipeline

    for i, event in enumerate(found):
        Pipeline(store).record([event], now - timedelta(seconds=len(found) - i))
