"""The platform registry: a platform is a registry entry, and ChatSide builds, starts, routes
and delivers through whatever entries it is given; the client libraries load only when used."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.alerts.pipeline import Pipeline
from bot.app.chatside import ChatSide
from bot.chat.types import Caller, CommandHandler
from bot.config import Settings
from bot.evaluate.insight import Insight
from bot.platforms.base import Delivery, Intake, Platform
from bot.platforms.registry import PLATFORMS, configured
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.chats import Subscriptions
from rules import Event, Transition
from tests.chat.recording import RecordingNotifier

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
NO_PLATFORM: dict[str, Any] = {"telegram_bot_token": None, "slack_bot_token": None,
                               "webhook_url": None, "admins": []}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**NO_PLATFORM, **values})  # type: ignore[call-arg]


@dataclass
class FakeFrontEnd:
    """A front end that counts its starts and stops (the first `failures` starts raise)."""

    handler: CommandHandler
    failures: int = 0
    starts: int = 0
    stops: int = 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise ConnectionError("cannot reach the pigeon loft")

    async def stop(self) -> None:
        self.stops += 1


async def _pigeon_route(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="coo")


@dataclass
class FakePlatform:
    """A third chat platform, built only from the registry's types."""

    name: str
    leader_only: bool = False
    failures: int = 0
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    fronts: list[FakeFrontEnd] = field(default_factory=list)
    closed: int = 0

    def __post_init__(self) -> None:
        self.notifier.platform = self.name

    async def close(self) -> None:
        self.closed += 1

    def intake(self, _settings: Settings, handler: CommandHandler) -> Intake:
        self.fronts.append(FakeFrontEnd(handler, failures=self.failures))
        return Intake(self.fronts[-1], leader_only=self.leader_only,
                      routes={f"/{self.name}/commands": _pigeon_route})

    @property
    def entry(self) -> Platform:
        return Platform(self.name, configured=lambda s: True,
                        connect=lambda s: Delivery(self.notifier, closers=(self.close,)),
                        intake=self.intake)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


def test_the_registry_lists_telegram_and_slack_and_picks_by_settings() -> None:
    assert [p.name for p in PLATFORMS] == ["telegram", "slack", "apprise", "console"]
    assert configured(settings()) == []  # the console only for `cyclewatch chat`
    assert [p.name for p in configured(settings(console_chat=True))] == ["console"]
    assert [p.name for p in configured(settings(slack_bot_token="xoxb-1"))] == ["slack"]
    both = settings(slack_bot_token="xoxb-1", telegram_bot_token="123:" + "a" * 35)
    assert [p.name for p in configured(both)] == ["telegram", "slack"]


async def test_a_third_platform_gets_notifier_front_end_route_and_alerts(
    store: Store, files_insight: Insight
) -> None:
    pigeon = FakePlatform("pigeon")
    chat = ChatSide(settings(), store, Metrics(), lambda: NOW,
                    platforms=(*PLATFORMS, pigeon.entry))
    assert chat.chat_on and sorted(chat.notifiers) == ["console", "pigeon"]
    assert chat.implicit_recipients() == []  # a chat platform is on: no console copy
    chat.build_front_ends()
    assert list(chat.http_routes()) == ["/pigeon/commands"] and chat.slack_http_handler() is None
    await chat.start(leader=False)
    (front,) = pigeon.fronts
    assert front.starts == 1
    reply = await front.handler(Caller("pigeon", "77", "u1"), "/help")
    assert "/subscribe" in reply.text  # the shared commands answer on the new platform

    subs = Subscriptions(store.engine)
    subs.ensure_chat("pigeon", "77", is_group=False, language_code="en", now=NOW)
    subs.subscribe("pigeon", "77", "all", NOW)
    qt_ends = files_insight.ruleset.rule("qt_ends")
    Pipeline(store).record([Event(rule=qt_ends, state=Transition.FIRING, date=date(2030, 1, 2),
                                  value=1.0)], NOW)
    assert await chat.deliver()
    [(to, message)] = pigeon.notifier.sent
    assert to == "77" and message.tags["rule"] == "qt_ends"
    assert chat.metrics.deliveries.labels("pigeon", "sent")._value.get() == 1
    await chat.stop()
    assert front.stops == 1 and pigeon.closed == 1


async def test_a_leader_only_front_end_starts_on_the_leader_once(store: Store) -> None:
    owl = FakePlatform("owl", leader_only=True, failures=1)
    chat = ChatSide(settings(), store, Metrics(), lambda: NOW, platforms=(owl.entry,))
    chat.build_front_ends()
    (front,) = owl.fronts
    await chat.start(leader=False)
    assert front.starts == 0
    await chat.on_leadership(True)  # fails: tried again at the next check
    await chat.on_leadership(False)
    assert front.starts == 1
    await chat.on_leadership(True)
    await chat.on_leadership(True)
    assert front.starts == 2  # started once it worked, never twice
    await chat.stop()


async def test_slack_mounts_its_command_route_only_when_signed(store: Store) -> None:
    unsigned = ChatSide(settings(slack_bot_token="xoxb-1"), store, Metrics(), lambda: NOW)
    unsigned.build_front_ends()
    assert unsigned.http_routes() == {}
    signed = ChatSide(settings(slack_bot_token="xoxb-1", slack_signing_secret="s3cret"),
                      store, Metrics(), lambda: NOW)
    signed.build_front_ends()
    assert list(signed.http_routes()) == ["/slack/commands"]
    assert signed.slack_http_handler() is signed.http_routes()["/slack/commands"]
    await unsigned.stop()
    await signed.stop()


LOADED = """
import sys
from bot.app.chatside import ChatSide
from bot.config import load_settings
from bot.runtime.metrics import Metrics
from bot.store import Store
store = Store(sys.argv[1])
chat = ChatSide(load_settings(), store, Metrics(), lambda: None)
chat.build_front_ends()
print(",".join(m for m in ("telegram", "slack_sdk") if m in sys.modules))
"""


@pytest.mark.slow  # a fresh interpreter, to see which libraries it imports
@pytest.mark.parametrize(("env", "loaded"), [
    ({}, ""),
    ({"TELEGRAM_BOT_TOKEN": "123:" + "a" * 35}, "telegram"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "slack_sdk"),
])
def test_a_platform_library_loads_only_when_configured(
    tmp_path: Path, env: dict[str, str], loaded: str
) -> None:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("TELEGRAM_", "SLACK_", "CYCLEWATCH_"))}
    result = subprocess.run(
        [sys.executable, "-c", LOADED, f"sqlite:///{tmp_path / 'bot.db'}"],
        cwd=tmp_path, env={**clean, **env, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == loaded
