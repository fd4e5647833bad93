"""Platform-neutral chat types shared by the commands and the Telegram and Slack front ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.notifiers.base import Button


@dataclass(frozen=True)
class Caller:
    """Who sent a command, from where."""

    platform: str  # "telegram" | "slack" | "console"
    chat_id: str
    user_id: str
    is_group: bool = False
    is_chat_admin: bool = False  # the platform says this user administers the chat
    language_code: str | None = None  # e.g. Telegram's from_user.language_code


@dataclass(frozen=True)
class Reply:
    """What a command answers: text paragraphs, optionally a chart and buttons."""

    text: str
    chart_png: bytes | None = None
    buttons: tuple[Button, ...] = ()
    ephemeral: bool = False  # Slack: visible only to the caller
    extra: dict[str, str] = field(default_factory=dict)


# What a front end calls with each command line: `bot.app.chatside.ChatSide.handler`, or
# `functools.partial(bot.chat.commands.handle, ctx)`; the front end needs only caller + text.
CommandHandler = Callable[[Caller, str], Awaitable[Reply]]
