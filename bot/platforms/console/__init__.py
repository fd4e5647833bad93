"""The console: a chat platform on the local terminal (`cyclewatch chat`).

`PLATFORM` is the registry entry. It is configured only when the settings ask for it
(`console_chat`, set by `cyclewatch chat`), so `cyclewatch run` never reads its stdin.
"""

from __future__ import annotations

from bot.chat.types import CommandHandler
from bot.config import Settings
from bot.notifiers.console import ConsoleNotifier
from bot.platforms.base import Delivery, Intake, Platform


def _configured(settings: Settings) -> bool:
    return settings.console_chat


def _connect(settings: Settings) -> Delivery:
    return Delivery(ConsoleNotifier())


def _intake(settings: Settings, handler: CommandHandler) -> Intake:
    from bot.platforms.console.frontend import ConsoleFrontEnd

    return Intake(ConsoleFrontEnd.from_settings(settings, handler))


PLATFORM = Platform("console", configured=_configured, connect=_connect, intake=_intake)
