"""Telegram notifier on python-telegram-bot: HTML with safe escaping, 4096-char splitting,
photos for charts, inline buttons, client-side flood limits, errors mapped to DeliveryError.
With paid broadcast on, every send carries `allow_paid_broadcast` and the overall limit is the
paid rate (up to 1,000 messages a second) instead of ~30."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter  # RequestData's parts
from telegram.warnings import PTBDeprecationWarning
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from bot.config import Settings
from bot.notifiers.base import Button, DeliveryError, Message, Sent
from bot.notifiers.textsplit import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    plain_parts,
    telegram_html_parts,
)
from bot.platforms.telegram.transport import AiohttpRequest

# Opt into PTB 22's timedelta retry_after: the deprecated int form warns on every 429 (and
# warnings are errors under our test settings). setdefault leaves an explicit choice alone.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)
T = TypeVar("T")
CALLBACK_DATA_LIMIT = 64
_MALFORMED_HINTS = ("can't parse entities", "can't find end tag", "unsupported start tag",
                    "button_data_invalid", "reply markup")
_GONE_HINTS = ("chat not found", "user not found", "peer_id_invalid", "have no rights")


class TelegramRateLimiter:
    """Telegram's flood limits on our side: ~30 msg/s overall, 1 msg/s per chat and
    20 msg/min per group (negative chat ids), each chat allowed a burst of `chat_burst`.

    `scale` speeds all of them up together (benchmarks against a time-compressed fake).
    """

    def __init__(
        self, overall_per_second: float = 30.0, chat_interval: float = 1.0,
        group_interval: float = 3.0, chat_burst: int = 2, scale: float = 1.0,
    ) -> None:
        self.overall_per_second = overall_per_second * scale
        # A small overall burst (a tenth of a second's worth) so request jitter cannot bunch
        # up a whole second's quota at the server.
        burst = max(1.0, overall_per_second / 10)
        self._overall = AsyncLimiter(burst, burst / (overall_per_second * scale))
        self._chat_interval = chat_interval / scale
        self._group_interval = group_interval / scale
        self._chat_burst = max(1, chat_burst)
        # Per chat: the theoretical arrival time of its next message (GCRA scheduling).
        self._tat: dict[str, float] = {}

    def _gap(self, chat_id: str) -> float:
        return self._group_interval if chat_id.startswith("-") else self._chat_interval

    async def wait(self, chat_id: str) -> None:
        """Sleep until `chat_id` may be sent another message, then take an overall slot."""
        now = time.monotonic()
        gap = self._gap(chat_id)
        tat = max(now, self._tat.get(chat_id, now))
        start = max(now, tat - (self._chat_burst - 1) * gap)
        self._tat[chat_id] = tat + gap
        if len(self._tat) > 50_000:
            self._tat = {c: t for c, t in self._tat.items() if t > now}
        if start > now:
            await asyncio.sleep(start - now)
        await self._overall.acquire()

    def hold(self, chat_id: str, seconds: float) -> None:
        """Send nothing more to the chat for `seconds` (after Telegram answered retry_after)."""
        tolerance = (self._chat_burst - 1) * self._gap(chat_id)
        self._tat[chat_id] = max(self._tat.get(chat_id, 0.0),
                                 time.monotonic() + seconds + tolerance)


def delivery_error(err: TelegramError) -> DeliveryError:
    """Map a python-telegram-bot exception to DeliveryError flags."""
    text = str(err)
    lowered = text.lower()
    if isinstance(err, RetryAfter):
        return DeliveryError(text, retry_after=retry_after_seconds(err))
    if isinstance(err, ChatMigrated):
        return DeliveryError(text, migrated_to=str(err.new_chat_id))
    if isinstance(err, Forbidden):
        return DeliveryError(text, blocked=True)
    if isinstance(err, InvalidToken):
        return DeliveryError(f"Telegram refused the bot token: {text}")
    if isinstance(err, BadRequest):
        if any(hint in lowered for hint in _MALFORMED_HINTS):
            return DeliveryError(text, malformed=True)
        if any(hint in lowered for hint in _GONE_HINTS):
            return DeliveryError(text, blocked=True)
        return DeliveryError(text)
    if isinstance(err, NetworkError):  # includes TimedOut and HTTP 5xx
        return DeliveryError(text, retryable=True)
    return DeliveryError(text)


def retry_after_seconds(err: RetryAfter) -> float:
    """RetryAfter.retry_after as seconds (an int or a timedelta, depending on PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def keyboard(buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    """One row of inline buttons, as the Bot API reads them (plain JSON: PTB's objects cost a
    third of a text send's CPU to build and serialize); a button whose action exceeds 64 bytes
    is left out (logged)."""
    usable = []
    for button in buttons:
        if 1 <= len(button.action.encode()) <= CALLBACK_DATA_LIMIT:
            usable.append({"text": button.label, "callback_data": button.action})
        else:
            log.warning("button %r dropped: callback_data must be 1-64 bytes", button.label)
    return {"inline_keyboard": [usable]} if usable else None


class TelegramNotifier:
    """Sends Messages to Telegram chats; see the module docstring."""

    platform = "telegram"

    def __init__(
        self, bot: Bot, *, limiter: TelegramRateLimiter | None = None, part_attempts: int = 6,
        paid_broadcast: bool = False,
    ) -> None:
        self.bot = bot
        self.limiter = limiter or TelegramRateLimiter()
        self.part_attempts = part_attempts
        self.paid: bool | None = True if paid_broadcast else None  # None: the parameter left out

    @property
    def rate_per_second(self) -> float:
        """Messages a second Telegram allows overall (sizes the outbox's batches)."""
        return self.limiter.overall_per_second

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int = 64) -> TelegramNotifier:
        """A notifier with its own Bot pointed at settings.telegram_api_url."""
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        bot = Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_url,
            request=AiohttpRequest(pool_size=pool_size),
        )
        if settings.telegram_paid_broadcast:
            limiter = TelegramRateLimiter(overall_per_second=settings.telegram_paid_broadcast_rate)
            return cls(bot, limiter=limiter, paid_broadcast=True)
        return cls(bot)

    async def close(self) -> None:
        """Close the bot's HTTP connections (its transport too when the bot never started)."""
        await self.bot.shutdown()
        await self.bot.request.shutdown()

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Send every part of `message`; raise DeliveryError if the first part fails.

        Once a part has gone out, later parts are retried here (honouring retry_after), so a
        redelivery by the outbox cannot repeat the parts already shown.
        """
        html = not message.plain
        first_limit = TELEGRAM_CAPTION_LIMIT if message.chart_png else None
        render = telegram_html_parts if html else plain_parts
        parts = render(message.title, message.body, limit=TELEGRAM_TEXT_LIMIT,
                       first_limit=first_limit)
        if not parts and message.chart_png is None:
            raise DeliveryError("empty message: no title, body or chart")
        parse_mode = ParseMode.HTML if html else None
        markup = keyboard(message.buttons)
        reply = _reply_to(message.replaces)
        ids: list[str] = []
        steps = self._steps(chat_id, parts, message.chart_png, parse_mode, markup, reply,
                            True if message.silent else None)
        for index, step in enumerate(steps):
            ids.append(await (self._once(chat_id, step) if index == 0
                              else self._persist(chat_id, step)))
        return Sent(tuple(ids))

    def _steps(
        self, chat_id: str, parts: list[str], chart: bytes | None, parse_mode: ParseMode | None,
        markup: dict[str, Any] | None, reply: dict[str, Any] | None, silent: bool | None,
    ) -> list[Callable[[], Awaitable[str]]]:
        steps: list[Callable[[], Awaitable[str]]] = []
        texts = list(parts)
        if chart is not None:
            caption = texts.pop(0) if texts else None
            photo_markup = None if markup is None or texts else InlineKeyboardMarkup.de_json(
                markup, self.bot)
            photo_reply = None if reply is None else ReplyParameters.de_json(reply, self.bot)

            async def photo() -> str:
                sent = await self.bot.send_photo(
                    chat_id, photo=chart, caption=caption, parse_mode=parse_mode,
                    reply_markup=photo_markup, reply_parameters=photo_reply,
                    disable_notification=silent, allow_paid_broadcast=self.paid)
                return str(sent.message_id)
            steps.append(photo)
        for index, text in enumerate(texts):
            last = index == len(texts) - 1
            first = not steps
            steps.append(self._text_step({
                "chat_id": chat_id, "text": text, "parse_mode": parse_mode,
                "reply_markup": markup if last else None,
                "reply_parameters": reply if first else None,
                "disable_notification": silent, "allow_paid_broadcast": self.paid}))
        return steps

    def _text_step(self, params: dict[str, Any]) -> Callable[[], Awaitable[str]]:
        """sendMessage through PTB's request layer (its errors, its transport), reading only
        the message id from the answer: building PTB's Message from it, which nothing here
        reads, was a fifth of our CPU per message at broadcast rates."""
        data = RequestData([RequestParameter.from_input(key, value)
                            for key, value in params.items() if value is not None])
        url = f"{self.bot.base_url}/sendMessage"

        async def text() -> str:
            result = await self.bot.request.post(url, request_data=data)
            assert isinstance(result, dict)
            return str(result["message_id"])
        return text

    async def _once(self, chat_id: str, step: Callable[[], Awaitable[T]]) -> T:
        await self.limiter.wait(chat_id)
        try:
            return await step()
        except TelegramError as err:
            mapped = delivery_error(err)
            if mapped.retry_after:
                self.limiter.hold(chat_id, mapped.retry_after)
            raise mapped from err

    async def _persist(self, chat_id: str, step: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.part_attempts),
            retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retryable),
            wait=_wait_for_retry_after,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(chat_id, step)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _wait_for_retry_after(state: object) -> float:
    outcome = getattr(state, "outcome", None)
    err = outcome.exception() if outcome is not None else None
    # The limiter already holds the chat for retry_after; back off briefly for 5xx.
    if isinstance(err, DeliveryError) and err.retry_after:
        return 0.0
    return min(2.0, 0.2 * getattr(state, "attempt_number", 1))


def _reply_to(replaces: tuple[str, ...]) -> dict[str, Any] | None:
    # A resolve notice answers the original alert as a reply (a visible link back to it).
    if not replaces or not replaces[0].isdigit():
        return None
    return {"message_id": int(replaces[0]), "allow_sending_without_reply": True}
