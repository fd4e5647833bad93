"""The chat side of the service: the configured platforms (from `bot.platforms.registry`),
their notifiers with metrics, the generic webhook and console, the delivery worker, the
command context, and the front ends, built from the settings and run in the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from bot.alerts.claims import worker_id
from bot.alerts.outbox import DeliveryWorker
from bot.chat.types import Caller, Reply
from bot.config import Settings
from bot.notifiers.base import DeliveryError, Message, Notifier
from bot.notifiers.console import CONSOLE_CHAT, ConsoleNotifier
from bot.notifiers.metered import MeteredNotifier
from bot.notifiers.webhook import WebhookNotifier
from bot.platforms.base import Closer, Handler, Intake, Platform, TokenRejected
from bot.platforms.registry import PLATFORMS, configured
from bot.runtime.clock import Clock
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.faults import Retry
from rules import RuleSet

if TYPE_CHECKING:  # the commands pull in the charting libraries: only with a chat platform
    from bot.chat.commands import CommandContext

log = logging.getLogger("cyclewatch")
# A refused token needs a person to change a setting: asking Telegram or Slack again every
# few seconds would only fill the log (and may get the bot's address rate-limited).
TOKEN_RETRY_SECONDS = 600.0


def _every(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


class ChatSide:
    """Builds and runs delivery and the chat front ends for the configured platforms."""

    def __init__(
        self, settings: Settings, store: Store, metrics: Metrics, clock: Clock,
        *, platforms: Sequence[Platform] = PLATFORMS,
        token_retry_seconds: float = TOKEN_RETRY_SECONDS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.platforms = configured(settings, platforms)
        self.http = httpx.AsyncClient(timeout=30.0)
        self.notifiers: dict[str, Notifier] = {}
        self._closers: list[Closer] = []
        for platform in self.platforms:
            delivery = platform.connect(settings)
            self.notifiers[platform.name] = delivery.notifier
            self._closers.extend(delivery.closers)
        if settings.webhook_url:
            self.notifiers["webhook"] = WebhookNotifier(self.http, settings.webhook_url)
        self.notifiers["console"] = ConsoleNotifier()
        self.worker = DeliveryWorker(
            store, {name: MeteredNotifier(n, metrics) for name, n in self.notifiers.items()},
            clock=clock, worker_id=worker_id(),
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            retry=Retry(on_fault=metrics.storage_retries.inc),
        )
        self.context: CommandContext | None = None
        if self.chat_on:
            from bot.chat.commands import CommandContext

            self.context = CommandContext(
                store=store, clock=clock, admins=frozenset(settings.admins),
                timezone=settings.timezone,
            )
        self.intakes: dict[str, Intake] = {}
        self._started: set[str] = set()
        self.down: dict[str, str] = {}  # platform -> why its front end is down (/healthz)
        self.token_retry_seconds = token_retry_seconds
        self.answering = 0  # commands being answered now (background warm-ups wait for 0)
        self._leader = False
        self._retries: dict[str, asyncio.Task[None]] = {}

    @property
    def chat_on(self) -> bool:
        """Whether a chat platform (Telegram, Slack, ...) is configured."""
        return bool(self.platforms)

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
        from bot.briefing.attach import with_briefing_chart
        from bot.chat.views import alert_chart, alert_numbers
        from bot.evaluate.insight import Insight

        insight = Insight.from_store(ruleset, self.store) if ruleset is not None else None
        self.context.insight = insight
        if insight is not None:
            self.worker.chart_for = with_briefing_chart(alert_chart(insight), insight)
            self.worker.numbers_for = alert_numbers(insight)

    async def handler(self, caller: Caller, line: str) -> Reply:
        """The one command entry point every front end calls."""
        from bot.chat.commands import handle

        assert self.context is not None  # front ends exist only with a chat platform
        self.answering += 1
        try:
            return await handle(self.context, caller, line)
        finally:
            self.answering -= 1

    def http_routes(self) -> dict[str, Handler]:
        """The POST routes the front ends serve on the service's HTTP server, by path."""
        return {path: handler for intake in self.intakes.values()
                for path, handler in intake.routes.items()}

    def slack_http_handler(self) -> Handler | None:
        """POST /slack/commands, when SLACK_SIGNING_SECRET is set (see `http_routes`)."""
        return self.http_routes().get("/slack/commands")

    def build_front_ends(self) -> None:
        """Create the front ends (before the HTTP server starts, so their routes exist)."""
        for platform in self.platforms:
            self.intakes[platform.name] = intake = platform.intake(self.settings, self.handler)
            use_metrics = getattr(intake.front, "use_metrics", None)  # skipped/limited counts
            if use_metrics is not None:
                use_metrics(self.metrics)
            if hasattr(intake.front, "on_rejected"):  # a token revoked while running
                intake.front.on_rejected = (
                    lambda err, name=platform.name: self._rejected(name, err))

    async def start(self, *, leader: bool) -> None:
        """Start the front ends any process may run, then those the leader alone runs."""
        for name, intake in self.intakes.items():
            if not intake.leader_only:
                await self._start(name)
        await self.on_leadership(leader)

    async def on_leadership(self, leader: bool) -> None:
        """A new leader starts the leader-only front ends (Telegram polling). They are never
        stopped by losing the lead, which happens when the process is dying anyway; one that
        failed to start is tried again at the next check."""
        self._leader = leader
        if not leader:
            return
        for name, intake in self.intakes.items():
            if intake.leader_only and name not in self._started:
                await self._start(name)

    async def _start(self, name: str) -> None:
        self._started.add(name)  # before awaiting: the leader check may call again
        try:
            await self.intakes[name].front.start()
        except TokenRejected as err:
            self._rejected(name, err)
            return
        except Exception as err:  # alerts still go out; commands wait for a retry or restart
            log.error("%s front end did not start: %s", name, err)
            self._started.discard(name)
            return
        if self.down.pop(name, None) is not None:
            log.info("%s accepted the token again: its front end is up", name)

    def _rejected(self, name: str, err: TokenRejected) -> None:
        """A refused token: one ERROR line per outage, /healthz degraded, a slow retry."""
        if name not in self.down:
            log.error("%s; fix the setting (chat commands on %s are off; it is tried again "
                      "every %s)", err, err.platform, _every(self.token_retry_seconds))
        self.down[name] = f"token rejected ({err.variable})"
        self._started.add(name)  # the leader check must not retry it every few seconds
        retry = self._retries.get(name)
        if retry is None or retry.done():
            self._retries[name] = asyncio.get_running_loop().create_task(self._retry(name))

    async def _retry(self, name: str) -> None:
        await asyncio.sleep(self.token_retry_seconds)
        try:  # a front end whose polling ended on a 401 is stopped before it starts again
            await self.intakes[name].front.stop()
        except Exception as err:
            log.debug("%s front end stop before retry: %s", name, err)
        self._started.discard(name)
        self._retries.pop(name, None)  # this task is ending: a new refusal schedules anew
        if self._leader or not self.intakes[name].leader_only:
            await self._start(name)

    async def deliver(self) -> bool:
        """Drain what is due now; True (retries are the worker's business)."""
        await self.worker.drain()
        return True

    async def stop(self) -> None:
        """Stop the front ends, hand back claims left in flight, close the clients."""
        for retry in self._retries.values():
            retry.cancel()
        for intake in self.intakes.values():
            try:
                await intake.front.stop()
            except Exception as err:
                log.warning("front end stop: %s", err)
        released = await asyncio.to_thread(self.worker.release_claims)
        if released:
            log.info("released %d delivery claim(s) for the next run", released)
        for close in self._closers:
            await close()
        await self.http.aclose()

    def keep_lease(self) -> None:
        """Renew the delivery worker's lease on its claims (see `DeliveryWorker.keep_lease`)."""
        self.worker.keep_lease()

    def release_dead_claims(self) -> int:
        """Sends claimed by a process of this host that no longer runs (it crashed) go back to
        pending now, instead of after the claim timeout; other hosts' claims are left alone."""
        return self.worker.release_dead_claims()

    def describe(self) -> str:
        """Which notifiers are on, and which platforms are down (a refused token)."""
        up = ", ".join(sorted(name for name in self.notifiers if name not in self.down))
        down = "".join(f"; {name} DOWN ({why})" for name, why in sorted(self.down.items()))
        return f"notifiers {up}{down}"
