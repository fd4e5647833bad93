"""Apprise: every service Apprise reaches (Discord, Matrix, e-mail, ntfy, Pushover, Teams, ...)
as one platform, configured by URL in CYCLEWATCH_APPRISE_URLS (docs/operations.md).

`PLATFORM` is the registry entry; apprise is imported only when it is configured. Connecting
makes each URL's chat hold its filter's subscriptions in the store, so the pipeline routes to
it as to any chat (and `cyclewatch replay --to-chats` finds it). Apprise targets send only:
the front end takes no commands.
"""

from __future__ import annotations

from bot.chat.types import CommandHandler
from bot.config import Settings
from bot.platforms.apprise.targets import parse_targets, sync_subscriptions
from bot.platforms.base import Delivery, Intake, Platform
from bot.runtime.clock import utc_now


class SendOnly:
    """The front end of a platform that takes no commands."""

    async def start(self) -> None:
        """Nothing to listen to."""

    async def stop(self) -> None:
        """Nothing to stop."""


def _urls(settings: Settings) -> str:
    return settings.apprise_urls.get_secret_value() if settings.apprise_urls else ""


def _configured(settings: Settings) -> bool:
    return bool(_urls(settings).strip())


def _connect(settings: Settings) -> Delivery:
    from bot.platforms.apprise.notifier import AppriseNotifier
    from bot.store import Store
    from bot.store.chats import Subscriptions

    targets = parse_targets(_urls(settings))
    notifier = AppriseNotifier(targets)  # refuses an unknown service before touching the store
    store = Store(settings.db_url)
    try:
        sync_subscriptions(Subscriptions(store.engine), targets, utc_now())
    finally:
        store.close()
    return Delivery(notifier)


def _intake(settings: Settings, handler: CommandHandler) -> Intake:
    return Intake(SendOnly())


PLATFORM = Platform("apprise", configured=_configured, connect=_connect, intake=_intake)
