"""The Slack front end: Socket Mode (SLACK_APP_TOKEN) and signed HTTP slash commands at
`POST /slack/commands` (SLACK_SIGNING_SECRET). `/cyclewatch <command> [args]` and `/regime`
become `handle(caller, "/command args")`; replies are Block Kit, charts go by files_upload_v2."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.ratelimit import CommandGate, Verdict
from bot.chat.types import Caller, CommandHandler, Reply
from bot.config import Settings
from bot.i18n import normalize
from bot.i18n import text as phrase
from bot.platforms.base import OnRejected, TokenRejected
from bot.platforms.slack.notifier import fallback_text, slack_blocks, slack_client

log = logging.getLogger(__name__)

SIGNATURE_WINDOW = 300  # seconds; Slack's own replay window
ACK_BUDGET = 2.5  # Slack wants an answer within 3 s; past this we ack and post later
COMMAND_FAILED = "Sorry, that command failed. Please try again later."
STOP_GRACE = 5.0  # seconds replies in flight get at stop before they are abandoned
# Slack's answers for a token that will not work until someone changes the setting
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                         "account_inactive"})


def command_line(command: str, text: str) -> str:
    """`/cyclewatch regime 2024-01-05` -> `/regime 2024-01-05`; `/regime x` -> `/regime x`."""
    text = text.strip()
    if command.lstrip("/") == "cyclewatch":
        if not text:
            return "/help"
        return text if text.startswith("/") else f"/{text}"
    return f"/{command.lstrip('/')} {text}".strip()


class _CallableClock(Clock):
    """slack-sdk's Clock over an injected `() -> unix seconds` callable."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        """The injected time."""
        return self._now()


class SlackFrontEnd:
    """Serves chat commands on Slack; see the module docstring."""

    def __init__(
        self,
        client: AsyncWebClient,
        handler: CommandHandler,
        *,
        app_token: str | None = None,
        signing_secret: str | None = None,
        clock: Callable[[], float] = time.time,
        gate: CommandGate | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.client = client
        self.gate = gate or CommandGate()
        self.stop_grace = stop_grace
        self.handler = handler
        self.app_token = app_token
        self.clock = clock
        self.verifier = (SignatureVerifier(signing_secret, clock=_CallableClock(clock))
                         if signing_secret else None)
        self._seen_signatures: dict[str, float] = {}
        self._socket: SocketModeClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._users: dict[str, tuple[float, bool, str | None]] = {}
        self.on_rejected: OnRejected | None = None  # set by the service: a token revoked later

    @classmethod
    def from_settings(cls, settings: Settings, handler: CommandHandler) -> SlackFrontEnd:
        """Build from SLACK_* settings (base URL included)."""
        if settings.slack_bot_token is None:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        app, secret = settings.slack_app_token, settings.slack_signing_secret
        return cls(
            slack_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url),
            handler,
            app_token=app.get_secret_value() if app else None,
            signing_secret=secret.get_secret_value() if secret else None,
        )

    async def start(self) -> None:
        """Check the bot token (auth.test), then connect Socket Mode when an app token is
        configured; a token Slack refuses raises TokenRejected."""
        await self._checked("SLACK_BOT_TOKEN", self.client.auth_test())
        if self.app_token is None:
            return
        # The socket client retries a refused app token forever: ask for the URL ourselves.
        opened = await self._checked("SLACK_APP_TOKEN",
                                     self.client.apps_connections_open(app_token=self.app_token))
        self._socket = SocketModeClient(app_token=self.app_token, web_client=self.client)
        self._socket.wss_uri = str(opened["url"])
        self._socket.socket_mode_request_listeners.append(self._on_socket_request)
        await self._socket.connect()  # type: ignore[no-untyped-call]

    async def _checked(self, variable: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except SlackApiError as err:
            if error_code(err) in AUTH_ERRORS:
                raise TokenRejected(variable, "Slack") from err
            raise

    def _note_failure(self, err: Exception) -> None:
        # A bot token revoked while running shows up as a failed reply or lookup.
        if self.on_rejected is not None and error_code(err) in AUTH_ERRORS:
            self.on_rejected(TokenRejected("SLACK_BOT_TOKEN", "Slack"))

    async def stop(self) -> None:
        """Disconnect Socket Mode and let replies in flight finish."""
        if self._socket is not None:
            await self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._tasks:
            _done, late = await asyncio.wait(set(self._tasks), timeout=self.stop_grace)
            for task in late:
                task.cancel()

    # ---- Socket Mode ---------------------------------------------------------------------

    async def _on_socket_request(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        payload: dict[str, Any] = request.payload
        if request.type == "slash_commands":
            line = command_line(payload.get("command", ""), payload.get("text", ""))
            answer = await self._answer_within_budget(payload, line)
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload=answer or None))
        elif request.type == "interactive":
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id))
            user = (payload.get("user") or {}).get("id")
            if self._limited(str(user or "?")) is None:
                self._spawn(self._on_button(payload))
        else:
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id))

    async def _on_button(self, payload: dict[str, Any]) -> None:
        actions = payload.get("actions") or []
        channel = (payload.get("channel") or {}).get("id")
        user = (payload.get("user") or {}).get("id")
        if not actions or not channel or not user:
            log.warning("slack interaction without action, channel or user: ignored")
            return
        caller = await self._caller(channel, user)
        await self._post_late(caller, self.handler(caller, str(actions[0].get("value", ""))))

    # ---- signed HTTP ---------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        """`POST /slack/commands`: verify the signature (and refuse replays), then answer."""
        if self.verifier is None:
            return web.json_response({"error": "slash commands are not configured"}, status=404)
        body = await request.read()
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "request body is not UTF-8"}, status=400)
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        well_formed = timestamp.isdigit() and signature.startswith("v0=")
        if not well_formed or not self.verifier.is_valid(
            body=body, timestamp=timestamp, signature=signature
        ):
            return web.json_response({"error": "invalid request"}, status=401)
        if not self._first_use(signature):
            return web.json_response({"error": "replayed request"}, status=401)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        line = command_line(form.get("command", ""), form.get("text", ""))
        answer = await self._answer_within_budget(form, line)
        return web.json_response(answer) if answer else web.Response(status=200)

    def _first_use(self, signature: str) -> bool:
        now = self.clock()
        self._seen_signatures = {s: t for s, t in self._seen_signatures.items()
                                 if now - t <= 2 * SIGNATURE_WINDOW}
        if signature in self._seen_signatures:
            return False
        self._seen_signatures[signature] = now
        return True

    # ---- shared --------------------------------------------------------------------------

    def _limited(self, user: str) -> dict[str, Any] | None:
        """None when `user` may run a command now; else the ack: a notice once per window,
        then an empty ack (silence)."""
        verdict, wait = self.gate.check(f"slack:{user}")
        if verdict is Verdict.RUN:
            return None
        if verdict is Verdict.DROP:
            return {}
        cached = self._users.get(user)
        lang = normalize(cached[2] if cached else None)
        return {"response_type": "ephemeral",
                "text": phrase(lang, "rate_limited", seconds=max(1, round(wait)))}

    async def _answer_within_budget(self, payload: dict[str, Any], line: str) -> dict[str, Any]:
        channel, user = payload.get("channel_id", ""), payload.get("user_id", "")
        if not channel or not user:
            return {"response_type": "ephemeral", "text": "Missing channel or user."}
        limited = self._limited(user)
        if limited is not None:
            return limited
        caller = await self._caller(channel, user)
        task = asyncio.ensure_future(self.handler(caller, line))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), ACK_BUDGET)
        except TimeoutError:
            self._spawn(self._post_late(caller, task))
            return {"response_type": "ephemeral", "text": "Working on it…"}
        except Exception:  # a failing command must still be acknowledged, with a reason
            log.exception("slack command %r failed", line)
            return {"response_type": "ephemeral", "text": COMMAND_FAILED}
        chunks = slack_blocks("", reply.text, reply.buttons)
        first = chunks[0] if chunks else [{"type": "section",
                                           "text": {"type": "plain_text", "text": "(empty)"}}]
        self._spawn(self._post_reply(caller, reply, skip_first=True))
        return {"response_type": "ephemeral" if reply.ephemeral else "in_channel",
                "blocks": first, "text": fallback_text(first)}

    async def _post_late(self, caller: Caller, pending: Awaitable[Reply]) -> None:
        try:
            reply = await pending
        except Exception:  # the user still hears back; the traceback goes to the log
            log.exception("slack command failed in %s", caller.chat_id)
            reply = Reply(text=COMMAND_FAILED, ephemeral=True)
        await self._post_reply(caller, reply, skip_first=False)

    async def _post_reply(self, caller: Caller, reply: Reply, *, skip_first: bool) -> None:
        """Post what the immediate answer could not carry: more blocks, and the chart."""
        chunks = slack_blocks("", reply.text, reply.buttons)[1 if skip_first else 0:]
        try:
            for blocks in chunks:
                await self.client.chat_postMessage(channel=caller.chat_id, blocks=blocks,
                                                   text=fallback_text(blocks))
            if reply.chart_png is not None:
                await self.client.files_upload_v2(
                    channel=caller.chat_id, content=reply.chart_png, filename="chart.png",
                    title="cyclewatch chart")
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as err:
            log.warning("slack reply to %s failed: %s", caller.chat_id, error_code(err))
            self._note_failure(err)

    async def _caller(self, channel: str, user: str) -> Caller:
        is_admin, locale = await self._user_facts(user)
        # D… channels are direct messages: the user owns that conversation.
        is_group = not channel.startswith("D")
        return Caller(platform="slack", chat_id=channel, user_id=user, is_group=is_group,
                      is_chat_admin=is_admin or not is_group, language_code=locale)

    async def _user_facts(self, user: str) -> tuple[bool, str | None]:
        cached = self._users.get(user)
        now = self.clock()
        if cached is not None and now - cached[0] < SIGNATURE_WINDOW:
            return cached[1], cached[2]
        try:
            info = await self.client.users_info(user=user, include_locale=True)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as err:
            log.warning("users.info failed for %s: %s", user, error_code(err))
            self._note_failure(err)
            return False, None  # fail closed, not cached
        profile = info.get("user") or {}
        is_admin = bool(profile.get("is_admin") or profile.get("is_owner"))
        locale = profile.get("locale")
        language = str(locale).split("-")[0] if locale else None
        self._users[user] = (now, is_admin, language)
        return is_admin, language

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def error_code(err: Exception) -> str:
    """Slack's error code when the response carries one, else the exception text."""
    if isinstance(err, SlackApiError) and isinstance(err.response.data, dict):
        return str(err.response.data.get("error", err))
    return str(err)
