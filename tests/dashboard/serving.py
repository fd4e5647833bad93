"""The dashboard's routes and /healthz on one in-process server, as the service builds them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.app.dashboard import DashboardModel, DashboardRoutes
from bot.app.dashboard.gate import WorkGate
from bot.app.health import Health
from bot.app.http import HttpServer, build_app
from bot.runtime.metrics import Metrics


def healthy() -> Health:
    """A health probe that always says ok."""
    return Health(True, {})


@asynccontextmanager
async def serving(model: DashboardModel, token: str | None = None, gate: WorkGate | None = None,
                  health: Callable[[], Health] = healthy) -> AsyncIterator[str]:
    """The base URL of a server over `model` (behind `token`, through `gate`)."""
    routes = DashboardRoutes(lambda: model, token, gate).routes()
    server = HttpServer(build_app(health, Metrics(), pages=routes), "127.0.0.1:0")
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.bound_port}"
    finally:
        await server.stop()
