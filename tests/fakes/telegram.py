"""A fake Telegram Bot API server on 127.0.0.1 that speaks the real wire format.

`POST /bot<token>/<method>` with form-urlencoded (nested values JSON-encoded) or multipart
bodies, replies `{"ok": true, "result": ...}` or the real error shapes. It enforces flood
limits like Telegram (token buckets: ~30 msg/s overall, ~1 msg/s per chat, 20 msg/min per group,
with a small burst),
answering 429 with `parameters.retry_after`; `time_scale` speeds all rates up for benchmarks.
A send with `allow_paid_broadcast` (paid broadcast) counts against its own overall limit,
~1,000 msg/s, instead of the ~30 msg/s one; the per-chat limits stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_rules import ApiError, Bucket, check_markup, checked_text

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "editMessageText"})
_JSON_FIELDS = frozenset(
    {"reply_markup", "entities", "caption_entities", "reply_parameters", "allowed_updates",
     "link_preview_options"}
)
BOT_USER = {"id": 2033456721, "is_bot": True, "first_name": "cyclewatch", "username": "cwbot"}


def _message(chat_id: int, **changes: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 7, "date": int(time.time()), "text": "/help",
        "from": {"id": chat_id, "is_bot": False, "first_name": "U"},
        "chat": {"id": chat_id, "type": "private"},
        "entities": [{"offset": 0, "length": 5, "type": "bot_command"}],
    }
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    return {"message": message}


# Eight shapes of update python-telegram-bot cannot read (each raises in Update.de_json).
MALFORMED: dict[str, Any] = {
    "message without date": lambda c: _message(c, date=None),
    "from without id": lambda c: _message(c, **{"from": {"is_bot": False, "first_name": "U"}}),
    "chat without id": lambda c: _message(c, chat={"type": "private"}),
    "chat without type": lambda c: _message(c, chat={"id": c}),
    "message without message_id": lambda c: _message(c, message_id=None),
    "entity without offset": lambda c: _message(c, entities=[{"length": 5,
                                                              "type": "bot_command"}]),
    "callback with a string from": lambda c: {"callback_query": {
        "id": "1", "chat_instance": "ci", "data": "/help", "from": "nobody"}},
    "message is a list": lambda c: {"message": [1, 2, 3]},
}


@dataclass
class Injected:
    """A planned error for the next `times` matching calls."""

    method: str | None
    chat_id: str | None
    error: ApiError
    times: int = 1
    after: int = 0  # let this many matching calls through first


@dataclass
class FakeTelegram:
    """The fake server; see the module docstring."""

    token: str = "123456:TEST-token-of-the-fake-telegram-012"  # BotFather's shape
    overall_rate: float = 30.0
    paid_rate: float = 1000.0  # overall, for sends with allow_paid_broadcast
    per_chat_rate: float = 1.0
    per_chat_burst: float = 3.0
    group_per_minute: float = 20.0
    time_scale: float = 1.0
    clock: Callable[[], float] = time.monotonic  # of the flood limits (a frozen one never refills)
    enforce_limits: bool = True
    failure_rate: float = 0.0
    seed: int = 0
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    admins: dict[str, set[str]] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    migrated: dict[str, str] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    rate_limited: int = 0
    rate_limited_chat: int = 0
    random_failures: int = 0
    polls: int = 0  # getUpdates calls answered
    rejected: int = 0  # calls refused for a wrong token
    acked_offset: int = 0  # the highest offset a getUpdates confirmed
    paid_messages: int = 0  # sends that carried allow_paid_broadcast

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._injected: list[Injected] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1
        self._new_update = asyncio.Event()
        self._overall = Bucket(self.overall_rate * self.time_scale, self.overall_rate,
                               self.clock)
        self._paid = Bucket(self.paid_rate * self.time_scale, self.paid_rate, self.clock)
        self._per_chat: dict[str, Bucket] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What to give python-telegram-bot as base_url (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> FakeTelegram:
        """Listen on 127.0.0.1, a free port."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/_fake/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        """Stop serving."""
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test controls -------------------------------------------------------------------

    def inject(
        self, status: int, description: str, *, method: str | None = None,
        chat_id: str | int | None = None, parameters: dict[str, Any] | None = None,
        times: int = 1, after: int = 0,
    ) -> None:
        """Answer `times` matching calls (after letting `after` through) with this error."""
        chat = None if chat_id is None else str(chat_id)
        error = ApiError(status, description, parameters)
        self._injected.append(Injected(method, chat, error, times, after))

    def block(self, chat_id: str | int) -> None:
        """The user blocked the bot: every send answers 403."""
        self.blocked.add(str(chat_id))

    def migrate(self, chat_id: str | int, new_chat_id: str | int) -> None:
        """The group became a supergroup: sends to the old id answer 400 migrate_to_chat_id."""
        self.migrated[str(chat_id)] = str(new_chat_id)

    def push_message(
        self, chat_id: int, text: str, *, user_id: int | None = None, chat_type: str = "private",
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Queue an incoming text message (commands get a bot_command entity)."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "User"}
        if language_code:
            user["language_code"] = language_code
        message: dict[str, Any] = {
            "message_id": self._take_message_id(), "date": int(time.time()), "from": user,
            "chat": {"id": chat_id, "type": chat_type, "title": "Group"}
            if chat_type != "private" else {"id": chat_id, "type": "private", "first_name": "U"},
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
        return self._queue({"message": message})

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any raw update (an update_id is assigned)."""
        return self._queue(dict(update))

    def push_malformed(self, shape: str, chat_id: int = 990) -> dict[str, Any]:
        """Queue one of `MALFORMED` (updates the Bot API should never send, but a proxy,
        a bug or an attacker can)."""
        return self._queue(MALFORMED[shape](chat_id))

    def push_callback(
        self, chat_id: int, data: str, *, user_id: int | None = None, message_id: int = 1,
        chat_type: str = "private", language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Queue a button press (callback query) on a message in `chat_id`."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "User"}
        if language_code:
            user["language_code"] = language_code
        query = {
            "id": str(self._rng.getrandbits(40)), "from": user, "chat_instance": "ci", "data": data,
            "message": {"message_id": message_id, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": chat_type}, "text": "alert"},
        }
        return self._queue({"callback_query": query})

    def texts(self, chat_id: str | int) -> list[str]:
        """Text (or caption) of every message recorded for a chat, in order."""
        recorded = self.messages.get(str(chat_id), [])
        return [m.get("text") or m.get("caption") or "" for m in recorded]

    def photos(self, chat_id: str | int) -> list[dict[str, Any]]:
        """The photos recorded for a chat."""
        return [m for m in self.messages.get(str(chat_id), []) if m["method"] == "sendPhoto"]

    def _queue(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = self._next_update
        self._next_update += 1
        self._updates.append(update)
        self._new_update.set()
        return update

    def _take_message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    async def _stats(self, request: web.Request) -> web.Response:
        """Counts for a benchmark driving this fake in another process."""
        return web.json_response({
            "messages": {chat: len(sent) for chat, sent in self.messages.items()},
            "rate_limited": self.rate_limited, "rate_limited_chat": self.rate_limited_chat,
            "random_failures": self.random_failures, "paid_messages": self.paid_messages,
        })

    # ---- the API -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:  # as Telegram: 401 for a wrong token
            self.rejected += 1
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        try:
            result = await self._dispatch(method, params)
        except ApiError as err:
            return _error(err)
        return web.json_response({"ok": True, "result": result})

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        chat = str(params.get("chat_id", ""))
        self._check_injected(method, chat)
        if method in SEND_METHODS:
            self._check_random_failure()
            self._check_chat(chat)
            self._check_rate(chat, paid=_flag(params.get("allow_paid_broadcast")))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return await handler(params)

    def _check_injected(self, method: str, chat: str) -> None:
        for plan in self._injected:
            if plan.times > 0 and plan.method in (None, method) and plan.chat_id in (None, chat):
                if plan.method is None and method not in SEND_METHODS:
                    continue
                if plan.after > 0:
                    plan.after -= 1
                    continue
                plan.times -= 1
                raise plan.error

    def _check_random_failure(self) -> None:
        if self.failure_rate and self._rng.random() < self.failure_rate:
            self.random_failures += 1
            if self._rng.random() < 0.5:
                raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
            raise ApiError(500, "Internal Server Error")

    def _check_chat(self, chat: str) -> None:
        if chat in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat in self.migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": int(self.migrated[chat])})

    def _check_rate(self, chat: str, *, paid: bool = False) -> None:
        if paid:
            self.paid_messages += 1
        if not self.enforce_limits:
            return
        bucket = self._per_chat.get(chat)
        if bucket is None:
            rate = self.group_per_minute / 60 if chat.startswith("-") else self.per_chat_rate
            bucket = self._per_chat[chat] = Bucket(rate * self.time_scale, self.per_chat_burst,
                                                   self.clock)
        overall_wait = (self._paid if paid else self._overall).take()
        chat_wait = bucket.take() if not overall_wait else 0.0
        wait = max(overall_wait, chat_wait)
        if wait:
            self.rate_limited += 1
            self.rate_limited_chat += 1 if chat_wait else 0
            # Telegram answers whole seconds; a time-compressed fake answers compressed ones.
            retry: float = max(1, math.ceil(wait * self.time_scale)) / self.time_scale
            if self.time_scale == 1:
                retry = int(retry)
            raise ApiError(429, f"Too Many Requests: retry after {retry:g}", {"retry_after": retry})

    def _record(self, chat: str, method: str, **fields: Any) -> dict[str, Any]:
        message_id = self._take_message_id()
        entry = {"message_id": message_id, "method": method, **fields}
        self.messages.setdefault(chat, []).append(entry)
        return {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": int(chat), "type": "private" if int(chat) > 0 else "supergroup"}}

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook.clear()
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook.update(params)
        return True

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        self.callback_answers.append(params)
        return True

    async def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        user = {"id": int(params["user_id"]), "is_bot": False, "first_name": "User"}
        if str(params["user_id"]) in self.admins.get(str(params["chat_id"]), set()):
            return {"status": "creator", "user": user, "is_anonymous": False}
        return {"status": "member", "user": user}

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        self.polls += 1
        self.acked_offset = max(self.acked_offset, offset)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), float(params.get("timeout") or 0))
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        shown = checked_text(text, params.get("parse_mode"), 4096, "message is too long")
        check_markup(params.get("reply_markup"))
        result = self._record(str(params["chat_id"]), "sendMessage", text=text, shown=shown,
                              parse_mode=params.get("parse_mode"),
                              reply_markup=params.get("reply_markup"),
                              reply_parameters=params.get("reply_parameters"))
        return {**result, "text": shown}

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        caption = str(params.get("caption", ""))
        shown = checked_text(caption, params.get("parse_mode"), 1024,
                              "message caption is too long", allow_empty=True)
        check_markup(params.get("reply_markup"))
        result = self._record(str(params["chat_id"]), "sendPhoto", caption=caption, shown=shown,
                              photo=photo, parse_mode=params.get("parse_mode"),
                              reply_markup=params.get("reply_markup"))
        size = {"file_id": "AgAD", "file_unique_id": "AQAD", "width": 800, "height": 450}
        return {**result, "photo": [size], "caption": shown}

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        chat, text = str(params["chat_id"]), str(params.get("text", ""))
        shown = checked_text(text, params.get("parse_mode"), 4096, "message is too long")
        for entry in self.messages.get(chat, []):
            if str(entry["message_id"]) == str(params.get("message_id")):
                entry.update(text=text, shown=shown, edited=True)
                return {"message_id": entry["message_id"], "date": int(time.time()),
                        "chat": {"id": int(chat), "type": "private"}, "text": shown}
        raise ApiError(400, "Bad Request: message to edit not found")


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = value.file.read()
                elif key in _JSON_FIELDS:
                    params[key] = json.loads(value)
                else:
                    params[key] = value
    return params


def _flag(value: Any) -> bool:
    """A Boolean parameter as the Bot API reads it (form fields arrive as text)."""
    return value is True or str(value).lower() in ("true", "1")


def _error(err: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": err.status, "description": err.description}
    if err.parameters:
        body["parameters"] = err.parameters
    return web.json_response(body, status=err.status)


async def serve_forever(scale: float) -> None:
    """Run a fake on its own (in another process); print its port, then serve until killed."""
    fake = await FakeTelegram(time_scale=scale).start()
    print(fake.port, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


if __name__ == "__main__":
    import sys

    asyncio.run(serve_forever(float(sys.argv[1])))
