"""A fake Slack Web API + Socket Mode server on 127.0.0.1 that speaks the real wire format.

`POST /api/<method>` (query string merged with a JSON or form body; Bearer token checked),
the raw upload URL of files_upload_v2, and a websocket at `/link` that sends `hello` then
queued envelopes and records the acks. Errors: 429 with an integer `Retry-After`, Block Kit
limit checks (invalid_blocks / msg_too_long / msg_blocks_too_long), injected or random failures.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

WRITE_METHODS = frozenset({"chat.postMessage", "chat.update", "files.completeUploadExternal"})
MAX_BLOCKS, SECTION_LIMIT, HEADER_LIMIT, BLOCKS_TOTAL_LIMIT = 50, 3000, 150, 13_200


@dataclass
class SlackInjected:
    """A planned error for matching calls."""

    method: str | None
    error: str
    status: int = 200
    retry_after: int | None = None
    times: int = 1
    after: int = 0


class SlackError(Exception):
    """An error reply."""

    def __init__(self, error: str, status: int = 200, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.retry_after = error, status, retry_after


@dataclass
class FakeSlack:
    """The fake server; see the module docstring."""

    bot_token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    failure_rate: float = 0.0
    seed: int = 0
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    admins: set[str] = field(default_factory=set)
    locales: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._injected: list[SlackInjected] = []
        self._uploads: dict[str, bytes] = {}
        self._upload_meta: dict[str, dict[str, Any]] = {}
        self._ts = itertools.count(1)
        self._envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._acked = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.connections = 0
        self.port = 0

    @property
    def base_url(self) -> str:
        """What to give slack-sdk as base_url."""
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> FakeSlack:
        """Listen on 127.0.0.1, a free port."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)  # users.info and friends use GET
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        """Stop serving (closing any socket-mode connections)."""
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test controls -------------------------------------------------------------------

    def inject(
        self, error: str, *, method: str | None = None, status: int = 200,
        retry_after: int | None = None, times: int = 1, after: int = 0,
    ) -> None:
        """Answer matching calls with `{"ok": false, "error": error}` (and this HTTP status)."""
        self._injected.append(SlackInjected(method, error, status, retry_after, times, after))

    def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Queue a Socket Mode envelope (slash_commands, interactive, ...); return its id."""
        envelope_id = str(uuid.uuid4())
        self._envelopes.put_nowait({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind == "slash_commands"})
        return envelope_id

    async def wait_ack(self, envelope_id: str) -> dict[str, Any]:
        """The ack for an envelope (wrap in asyncio.timeout to bound the wait)."""
        async with self._acked:
            await self._acked.wait_for(lambda: envelope_id in self.acks)
        return self.acks[envelope_id]

    def texts(self, channel: str) -> list[str]:
        """All text of every message posted to a channel (blocks flattened), in order."""
        return [block_text(m) for m in self.messages.get(channel, [])]

    # ---- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update({k: v for k, v in (await request.post()).items()
                               if isinstance(v, str)})
        self.calls.append((method, params))
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if request.headers.get("Authorization") != f"Bearer {expected}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        try:
            self._check_injected(method)
            if method in WRITE_METHODS:
                self._check_random_failure()
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackError("unknown_method")
            result: dict[str, Any] = handler(params)
        except SlackError as err:
            headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
            return web.json_response({"ok": False, "error": err.error}, status=err.status,
                                     headers=headers)
        return web.json_response({"ok": True, **result})

    def _check_injected(self, method: str) -> None:
        for plan in self._injected:
            if plan.times > 0 and plan.method in (None, method):
                if plan.after > 0:
                    plan.after -= 1
                    continue
                plan.times -= 1
                raise SlackError(plan.error, plan.status, plan.retry_after)

    def _check_random_failure(self) -> None:
        if self.failure_rate and self._rng.random() < self.failure_rate:
            if self._rng.random() < 0.5:
                raise SlackError("ratelimited", 429, 1)
            raise SlackError("internal_error", 500)

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        channel = str(params.get(key) or "")
        if not channel or channel in self.missing:
            raise SlackError("channel_not_found")
        if channel in self.archived:
            raise SlackError("is_archived")
        return channel

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake.slack.com/", "team": "Fake", "user": "cyclewatch",
                "team_id": "T0FAKE", "user_id": "U0BOT", "bot_id": "B0BOT"}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user") or "")
        if not user:
            raise SlackError("user_not_found")
        return {"user": {"id": user, "name": user.lower(), "is_admin": user in self.admins,
                         "is_owner": False, "locale": self.locales.get(user, "en-US")}}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/link"}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        blocks = _blocks(params)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {"ts": ts, "text": params.get("text", ""), "blocks": blocks,
                   "thread_ts": params.get("thread_ts")}
        self.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": {"type": "message", **message}}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        blocks = _blocks(params)
        for message in self.messages.get(channel, []):
            if message["ts"] == params.get("ts"):
                message.update(text=params.get("text", ""), blocks=blocks, edited=True)
                return {"channel": channel, "ts": message["ts"], "text": message["text"]}
        raise SlackError("message_not_found")

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._ts):08d}"
        self._upload_meta[file_id] = {"filename": params["filename"],
                                      "length": int(params["length"])}
        return {"upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file_id}",
                "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self._upload_meta:
            return web.Response(status=404, text="not found")
        data = await request.read()
        self._uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = params.get("files")
        entries = json.loads(entries) if isinstance(entries, str) else entries
        channel = self._channel(params, "channel_id")
        done = []
        for entry in entries or []:
            data = self._uploads.get(entry["id"])
            if data is None:
                raise SlackError("file_not_found")
            record = {"id": entry["id"], "title": entry.get("title"), "data": data,
                      "initial_comment": params.get("initial_comment"),
                      "thread_ts": params.get("thread_ts")}
            self.files.setdefault(channel, []).append(record)
            done.append({"id": entry["id"], "title": entry.get("title"), "name": "chart.png"})
        return {"files": done}

    # ---- Socket Mode ---------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections += 1
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "fake"}, "connection_info": {"app_id": "A1"}})
        sender = asyncio.create_task(self._pump(ws))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if "envelope_id" in data:
                        async with self._acked:
                            self.acks[data["envelope_id"]] = data
                            self._acked.notify_all()
        finally:
            sender.cancel()
            self._sockets.discard(ws)
        return ws

    async def _pump(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            envelope = await self._envelopes.get()
            await ws.send_json(envelope)


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if len(str(params.get("text", ""))) > 40_000:
        raise SlackError("msg_too_long")
    if len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks")
    total = 0
    for block in blocks:
        text = _text_of(block)
        total += len(text)
        if block.get("type") == "header" and len(text) > HEADER_LIMIT:
            raise SlackError("invalid_blocks")
        if block.get("type") == "section" and len(text) > SECTION_LIMIT:
            raise SlackError("invalid_blocks")
    if total > BLOCKS_TOTAL_LIMIT:
        raise SlackError("msg_blocks_too_long")
    return list(blocks)


def _text_of(block: dict[str, Any]) -> str:
    text = block.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    if block.get("type") == "context":
        return " ".join(str(e.get("text", "")) for e in block.get("elements", []))
    return ""


def block_text(message: dict[str, Any]) -> str:
    """The text of a message's header, section and context blocks, one block per line."""
    texts = [_text_of(b) for b in message.get("blocks") or []]
    return "\n".join(t for t in texts if t) or str(message.get("text", ""))
