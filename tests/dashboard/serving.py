"""The dashboard's routes and /healthz on one in-process server, as the service builds them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.app.dashboard import DashboardModel, DashboardRoutes
from bot.app.dashboard.gate import WorkGate
from bot.app.health import Health
from bot.app.http import HttpLimits, HttpServer, build_app
from bot.runtime.metrics import Metrics


def healthy() -> Health:
    """A health probe that always says ok."""
    return Health(True, {})


@asynccontextmanager
async def serving(model: DashboardModel, token: str | None = None, gate: WorkGate | None = None,
                  health: Callable[[], Health] = healthy) -> AsyncIterator[str]:
    """The base URL of a server over `model` (behind `token`, through `gate`)."""
    routes = DashboardRoutes(lambda: model, token, gate).routes()
    # No request deadline of its own: a first computation on a saturated machine may take
    # longer than the service's 30 s, and these tests are not about that deadline.
    server = HttpServer(build_app(health, Metrics(), pages=routes), "127.0.0.1:0",
                        limits=HttpLimits(request_timeout=600.0))
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.bound_port}"
    finally:
        await server.stop()
