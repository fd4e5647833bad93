"""A listening port hardened for the open internet (the service's HTTP server and Telegram's
webhook both use it): a request's head and then its body must each arrive within
`read_timeout`, a handler must finish within `request_timeout`, idle keep-alive connections
close after `idle_timeout`, heads and bodies have size caps, and the open connections stay
below the process's file limit. At the cap the oldest connection that has not sent a request
yet is dropped for the newcomer, so a probe gets through idle floods. Refused requests are
logged as one line each kind, at most once a minute (`RatedLog`), never with a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.config import Settings
from bot.runtime.metrics import Metrics
from bot.runtime.ratedlog import RatedLog

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS = web.AppKey("metrics", Metrics)
FILE_LIMIT_TARGET = 65536
PORTS = 2  # listening ports that share the files: the HTTP server and Telegram's webhook
# asyncio accepts up to `backlog` sockets per wake-up before any of them can be refused, and
# a few wake-ups may pass before the refused ones are closed: room for that stays free. The
# kernel's queue is longer, so handshakes wait there through a pause of the process instead
# of being dropped (a dropped one is retried by the client a second later).
BACKLOG = 32
ACCEPT_BURSTS = 4
LISTEN_QUEUE = 512
STOP_SECONDS = 1.0  # at stop, requests in flight (a dashboard render) get this long
LINGER_SECONDS = 1.0  # a body left unread after the answer is drained this long at most
OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True)
class HttpLimits:
    """Timeouts (seconds) and sizes of one port; `max_connections` None = from the process's
    open-file limit (see `connection_cap`)."""

    read_timeout: float = 5.0
    request_timeout: float = 30.0
    idle_timeout: float = 10.0
    max_body: int = 256 * 1024
    max_line: int = 8190
    max_headers: int = 64
    max_connections: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        """The limits the CYCLEWATCH_HTTP_* settings ask for (the rest as defaults)."""
        return cls(read_timeout=settings.http_read_timeout,
                   idle_timeout=settings.http_idle_timeout,
                   max_connections=settings.http_max_connections)


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
    """Connections one port may hold at once: a quarter of the files (at least 128) stays for
    the database, the chat clients and the sources, the rest is shared by the `PORTS` ports
    less their accept bursts; never more than 4,096."""
    spare = max(128, file_limit // 4)
    share = (file_limit - spare) // PORTS - ACCEPT_BURSTS * BACKLOG
    return max(16, min(4096, share))


class _RequestLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger: a request it refuses (malformed, head too long) is one rated
    line without a traceback; everything else (a handler's own error) is logged as given."""

    def __init__(self, refusals: RatedLog, name: str) -> None:
        super().__init__(log, {})
        self.refusals = refusals
        self.port_name = name

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Refusals as one line, the rest handed on."""
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            why = " ".join(str(error.message).split())[:160]
            self.refusals.note("malformed", f"{self.port_name}: refused a malformed request "
                                            f"({error.code} {type(error).__name__}: {why})")
            return
        super().log(level, msg, *args, **kwargs)


class ConnectionGuard:
    """Counts open connections, cuts those that do not send a request head in time, and
    makes room at the cap by dropping the oldest connection still waiting for its head."""

    def __init__(self, cap: int, read_timeout: float, metrics: Metrics | None,
                 refusals: RatedLog | None = None, name: str = "HTTP") -> None:
        self.cap = cap
        self.name = name
        self.read_timeout = read_timeout
        self.metrics = metrics
        self.refusals = refusals or RatedLog(log)
        self.open = 0
        self._waiting: OrderedDict[asyncio.BaseTransport, asyncio.TimerHandle] = OrderedDict()

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """A new connection: True when it may be served (room made if needed)."""
        if self.open >= self.cap:
            if not self._waiting:
                self._count("refused")
                return False
            oldest = next(iter(self._waiting))
            self._cut(oldest, "evicted")
        self.open += 1
        self.arm(transport, self.read_timeout)
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
        if self.metrics is not None:
            self.metrics.http_connections_cut.labels(reason).inc()
        if reason != "timeout":  # idle sockets timing out are routine, counted only
            self.refusals.note("cap", f"{self.name}: connection {reason} at the cap of {self.cap} "
                                      "open connections")


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


def split_addr(addr: str) -> tuple[str, int]:
    """'127.0.0.1:9464' → ('127.0.0.1', 9464); '[::1]:9464' → ('::1', 9464)."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class HttpServer:
    """Starts and stops the application on one address, behind a `ConnectionGuard`."""

    def __init__(self, app: web.Application, addr: str, *,
                 limits: HttpLimits | None = None, name: str = "HTTP") -> None:
        self.app = app
        self.host, self.port = split_addr(addr)
        self.limits = limits or HttpLimits()
        self.name = name
        self.refusals = RatedLog(log)
        self.guard = ConnectionGuard(self.limits.max_connections or 0, self.limits.read_timeout,
                                     app.get(METRICS), self.refusals, name)
        app.middlewares.append(self._deadline)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=STOP_SECONDS,
            keepalive_timeout=self.limits.idle_timeout, max_line_size=self.limits.max_line,
            max_field_size=self.limits.max_line, max_headers=self.limits.max_headers,
            logger=_RequestLog(self.refusals, name),
            lingering_time=LINGER_SECONDS,
        )
        self._server: asyncio.Server | None = None
        self.bound_port: int | None = None

    @web.middleware
    async def _deadline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.guard.started(request.transport)
        try:
            if request.body_exists:  # a half-sent body is cut like a half-sent head
                async with asyncio.timeout(self.limits.read_timeout):
                    await request.read()
            async with asyncio.timeout(self.limits.request_timeout):
                return await handler(request)
        except TimeoutError:
            self.refusals.note("timeout", f"{self.name}: a request took too long "
                                          f"({request.method} {request.path}); answered 408")
            response = web.json_response({"error": "request timed out"}, status=408)
            response.force_close()
            return response
        finally:
            if request.transport is not None and not request.transport.is_closing():
                self.guard.arm(request.transport,
                               self.limits.idle_timeout + self.limits.read_timeout)

    async def start(self) -> None:
        """Bind and serve; raise OSError with the address when the port is taken."""
        if not self.limits.max_connections:
            self.guard.cap = connection_cap(raise_file_limit())
        await self._runner.setup()
        inner = self._runner.server
        assert inner is not None
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as err:
            await self._runner.cleanup()
            raise OSError(f"cannot listen on {self.host}:{self.port}: {err.strerror}") from err
        self._server = await loop.create_server(
            lambda: _Guarded(inner(), self.guard), sock=sock, backlog=BACKLOG)
        sock.listen(LISTEN_QUEUE)  # after asyncio's listen(BACKLOG): its bursts stay short
        self.bound_port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting connections and finish the ones in progress."""
        if self._server is not None:
            self._server.close()
        await self._runner.cleanup()


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Make the loop report a failed accept() for want of files (EMFILE, ...) as one rated
    line instead of a traceback each time; anything else goes to the previous handler."""
    previous = loop.get_exception_handler()
    refusals = RatedLog(log)

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in OUT_OF_FILES:
            refusals.note("accept", f"HTTP: cannot accept connections: {error.strerror} "
                                    f"(errno {error.errno}); retrying in a second")
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
