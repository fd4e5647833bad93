"""The embedded default notifier when no chat platform is configured: prints each alert."""

from __future__ import annotations

import itertools
import sys
from typing import TextIO

from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bot.notifiers.base import Message, Sent

CONSOLE_CHAT = "console"


class ConsoleNotifier:
    """Prints alerts to a terminal (or any text stream); every alert goes to everyone here."""

    platform = "console"

    def __init__(self, stream: TextIO | None = None, *, width: int = 100) -> None:
        self.console = Console(file=stream or sys.stdout, width=width, highlight=False,
                               soft_wrap=False)
        self._ids = itertools.count(1)

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Print the alert as a panel (plain text when `message.plain`)."""
        body = message.body
        if message.buttons:
            body += "\n\n" + "  ".join(f"[{b.label}: {b.action}]" for b in message.buttons)
        if message.plain:
            self.console.print(f"{message.title}\n{body}", markup=False)
        elif cell_len(message.title) + 8 <= self.console.width:
            self.console.print(Panel(Text(body), title=Text(message.title, style="bold")))
        else:  # a title the border would cut short opens the body instead, wrapped
            heading = Text(message.title, style="bold")
            self.console.print(Panel(Text.assemble(heading, "\n\n", body)))
        return Sent((f"console-{next(self._ids)}",))
