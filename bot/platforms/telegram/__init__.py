"""Telegram: the notifier (Bot API) and the front end (polling or webhook).

`PLATFORM` is the registry entry; python-telegram-bot is imported only when it is used.
"""

from __future__ import annotations

from bot.chat.types import CommandHandler
from bot.config import Settings
from bot.platforms.base import Delivery, Intake, Platform


def _configured(settings: Settings) -> bool:
    return settings.telegram_bot_token is not None


def _connect(settings: Settings) -> Delivery:
    from bot.platforms.telegram.notifier import TelegramNotifier

    notifier = TelegramNotifier.from_settings(settings)
    return Delivery(notifier, closers=(notifier.close,))


def _intake(settings: Settings, handler: CommandHandler) -> Intake:
    from bot.platforms.telegram.frontend import TelegramFrontEnd

    # A webhook can be served by any process; polling only by the leader.
    return Intake(TelegramFrontEnd.from_settings(settings, handler),
                  leader_only=not settings.telegram_webhook_url)


PLATFORM = Platform("telegram", configured=_configured, connect=_connect, intake=_intake)
