"""The Telegram front end: python-telegram-bot Application (long polling, or a webhook with a
secret token served by bot.platforms.telegram.webhook) that turns commands and button presses
into `handle(caller, text)` calls and sends the Reply with the notifier's escaping, splitting
and photo handling.

Intake cannot be blocked: an update python-telegram-bot cannot read is acknowledged (in
polling replaced by an empty one), logged once and counted; a user over the rate limit gets
one notice per window and is then ignored before taking a concurrency slot; polling errors
back off; `stop()` abandons answers still running after `stop_grace` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chat.ratelimit import CommandGate, Verdict
from bot.chat.types import Caller, CommandHandler, Reply
from bot.config import Settings, host_port
from bot.i18n import normalize
from bot.i18n import text as phrase
from bot.notifiers.base import DeliveryError, Message
from bot.platforms.base import OnRejected, TokenRejected
from bot.platforms.telegram.notifier import TelegramNotifier, TelegramRateLimiter
from bot.platforms.telegram.updates import READERS, UpdateReader
from bot.platforms.telegram.webhook import WebhookIntake
from bot.runtime.httpserver import HttpLimits, HttpServer
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

COMMAND_FAILED = "Sorry, that command failed. Please try again later."
_ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
STOP_GRACE = 5.0  # seconds answers in flight get at stop before they are abandoned
REJECTED = TokenRejected("TELEGRAM_BOT_TOKEN", "Telegram")


def command_line(text: str, bot_username: str | None) -> str:
    """`/regime@cwbot 2024-01-05` -> `/regime 2024-01-05` (a mention of another bot is kept)."""
    head, _, rest = text.strip().partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return text.strip()
    return f"{name} {rest.strip()}".strip()


class TelegramFrontEnd:
    """Serves chat commands on Telegram; `start()`/`stop()` run inside an existing loop."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        handler: CommandHandler,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_listen: tuple[str, int] = ("127.0.0.1", 8443),
        admin_cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        limiter: TelegramRateLimiter | None = None,
        gate: CommandGate | None = None,
        stop_grace: float = STOP_GRACE,
        webhook_limits: HttpLimits | None = None,
    ) -> None:
        if webhook_url and not webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET as well")
        self.app = application
        self.handler = handler
        self.notifier = TelegramNotifier(application.bot, limiter=limiter)
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_listen = webhook_listen
        self.webhook_limits = webhook_limits or HttpLimits()
        self.webhook_server: HttpServer | None = None
        self._admin_cache: dict[tuple[int, int], tuple[float, asyncio.Future[bool | None]]] = {}
        self._admin_ttl = admin_cache_seconds
        self._clock = clock
        self.gate = gate or CommandGate()
        self.stop_grace = stop_grace
        self.metrics: Metrics | None = None
        self._answering: set[asyncio.Task[Any]] = set()
        self.on_rejected: OnRejected | None = None  # set by the service: a token revoked later
        self.reader = READERS.get(application)
        if self.reader is not None:
            self.reader.on_skip = self._count_skip
            self.reader.on_unauthorized = self._unauthorized
        # New messages and channel posts only: an edited "/subscribe" must not run again.
        fresh = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        application.add_handler(MessageHandler(filters.COMMAND & fresh, self._on_command))
        application.add_handler(CallbackQueryHandler(self._on_button))
        application.add_error_handler(self._on_error)

    @classmethod
    def from_settings(
        cls, settings: Settings, handler: CommandHandler
    ) -> TelegramFrontEnd:
        """Build the Application from TELEGRAM_* settings (base URL included)."""
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        secret = settings.telegram_webhook_secret
        return cls(
            build_application(settings.telegram_bot_token.get_secret_value(),
                              settings.telegram_api_url),
            handler,
            webhook_url=settings.telegram_webhook_url,
            webhook_secret=secret.get_secret_value() if secret else None,
            webhook_listen=host_port(settings.telegram_webhook_listen),
            webhook_limits=HttpLimits.from_settings(settings),
        )

    async def start(self) -> None:
        """Initialize the bot, start update processing, then polling or the webhook server;
        a token Telegram refuses raises TokenRejected."""
        try:
            await self.app.initialize()  # getMe: a 401 here is the token, not the network
        except InvalidToken as err:
            await self.app.bot.shutdown()  # its connections; initialize() opens them again
            raise REJECTED from err
        await self.app.start()
        if self.webhook_url:
            await self._serve_webhook(self.webhook_url, self.webhook_secret or "")
        elif self.app.updater is not None:
            await self.app.updater.start_polling(poll_interval=0.0, timeout=10,
                                                 error_callback=self._poll_failed)

    async def _serve_webhook(self, url: str, secret: str) -> None:
        """Listen first, then tell Telegram where to send updates."""
        intake = WebhookIntake(self.app, path=urlparse(url).path, secret=secret,
                               on_skip=self._count_skip)
        host, port = self.webhook_listen
        server = HttpServer(intake.web_app(self.metrics, self.webhook_limits.max_body),
                            f"{host}:{port}", limits=self.webhook_limits,
                            name="Telegram webhook")
        await server.start()
        self.webhook_server = server
        try:
            await self.app.bot.set_webhook(url=url, secret_token=secret,
                                           drop_pending_updates=False)
        except BaseException:
            await self._stop_webhook()
            raise
        log.info("telegram webhook listening on http://%s:%s%s", host, server.bound_port,
                 intake.path)

    @property
    def webhook_port(self) -> int | None:
        """The port the webhook listens on (the one the system chose for port 0)."""
        return self.webhook_server.bound_port if self.webhook_server is not None else None

    async def _stop_webhook(self) -> None:
        if self.webhook_server is not None:
            server, self.webhook_server = self.webhook_server, None
            await server.stop()

    def use_metrics(self, metrics: Metrics) -> None:
        """Count skipped updates and rate-limited commands in these metrics."""
        self.metrics = metrics

    def _count_skip(self) -> None:
        if self.metrics is not None:
            self.metrics.chat_updates_skipped.labels("telegram").inc()

    def _unauthorized(self) -> None:
        if self.on_rejected is not None:
            self.on_rejected(REJECTED)

    def _poll_failed(self, err: TelegramError) -> None:
        # The library backs off (1 s growing to 30 s); one line per outage, no tracebacks.
        if self.reader is not None:
            self.reader.latch.failed(f"{type(err).__name__}: {err}")

    async def stop(self) -> None:
        """Stop polling/webhook, give answers in flight `stop_grace` s, then shut down."""
        await self._stop_webhook()
        if self.app.updater is not None and self.app.updater.running:
            try:
                await self.app.updater.stop()
            except InvalidToken:  # polling had ended on a revoked token; stop the rest
                log.debug("telegram polling had ended on a refused token")
        if self._answering:
            _done, late = await asyncio.wait(set(self._answering), timeout=self.stop_grace)
            for task in late:
                task.cancel()
            if late:
                log.warning("abandoned %d telegram answer(s) still running at stop", len(late))
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text or not await self._admitted(update):
            return
        caller = await self._caller(update)
        await self._answer(caller, command_line(message.text, self.app.bot.username))

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        if not await self._admitted(update):
            return
        await query.answer()  # stop the client's spinner first; the reply follows as a message
        if not query.data or update.effective_chat is None:
            return
        await self._answer(await self._caller(update), query.data)

    async def _admitted(self, update: Update) -> bool:
        """The rate limit, before anything slow: one notice per window, then silence."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return False
        who = user.id if user is not None else chat.id
        verdict, wait = self.gate.check(f"telegram:{who}")
        if verdict is Verdict.RUN:
            task = asyncio.current_task()
            if task is not None:
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
            return True
        if self.metrics is not None:
            self.metrics.chat_rate_limited.labels("telegram").inc()
        if verdict is Verdict.NOTICE:
            lang = normalize(user.language_code if user is not None else None)
            notice = phrase(lang, "rate_limited", seconds=max(1, round(wait)))
            try:
                await self.notifier.send(str(chat.id), Message(title="", body=notice,
                                                               plain=True))
            except DeliveryError as err:
                log.info("rate-limit notice to chat %s not sent: %s", chat.id, err)
        return False

    async def _answer(self, caller: Caller, text: str) -> None:
        try:
            reply = await self.handler(caller, text)
        except Exception:  # the user still hears back; the traceback goes to the log
            log.exception("command %r failed in chat %s", text, caller.chat_id)
            reply = Reply(text=COMMAND_FAILED)
        reply_message = Message(title="", body=reply.text, chart_png=reply.chart_png,
                                buttons=reply.buttons)
        try:
            await self.notifier.send(caller.chat_id, reply_message)
        except DeliveryError as err:
            if not err.malformed:
                raise
            await self.notifier.send(caller.chat_id, Message(
                title="", body=reply.text, chart_png=reply.chart_png, plain=True))

    async def _caller(self, update: Update) -> Caller:
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            raise ValueError("update without a chat")
        if user is None:
            # A channel post has no user; only the channel's admins can post in it.
            return Caller(platform="telegram", chat_id=str(chat.id), user_id=str(chat.id),
                          is_group=True, is_chat_admin=chat.type == ChatType.CHANNEL)
        is_group = chat.type != ChatType.PRIVATE
        return Caller(
            platform="telegram", chat_id=str(chat.id), user_id=str(user.id),
            is_group=is_group,
            is_chat_admin=await self._is_admin(chat.id, user.id) if is_group else True,
            language_code=user.language_code,
        )

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        # The cache holds the lookup task itself, so concurrent updates share one request.
        key = (chat_id, user_id)
        cached = self._admin_cache.get(key)
        now = self._clock()
        if cached is None or now - cached[0] >= self._admin_ttl:
            cached = (now, asyncio.ensure_future(self._lookup_admin(chat_id, user_id)))
            self._admin_cache[key] = cached
        is_admin = await cached[1]
        if is_admin is None:  # the lookup failed: fail closed, and ask again next time
            self._admin_cache.pop(key, None)
            return False
        return is_admin

    async def _lookup_admin(self, chat_id: int, user_id: int) -> bool | None:
        try:
            member = await self.app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as err:
            log.warning("getChatMember failed for chat %s: %s", chat_id, err)
            return None
        return member.status in _ADMIN_STATUSES

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)


def build_application(
    token: str, base_url: str, *, pool_size: int = 16,
) -> Application:  # type: ignore[type-arg]
    """A PTB Application pointed at `base_url` with concurrent updates, flood limits and an
    `UpdateReader` for getUpdates."""
    file_url = base_url.rsplit("/bot", 1)[0] + "/file/bot" if "/bot" in base_url else base_url
    reader = UpdateReader(connection_pool_size=1)
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        .connection_pool_size(pool_size)
        .get_updates_request(reader)
        .concurrent_updates(True)
        .rate_limiter(AIORateLimiter(max_retries=2))
        .build()
    )
    READERS[application] = reader
    return application
