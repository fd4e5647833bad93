"""A fake generic JSON webhook receiver on 127.0.0.1:0 (aiohttp), with scripted replies."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Scripted:
    """One scripted reply: a status, headers, a body, or a delay (to force a timeout)."""

    status: int = 200
    body: str = '{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeWebhook:
    """Records every POSTed JSON document; replies 200 `{"id": n}` unless scripted.

    `latency` delays every reply, as a real receiver across a network does; it bounds how many
    sends a sender can complete in a given time (the crash trial relies on that).
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.received: list[dict[str, Any]] = []
        self.script: deque[Scripted] = deque()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeWebhook:
        """Listen on a free port."""
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.Response(status=415, text="expected application/json")
        document = json.loads(await request.read())
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.script:
            reply = self.script.popleft()
            await asyncio.sleep(reply.delay)
            if reply.status >= 400 or reply.delay:
                return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
            self.received.append(document)
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers,
                                content_type="application/json")
        self.received.append(document)
        return web.json_response({"id": f"w{len(self.received)}"})
