"""The service's HTTP server on CYCLEWATCH_HTTP_ADDR: /healthz, /metrics, Slack slash commands.

It is hardened for an open port: a request head must arrive within `header_timeout`, a
handler (body included) must finish within `request_timeout`, idle keep-alive connections
close after `idle_timeout`, heads and bodies have size caps, and the number of open
connections stays below the process's file limit. At the cap the oldest connection that has
not sent a request yet is dropped for the newcomer, so /healthz gets through idle floods.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from bot.app.health import Health
from bot.runtime.logsafe import public_error
from bot.runtime.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
HealthProbe = Callable[[], Health]
METRICS = web.AppKey("metrics", Metrics)
SUMMARY_EVERY = 60.0  # seconds between two log lines about refused connections
FILE_LIMIT_TARGET = 65536


@dataclass(frozen=True)
class HttpLimits:
    """Timeouts (seconds) and sizes of the HTTP server; `max_connections` None = from the
    process's open-file limit (see `connection_cap`)."""

    header_timeout: float = 10.0
    request_timeout: float = 30.0
    idle_timeout: float = 15.0
    max_body: int = 256 * 1024
    max_line: int = 8190
    max_headers: int = 64
    max_connections: int | None = None


def raise_file_limit(target: int = FILE_LIMIT_TARGET) -> int:
    """Raise the soft RLIMIT_NOFILE towards `target` where the hard limit allows; the new
    soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as err:
            log.warning("cannot raise the open-file limit from %d: %s", soft, err)
    return FILE_LIMIT_TARGET if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(file_limit: int) -> int:
    """HTTP connections allowed at once: a quarter of the files (at least 128) stays for the
    database, the chat clients and the sources; never more than 4,096."""
    return max(16, min(4096, file_limit - max(128, file_limit // 4)))


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

    app = web.Application(client_max_size=limits.max_body)
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


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


def split_addr(addr: str) -> tuple[str, int]:
    """'127.0.0.1:9464' → ('127.0.0.1', 9464); '[::1]:9464' → ('::1', 9464)."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class ConnectionGuard:
    """Counts open connections, cuts those that do not send a request head in time, and
    makes room at the cap by dropping the oldest connection still waiting for its head."""

    def __init__(self, cap: int, header_timeout: float, metrics: Metrics | None) -> None:
        self.cap = cap
        self.header_timeout = header_timeout
        self.metrics = metrics
        self.open = 0
        self._waiting: OrderedDict[asyncio.BaseTransport, asyncio.TimerHandle] = OrderedDict()
        self._refused = 0
        self._summary_at: float | None = None

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """A new connection: True when it may be served (room made if needed)."""
        if self.open >= self.cap:
            if not self._waiting:
                self._count("refused")
                return False
            oldest = next(iter(self._waiting))
            self._cut(oldest, "evicted")
        self.open += 1
        self.arm(transport, self.header_timeout)
        return True

    def arm(self, transport: asyncio.BaseTransport, seconds: float) -> None:
        """Expect a request head on `transport` within `seconds`."""
        self.started(transport)
        loop = asyncio.get_running_loop()
        self._waiting[transport] = loop.call_later(seconds, self._cut, transport, "timeout")

    def started(self, transport: asyncio.BaseTransport | None) -> None:
        """A request head arrived: no deadline until the response is out."""
        timer = self._waiting.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()

    def closed(self, transport: asyncio.BaseTransport) -> None:
        """A served connection ended."""
        self.started(transport)
        self.open -= 1

    def _cut(self, transport: asyncio.BaseTransport, reason: str) -> None:
        self.started(transport)
        if not transport.is_closing():
            transport.abort()  # type: ignore[attr-defined]
        self._count(reason)

    def _count(self, reason: str) -> None:
        # One line a minute at most: a flood must not turn into a flood of log lines.
        if self.metrics is not None:
            self.metrics.http_connections_cut.labels(reason).inc()
        if reason == "timeout":
            return
        self._refused += 1
        now = time.monotonic()
        if self._summary_at is None or now - self._summary_at >= SUMMARY_EVERY:
            log.warning("HTTP: %d connection(s) refused or dropped at the cap of %d open "
                        "connections (since the last such line)", self._refused, self.cap)
            self._refused, self._summary_at = 0, now


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol behind the guard (every callback is handed on)."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.guard.admit(transport):
            transport.abort()  # type: ignore[attr-defined]
            return
        self.transport = transport
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return
        self.guard.closed(self.transport)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.transport is not None else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class HttpServer:
    """Starts and stops the application on one address, behind a `ConnectionGuard`."""

    def __init__(self, app: web.Application, addr: str, *,
                 limits: HttpLimits | None = None) -> None:
        self.app = app
        self.host, self.port = split_addr(addr)
        self.limits = limits or HttpLimits()
        metrics = app.get(METRICS)
        self.guard = ConnectionGuard(self.limits.max_connections or 0,
                                     self.limits.header_timeout, metrics)
        app.middlewares.append(self._deadline)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0,
            keepalive_timeout=self.limits.idle_timeout, max_line_size=self.limits.max_line,
            max_field_size=self.limits.max_line, max_headers=self.limits.max_headers,
        )
        self._server: asyncio.Server | None = None
        self.bound_port: int | None = None

    @web.middleware
    async def _deadline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.guard.started(request.transport)
        try:
            async with asyncio.timeout(self.limits.request_timeout):
                return await handler(request)
        except TimeoutError:
            return web.json_response({"error": "request timed out"}, status=408)
        finally:
            if request.transport is not None and not request.transport.is_closing():
                self.guard.arm(request.transport,
                               self.limits.idle_timeout + self.limits.header_timeout)

    async def start(self) -> None:
        """Bind and serve; raise OSError with the address when the port is taken."""
        if not self.limits.max_connections:
            self.guard.cap = connection_cap(raise_file_limit())
        await self._runner.setup()
        inner = self._runner.server
        assert inner is not None
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _Guarded(inner(), self.guard), self.host, self.port,
                backlog=512, reuse_address=True)
        except OSError as err:
            await self._runner.cleanup()
            raise OSError(f"cannot listen on {self.host}:{self.port}: {err.strerror}") from err
        self.bound_port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting connections and finish the ones in progress."""
        if self._server is not None:
            self._server.close()
        await self._runner.cleanup()
