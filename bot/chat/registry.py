"""The command registry and what every command receives: `CommandContext` (the service's
parts), `Call` (who, where, the arguments) and `@command`, which `bot.chat.commands` and
`bot.chat.settings` register with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.chat.ratelimit import TokenBucket
from bot.chat.types import Caller, Reply
from bot.evaluate.insight import Insight
from bot.i18n import text
from bot.ingest.calendar import ReleaseCalendar
from bot.runtime.clock import Clock
from bot.store import Store
from bot.store.chats import Chat, Subscriptions


@dataclass
class CommandContext:
    """What commands need: the store, a clock, admin ids, a rate limiter, the rules bridge."""

    store: Store
    clock: Clock
    insight: Insight | None = None
    admins: frozenset[str] = frozenset()
    limiter: TokenBucket = field(default_factory=TokenBucket)
    charts: bool = True  # attach PNG charts to /regime and /why
    # The running service's rules reload (validate, then swap); None outside the service.
    reload: Callable[[], Awaitable[str]] | None = None
    timezone: str = "America/New_York"  # CYCLEWATCH_TZ: the zone of a chat without its own
    calendar: ReleaseCalendar = field(default_factory=ReleaseCalendar)

    @property
    def subs(self) -> Subscriptions:
        """Subscriptions, mutes and chat settings."""
        return Subscriptions(self.store.engine)


@dataclass(frozen=True)
class Call:
    """One command invocation: who, in which chat (with its language), and the arguments."""

    caller: Caller
    chat: Chat
    args: tuple[str, ...]

    @property
    def lang(self) -> str:
        """The chat's language."""
        return self.chat.lang

    def t(self, key: str, **values: object) -> str:
        """A phrase in the chat's language."""
        return text(self.lang, key, **values)


CommandFn = Callable[[CommandContext, Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    """A registered command: its function and whether groups restrict it to admins."""

    name: str
    run: CommandFn
    admin_only: bool = False

    def help(self, lang: str) -> str:
        """The one-line help in `lang` (the docstring's first line in English)."""
        if lang != "en":
            return text(lang, f"help_{self.name}")
        return (self.run.__doc__ or "").strip().splitlines()[0]


COMMANDS: dict[str, Command] = {}


def command(name: str, *, admin_only: bool = False) -> Callable[[CommandFn], CommandFn]:
    """Register a command function under `/name`."""

    def register(fn: CommandFn) -> CommandFn:
        COMMANDS[name] = Command(name, fn, admin_only)
        return fn

    return register
