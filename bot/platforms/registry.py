"""The chat platforms the service knows. Adding one: a folder `bot/platforms/<name>/` whose
`__init__.py` defines `PLATFORM` (see `bot.platforms.base.Platform`), its settings in
`bot/config.py`, and one entry below."""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import Settings
from bot.platforms import apprise, console, slack, telegram
from bot.platforms.base import Platform

PLATFORMS: tuple[Platform, ...] = (
    telegram.PLATFORM, slack.PLATFORM, apprise.PLATFORM, console.PLATFORM)


def configured(settings: Settings, platforms: Sequence[Platform] = PLATFORMS) -> list[Platform]:
    """The platforms these settings turn on, in registry order."""
    return [platform for platform in platforms if platform.configured(settings)]
