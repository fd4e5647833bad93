"""What a chat platform offers the service: a registry entry (`Platform`) that says whether the
platform is configured and builds its notifier and its front end on demand.

The builders import the platform's client library themselves, so python-telegram-bot or
slack-sdk is loaded only when that platform is configured (idle memory, start-up time).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from bot.chat.types import CommandHandler
from bot.config import Settings
from bot.notifiers.base import Notifier

Closer = Callable[[], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenRejected(Exception):
    """The platform refused a configured token (Telegram 401, Slack `invalid_auth`): a
    setting to fix, not a network hiccup, so it is retried slowly and shown on /healthz."""

    def __init__(self, variable: str, platform: str) -> None:
        super().__init__(f"{variable} was rejected by {platform}")
        self.variable = variable
        self.platform = platform


# Front ends that notice a rejection after start call this (ChatSide sets `on_rejected`).
OnRejected = Callable[[TokenRejected], None]


class FrontEnd(Protocol):
    """Takes commands from a platform and answers them through the command handler."""

    async def start(self) -> None:
        """Begin taking updates (polling, a socket, a webhook server)."""
        ...

    async def stop(self) -> None:
        """Stop taking updates and finish the answers in flight."""
        ...


@dataclass(frozen=True)
class Delivery:
    """A platform's notifier and what to close when the service stops."""

    notifier: Notifier
    closers: tuple[Closer, ...] = ()


@dataclass(frozen=True)
class Intake:
    """A platform's front end, where it may run, and the HTTP routes it serves."""

    front: FrontEnd
    # Telegram hands its updates to one poller per bot: with polling, only the leader asks.
    leader_only: bool = False
    routes: Mapping[str, Handler] = field(default_factory=dict)  # POST path -> handler


@dataclass(frozen=True)
class Platform:
    """One chat platform in the registry (`bot.platforms.registry.PLATFORMS`)."""

    name: str  # the `platform` of its notifier, chats and outbox rows
    configured: Callable[[Settings], bool]
    connect: Callable[[Settings], Delivery]
    intake: Callable[[Settings, CommandHandler], Intake]
