"""The service's HTTP application on CYCLEWATCH_HTTP_ADDR: /healthz, /metrics, the chat front
ends' POST routes and the dashboard. It is served by bot.runtime.httpserver's hardened
`HttpServer` (connection cap, read and idle timeouts, size caps, rated refusal lines)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from aiohttp import web

from bot.app.health import Health
from bot.runtime.httpserver import (
    METRICS,
    Handler,
    HttpLimits,
    HttpServer,
    connection_cap,
    raise_file_limit,
)
from bot.runtime.logsafe import public_error
from bot.runtime.metrics import CONTENT_TYPE, Metrics

__all__ = ["Handler", "HttpLimits", "HttpServer", "build_app", "connection_cap",
           "raise_file_limit"]

log = logging.getLogger(__name__)

T = TypeVar("T")
HealthProbe = Callable[[], Health]


def build_app(
    health: HealthProbe, metrics: Metrics, *, slack_commands: Handler | None = None,
    routes: Mapping[str, Handler] | None = None, limits: HttpLimits | None = None,
    pages: Mapping[str, Handler] | None = None,
) -> web.Application:
    """The aiohttp application; `health` runs in a worker thread (it reads the database).
    `routes` are the chat front ends' POST endpoints by path (`ChatSide.http_routes`);
    `pages` the dashboard's GET routes by path (`DashboardRoutes.routes`).

    /healthz and /metrics run on two threads of their own, so no amount of chat or dashboard
    work waiting for the shared worker threads delays a probe or a scrape."""
    limits = limits or HttpLimits()
    probes = ThreadPoolExecutor(2, thread_name_prefix="cyclewatch-probe")

    async def in_probe_thread(fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(probes, fn)

    async def close_probes(_app: web.Application) -> None:
        probes.shutdown(wait=False)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            report = await in_probe_thread(health)
        except Exception as err:  # the probe must answer even when the database does not
            log.warning("health check failed: %s", err)
            body = {"status": "error", "problems": [f"health check failed: {public_error(err)}"]}
            return web.json_response(body, status=503)
        return web.json_response(
            report.body, status=200 if report.ok else 503, dumps=_dumps
        )

    async def metrics_view(_request: web.Request) -> web.Response:
        # a worker thread: the series ages are read from the database at each scrape
        response = web.Response(body=await in_probe_thread(metrics.render))
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application(client_max_size=limits.max_body, middlewares=[_api_errors_as_json])
    app[METRICS] = metrics
    app.on_cleanup.append(close_probes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    if slack_commands is not None:
        app.router.add_post("/slack/commands", slack_commands)
    for path, handler in (routes or {}).items():
        app.router.add_post(path, handler)
    for path, handler in (pages or {}).items():
        app.router.add_get(path, handler)
    return app


@web.middleware
async def _api_errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The router's own refusals under /api/ (a POST to a GET route: 405) in the API's
    `{"error": ...}` form; the handlers answer their errors so themselves."""
    try:
        return await handler(request)
    except web.HTTPException as err:
        if err.status < 400 or not request.path.startswith("/api/"):
            raise
        response = web.json_response({"error": err.reason}, status=err.status)
        allow = err.headers.get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


