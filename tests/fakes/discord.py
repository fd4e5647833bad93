"""A fake Discord webhook endpoint on 127.0.0.1:0 (aiohttp) speaking Discord's wire format:
`POST /api/webhooks/{id}/{token}` with a JSON body, or multipart with `payload_json` and
`files[n]`; Discord's checks on empty and oversized messages; 204, or the message with `wait`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CONTENT_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TITLE_LIMIT = 256


@dataclass
class Posted:
    """One accepted execute-webhook call: its JSON payload and its files (name -> bytes)."""

    payload: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def refusal(payload: dict[str, Any], files: dict[str, bytes]) -> str | None:
    """What Discord would refuse in this message, or None."""
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if not (content or embeds or files):
        return "Cannot send an empty message"
    if len(content) > CONTENT_LIMIT:
        return f"content: Must be {CONTENT_LIMIT} or fewer in length."
    for embed in embeds:
        if len(embed.get("description") or "") > EMBED_DESCRIPTION_LIMIT:
            return "embeds.0.description: Must be 4096 or fewer in length."
        if len(embed.get("title") or "") > EMBED_TITLE_LIMIT:
            return "embeds.0.title: Must be 256 or fewer in length."
    return None


class FakeDiscord:
    """Records what one webhook (`webhook_id`/`token`) accepted; `fail_next` 5xx replies."""

    def __init__(self, webhook_id: str = "1174216298", token: str = "JHMHI8qBe7bk2ZwO") -> None:
        self.webhook_id = webhook_id
        self.token = token
        self.posted: list[Posted] = []
        self.fail_next = 0
        self._runner: web.AppRunner | None = None
        self.base = ""

    @property
    def apprise_url(self) -> str:
        """The webhook as an Apprise URL."""
        return f"discord://{self.webhook_id}/{self.token}"

    async def start(self) -> FakeDiscord:
        """Listen on a free port; `base` is what stands for https://discord.com/api/webhooks."""
        app = web.Application()
        app.router.add_post("/api/webhooks/{id}/{token}", self._execute)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}/api/webhooks"
        return self

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _execute(self, request: web.Request) -> web.Response:
        if (request.match_info["id"], request.match_info["token"]) != (
                self.webhook_id, self.token):
            return _error(404, 10015, "Unknown Webhook")
        if self.fail_next:
            self.fail_next -= 1
            return _error(502, 0, "Bad Gateway")
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            payload = json.loads(str(form.get("payload_json") or "{}"))
            for name, value in form.items():
                if name.startswith("files[") and isinstance(value, web.FileField):
                    files[value.filename] = value.file.read()
        elif request.content_type == "application/json":
            payload = json.loads(await request.read())
        else:
            return _error(400, 50109, "The request body contains invalid JSON.")
        refused = refusal(payload, files)
        if refused is not None:
            return _error(400, 50006, refused)
        self.posted.append(Posted(payload, files))
        headers = {"X-RateLimit-Remaining": "4", "X-RateLimit-Limit": "5"}
        if request.query.get("wait") == "true" or payload.get("wait"):
            return web.json_response({"id": str(len(self.posted)), **payload}, headers=headers)
        return web.Response(status=204, headers=headers)
