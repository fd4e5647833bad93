"""The parts `cyclewatch replay` puts around the service's delivery: a simulated clock and a
notifier wrapper that marks every message as a replay."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from bot.notifiers.base import Message, Notifier, Sent


class SimClock:
    """The replay's clock: it moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        """The simulated now."""
        return self.now


class ReplayNotifier:
    """Marks every message as a replay of its (simulated) day before the real notifier."""

    def __init__(self, inner: Notifier, clock: SimClock, zone: str) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.clock = clock
        self.zone = zone
        self.sent: list[tuple[datetime, Message]] = []

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Send `message` with a replay mark and its simulated time in the title."""
        from zoneinfo import ZoneInfo

        when = self.clock().astimezone(ZoneInfo(self.zone))
        mark = f"[REPLAY {when:%Y-%m-%d %H:%M %Z}] "
        self.sent.append((self.clock(), message))
        return await self.inner.send(chat_id, dataclasses.replace(
            message, title=mark + message.title,
            body=message.body + "\n\n(a replay of history, not a live alert)"))
