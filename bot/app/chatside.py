"""The chat side of the service: notifiers (with metrics), the delivery worker, the command
context, and the Telegram and Slack front ends, built from the settings and run in the loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.app.http import Handler
from bot.chat.types import Caller, Reply
from bot.config import Settings
from bot.notifiers.base import DeliveryError, Message, Notifier, Sent
from bot.notifiers.console import CONSOLE_CHAT, ConsoleNotifier
from bot.notifiers.webhook import WebhookNotifier
from bot.runtime.clock import Clock
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.schema import outbox
from rules import RuleSet

if TYPE_CHECKING:  # the platform libraries are imported only when a platform is configured
    from bot.chat.commands import CommandContext
    from bot.platforms.slack.frontend import SlackFrontEnd
    from bot.platforms.telegram.frontend import TelegramFrontEnd

log = logging.getLogger("cyclewatch")


class MeteredNotifier:
    """Wraps a notifier to count deliveries by outcome and time each send."""

    def __init__(self, inner: Notifier, metrics: Metrics) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.metrics = metrics

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Send through the wrapped notifier, recording the outcome."""
        started = time.monotonic()
        try:
            sent = await self.inner.send(chat_id, message)
        except DeliveryError as err:
            outcome = ("retry" if err.retryable else "blocked" if err.blocked
                       else "malformed" if err.malformed else "migrated" if err.migrated_to
                       else "failed")
            self.metrics.deliveries.labels(self.platform, outcome).inc()
            if err.retryable:
                self.metrics.delivery_retries.labels(self.platform).inc()
            raise
        finally:
            self.metrics.delivery_seconds.observe(time.monotonic() - started)
        self.metrics.deliveries.labels(self.platform, "sent").inc()
        return sent


def worker_id() -> str:
    """This process's name in outbox claims: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ChatSide:
    """Builds and runs delivery and the chat front ends for the configured platforms."""

    def __init__(
        self, settings: Settings, store: Store, metrics: Metrics, clock: Clock
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.http = httpx.AsyncClient(timeout=30.0)
        self.notifiers: dict[str, Notifier] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        if settings.telegram_bot_token is not None:
            from bot.platforms.telegram.notifier import TelegramNotifier

            telegram = TelegramNotifier.from_settings(settings)
            self.notifiers["telegram"] = telegram
            self._closers.append(telegram.close)
        if settings.slack_bot_token is not None:
            from bot.platforms.slack.notifier import SlackNotifier

            self.notifiers["slack"] = SlackNotifier.from_settings(settings)
        if settings.webhook_url:
            self.notifiers["webhook"] = WebhookNotifier(self.http, settings.webhook_url)
        self.notifiers["console"] = ConsoleNotifier()
        self.worker = DeliveryWorker(
            store, {name: MeteredNotifier(n, metrics) for name, n in self.notifiers.items()},
            clock=clock, worker_id=worker_id(),
        )
        # Chat commands (and their charting libraries) only when a chat platform is on.
        self.context: CommandContext | None = None
        if self.chat_on:
            from bot.chat.commands import CommandContext

            self.context = CommandContext(
                store=store, clock=clock, admins=frozenset(settings.admins)
            )
        self.telegram: TelegramFrontEnd | None = None
        self._telegram_started = False
        self.slack: SlackFrontEnd | None = None

    @property
    def chat_on(self) -> bool:
        """Whether Telegram or Slack is configured."""
        return bool({"telegram", "slack"} & self.notifiers.keys())

    def implicit_recipients(self) -> list[tuple[str, str]]:
        """Who gets every alert without subscribing: the console with no chat platform, and
        the generic webhook when one is configured."""
        found = [] if self.chat_on else [("console", CONSOLE_CHAT)]
        if "webhook" in self.notifiers:
            found.append(("webhook", "webhook"))
        return found

    def offer_reload(self, reload: Callable[[], Awaitable[str]]) -> None:
        """Give the chat commands a way to reload the rules (an admin's /reload)."""
        if self.context is not None:
            self.context.reload = reload

    async def tell_admins(self, title: str, body: str) -> None:
        """Send a notice to every admin (CYCLEWATCH_ADMINS entries like `telegram:12345`)."""
        for admin in self.settings.admins:
            platform, _, chat_id = admin.partition(":")
            notifier = self.notifiers.get(platform)
            if notifier is None or not chat_id:
                log.warning("admin %r: no %s notifier configured", admin, platform or "?")
                continue
            try:
                await notifier.send(chat_id, Message(title=title, body=body, plain=True))
            except DeliveryError as err:
                log.warning("could not tell admin %s: %s", admin, err)

    def use_rules(self, ruleset: RuleSet | None) -> None:
        """Answer /regime, /why and /rules from this rule set (called at start and on reload),
        and draw alert charts from it (only where a chat platform shows them)."""
        if self.context is None:
            return
        from bot.chat.views import alert_chart
        from bot.evaluate.insight import Insight

        insight = Insight.from_store(ruleset, self.store) if ruleset is not None else None
        self.context.insight = insight
        if insight is not None:
            self.worker.chart_for = alert_chart(insight)

    async def handler(self, caller: Caller, line: str) -> Reply:
        """The one command entry point both front ends call."""
        from bot.chat.commands import handle

        assert self.context is not None  # front ends exist only with a chat platform
        return await handle(self.context, caller, line)

    def slack_http_handler(self) -> Handler | None:
        """POST /slack/commands, when SLACK_SIGNING_SECRET is set."""
        if self.slack is None or self.settings.slack_signing_secret is None:
            return None
        return self.slack.handle_http

    def build_front_ends(self) -> None:
        """Create the front ends (before the HTTP server starts, so its route exists)."""
        if self.settings.telegram_bot_token is not None:
            from bot.platforms.telegram.frontend import TelegramFrontEnd

            self.telegram = TelegramFrontEnd.from_settings(self.settings, self.handler)
        if self.settings.slack_bot_token is not None:
            from bot.platforms.slack.frontend import SlackFrontEnd

            self.slack = SlackFrontEnd.from_settings(self.settings, self.handler)

    async def start(self, *, leader: bool) -> None:
        """Start Slack Socket Mode, and Telegram when this process may take its updates."""
        await self._start("slack", self.slack)
        await self.on_leadership(leader)

    async def on_leadership(self, leader: bool) -> None:
        """Telegram gives updates to one poller per bot: with polling, only the leader asks
        (a webhook can be served anywhere). A new leader starts polling; it is never stopped
        by losing the lead, which happens when the process is dying anyway."""
        if self.telegram is None or self._telegram_started:
            return
        if leader or self.settings.telegram_webhook_url:
            self._telegram_started = True  # before awaiting: the leader check may call again
            self._telegram_started = await self._start("telegram", self.telegram)

    @staticmethod
    async def _start(name: str, front: TelegramFrontEnd | SlackFrontEnd | None) -> bool:
        if front is None:
            return False
        try:
            await front.start()
        except Exception as err:  # alerts still go out; commands wait for a restart
            log.error("%s front end did not start: %s", name, err)
            return False
        return True

    async def deliver(self) -> bool:
        """Drain what is due now; True (retries are the worker's business)."""
        await self.worker.drain()
        return True

    async def stop(self) -> None:
        """Stop the front ends, hand back claims left in flight, close the clients."""
        for front in (self.telegram, self.slack):
            if front is not None:
                try:
                    await front.stop()
                except Exception as err:
                    log.warning("front end stop: %s", err)
        released = await asyncio.to_thread(self.release_claims)
        if released:
            log.info("released %d delivery claim(s) for the next run", released)
        for close in self._closers:
            await close()
        await self.http.aclose()

    def release_claims(self) -> int:
        """Put this process's unfinished sends back to pending (a clean stop, not a crash)."""
        with self.store.engine.begin() as conn:
            result = conn.execute(
                outbox.update()
                .where(outbox.c.status == "sending", outbox.c.claimed_by == self.worker.worker_id)
                .values(status="pending", claimed_by=None, claimed_at=None,
                        next_attempt_at=self.clock())
            )
        return int(result.rowcount or 0)

    def release_dead_claims(self) -> int:
        """Sends claimed by a process of this host that no longer runs (it crashed) go back to
        pending now, instead of after the claim timeout; other hosts' claims are left alone."""
        host = socket.gethostname()
        with self.store.engine.begin() as conn:
            owners = conn.execute(
                sa.select(outbox.c.claimed_by).distinct().where(
                    outbox.c.status == "sending", outbox.c.claimed_by.like(f"{host}:%"))
            ).scalars().all()
            dead = [o for o in owners if o and not _alive(o.rsplit(":", 1)[1])]
            if not dead:
                return 0
            result = conn.execute(
                outbox.update()
                .where(outbox.c.status == "sending", outbox.c.claimed_by.in_(dead))
                .values(status="pending", claimed_by=None, claimed_at=None,
                        next_attempt_at=self.clock())
            )
        count = int(result.rowcount or 0)
        log.info("took back %d delivery claim(s) of a stopped process", count)
        return count

    def describe(self) -> str:
        """Which notifiers are on."""
        return "notifiers " + ", ".join(sorted(self.notifiers))



def _alive(pid_text: str) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):  # not a pid we can judge, or someone else's: alive
        return True
    return True
