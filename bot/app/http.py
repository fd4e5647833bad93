"""The service's HTTP server on CYCLEWATCH_HTTP_ADDR: /healthz, /metrics, Slack slash commands."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot.app.health import Health
from bot.runtime.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HealthProbe = Callable[[], Health]


def build_app(
    health: HealthProbe, metrics: Metrics, *, slack_commands: Handler | None = None,
    routes: Mapping[str, Handler] | None = None,
) -> web.Application:
    """The aiohttp application; `health` runs in a worker thread (it reads the database).
    `routes` are the chat front ends' POST endpoints by path (`ChatSide.http_routes`)."""

    async def healthz(_request: web.Request) -> web.Response:
        try:
            report = await asyncio.to_thread(health)
        except Exception as err:  # the probe must answer even when the database does not
            log.warning("health check failed: %s", err)
            body = {"status": "error", "problems": [f"health check failed: {err}"]}
            return web.json_response(body, status=503)
        return web.json_response(
            report.body, status=200 if report.ok else 503, dumps=_dumps
        )

    async def metrics_view(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application(client_max_size=256 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    if slack_commands is not None:
        app.router.add_post("/slack/commands", slack_commands)
    for path, handler in (routes or {}).items():
        app.router.add_post(path, handler)
    return app


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


def split_addr(addr: str) -> tuple[str, int]:
    """'127.0.0.1:9464' → ('127.0.0.1', 9464); '[::1]:9464' → ('::1', 9464)."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class HttpServer:
    """Starts and stops the application on one address."""

    def __init__(self, app: web.Application, addr: str) -> None:
        self.app = app
        self.host, self.port = split_addr(addr)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        self.bound_port: int | None = None

    async def start(self) -> None:
        """Bind and serve; raise OSError with the address when the port is taken."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            raise OSError(f"cannot listen on {self.host}:{self.port}: {err.strerror}") from err
        self.bound_port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop accepting connections and finish the ones in progress."""
        await self._runner.cleanup()
