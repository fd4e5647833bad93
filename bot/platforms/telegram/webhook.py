"""Telegram's webhook (TELEGRAM_WEBHOOK_URL), served on TELEGRAM_WEBHOOK_LISTEN by the same
hardened `HttpServer` as the service's HTTP port (connection cap, read and idle timeouts,
size caps). A request without the right secret token is a 403 and one rated log line; an
update the client library cannot read is acknowledged with 200 and skipped, as in polling
(Telegram would send it again and again otherwise)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from telegram.ext import Application

from bot.platforms.telegram.updates import webhook_update
from bot.runtime.httpserver import METRICS
from bot.runtime.metrics import Metrics
from bot.runtime.ratedlog import RatedLog

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookIntake:
    """The webhook's one route: check the secret, read the update, queue it for the bot."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], *, path: str,
                 secret: str, on_skip: Callable[[], None] | None = None) -> None:
        self.application = application
        self.path = "/" + path.strip("/")
        self.secret = secret.encode()
        self.on_skip = on_skip
        self.refusals = RatedLog(log)

    def web_app(self, metrics: Metrics | None = None, max_body: int = 256 * 1024,
                ) -> web.Application:
        """The aiohttp application serving `path`."""
        app = web.Application(client_max_size=max_body)
        if metrics is not None:
            app[METRICS] = metrics
        app.router.add_post(self.path, self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        """One update from Telegram: 403 without the secret, else 200 (read or skipped)."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            self.refusals.note("secret", "telegram webhook: refused a request without the "
                                         "right secret token (403)")
            return web.Response(status=403)
        update = webhook_update(await request.read(), self.application.bot)
        if update is None:
            if self.on_skip is not None:
                self.on_skip()
        else:
            await self.application.update_queue.put(update)
        return web.Response(status=200)
