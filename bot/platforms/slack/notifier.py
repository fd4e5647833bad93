"""Slack notifier on slack-sdk's AsyncWebClient: Block Kit within Slack's limits (split into
several messages when needed), chat.update of the original alert, charts via files_upload_v2,
errors mapped to DeliveryError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.config import Settings
from bot.notifiers.base import Button, DeliveryError, Message, Sent
from bot.notifiers.textsplit import split_text

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
# Slack refuses ~13.2k characters across blocks (msg_blocks_too_long); stay well under.
MESSAGE_TEXT_BUDGET = 10_000
BUTTON_LABEL_LIMIT = 75
_GONE = frozenset({"channel_not_found", "is_archived", "not_in_channel", "account_inactive",
                   "channel_is_archived", "user_not_found", "team_access_not_granted"})
_MALFORMED = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long",
                        "msg_blocks_too_long", "invalid_attachments", "no_text"})
_NOT_EDITABLE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str, plain: bool) -> dict[str, Any]:
    kind = "plain_text" if plain else "mrkdwn"
    return {"type": "section", "text": {"type": kind, "text": text}}


def slack_blocks(title: str, body: str, buttons: tuple[Button, ...] = (), *,
                 plain: bool = False) -> list[list[dict[str, Any]]]:
    """Title and body as one or more Block Kit messages, each within Slack's limits."""
    escape = (lambda s: s) if plain else mrkdwn_escape
    sections = [_section(part, plain)
                for part in _escaped_parts(body, escape, SECTION_LIMIT)]
    messages: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    used = 0
    if title.strip():
        header = title.strip()
        if len(header) > HEADER_LIMIT:
            header = header[: HEADER_LIMIT - 1] + "…"
            sections.insert(0, _section(escape(title.strip()), plain))
        current.append({"type": "header", "text": {"type": "plain_text", "text": header}})
        used = len(header)
    for block in sections:
        size = len(block["text"]["text"])
        if current and (len(current) >= MAX_BLOCKS - 1 or used + size > MESSAGE_TEXT_BUDGET):
            messages.append(current)
            current, used = [], 0
        current.append(block)
        used += size
    actions = _actions(buttons)
    if actions is not None:
        current.append(actions)
    if current:
        messages.append(current)
    return messages


def _escaped_parts(text: str, escape: Callable[[str], str], limit: int) -> list[str]:
    # Split first, escape after (a cut never lands inside an entity); the measure counts the
    # escaped length so every section stays within the limit once escaped.
    parts: list[str] = []
    for part in split_text(text, limit):
        escaped = escape(part)
        if len(escaped) <= limit:
            parts.append(escaped)
        else:
            parts.extend(escape(p) for p in split_text(part, limit // 5))
    return parts


def _actions(buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    if not buttons:
        return None
    elements = [
        {"type": "button", "action_id": f"cyclewatch_{index}", "value": button.action,
         "text": {"type": "plain_text", "text": button.label[:BUTTON_LABEL_LIMIT]}}
        for index, button in enumerate(buttons[:25])
    ]
    return {"type": "actions", "elements": elements}


def fallback_text(blocks: list[dict[str, Any]]) -> str:
    """The notification text Slack shows in previews (the first block's text, shortened)."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            # Slack reads the fallback as mrkdwn (it drives notifications): a header's plain
            # "<!here>" would ping the channel, so plain text is escaped here.
            shown = str(text["text"])
            return (mrkdwn_escape(shown) if text.get("type") == "plain_text" else shown)[:3000]
    return "cyclewatch"


def delivery_error(err: Exception) -> DeliveryError:
    """Map a slack-sdk or transport exception to DeliveryError flags."""
    if isinstance(err, SlackApiError):
        code = str(err.response.get("error", ""))
        status = err.response.status_code
        if status == 429 or code == "ratelimited":
            retry = err.response.headers.get("Retry-After", err.response.headers.get(
                "retry-after", "1"))
            return DeliveryError(f"Slack: {code}", retry_after=float(retry))
        if status >= 500:
            return DeliveryError(f"Slack HTTP {status}: {code}", retryable=True)
        if code in _GONE:
            return DeliveryError(f"Slack: {code}", blocked=True)
        if code in _MALFORMED:
            return DeliveryError(f"Slack: {code}", malformed=True)
        return DeliveryError(f"Slack: {code or status}")
    if isinstance(err, SlackRequestError | aiohttp.ClientError | asyncio.TimeoutError):
        return DeliveryError(f"Slack transport: {err}", retryable=True)
    return DeliveryError(f"Slack: {err}")


def slack_client(token: str, base_url: str, *, retries: int = 2) -> AsyncWebClient:
    """An AsyncWebClient that waits out 429s (Retry-After) and retries 5xx a few times."""
    return AsyncWebClient(
        token=token, base_url=base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
                        AsyncServerErrorRetryHandler(max_retry_count=retries)],
    )


class SlackNotifier:
    """Sends Messages to Slack channels; see the module docstring."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, *, part_attempts: int = 5) -> None:
        self.client = client
        self.part_attempts = part_attempts

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackNotifier:
        """A notifier for SLACK_BOT_TOKEN at settings.slack_api_url."""
        if settings.slack_bot_token is None:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        return cls(slack_client(settings.slack_bot_token.get_secret_value(),
                                settings.slack_api_url))

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Post (or update) the message's blocks, then the chart; raise DeliveryError if the
        first request fails. Later requests are retried here so a redelivery repeats nothing."""
        chunks = slack_blocks(message.title, message.body, message.buttons, plain=message.plain)
        if not chunks and message.chart_png is None:
            raise DeliveryError("empty message: no title, body or chart")
        ids: list[str] = []
        thread = message.replaces[0] if message.replaces else None
        for index, blocks in enumerate(chunks):
            if index == 0 and thread is not None:
                ts = await self._first(self._updater(chat_id, thread, blocks))
            else:
                post = self._poster(chat_id, blocks)
                ts = await (self._first(post) if index == 0 else self._later(post))
            ids.append(ts)
        if message.chart_png is not None:
            chart = message.chart_png
            upload = self._uploader(chat_id, chart, message.title or "chart", thread)
            await (self._later(upload) if ids else self._first(upload))
        return Sent(tuple(ids))

    def _poster(self, channel: str, blocks: list[dict[str, Any]]) -> Callable[[], Awaitable[str]]:
        async def post() -> str:
            response = await self.client.chat_postMessage(
                channel=channel, blocks=blocks, text=fallback_text(blocks))
            return str(response["ts"])
        return post

    def _uploader(self, channel: str, chart: bytes, title: str,
                  thread: str | None) -> Callable[[], Awaitable[str]]:
        async def upload() -> str:
            response = await self.client.files_upload_v2(
                channel=channel, content=chart, filename="chart.png", title=title[:250],
                thread_ts=thread)
            return str(response["file"]["id"])
        return upload

    def _updater(self, channel: str, ts: str,
                 blocks: list[dict[str, Any]]) -> Callable[[], Awaitable[str]]:
        async def update_or_post() -> str:
            try:
                await self.client.chat_update(channel=channel, ts=ts, blocks=blocks,
                                              text=fallback_text(blocks))
                return ts
            except SlackApiError as err:
                if err.response.get("error") not in _NOT_EDITABLE:
                    raise
            return await self._poster(channel, blocks)()
        return update_or_post

    async def _first(self, call: Callable[[], Awaitable[str]]) -> str:
        try:
            return await call()
        except (TimeoutError, SlackClientError, aiohttp.ClientError) as err:
            raise delivery_error(err) from err

    async def _later(self, call: Callable[[], Awaitable[str]]) -> str:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.part_attempts),
            retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retryable),
            wait=wait_exponential(multiplier=0.2, max=5),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._first(call)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover
