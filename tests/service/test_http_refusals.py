"""A refused request is one log line without a traceback, at a bounded rate; a half-sent body
is cut like a half-sent head (issue 22 item 5)."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.app.health import Health
from bot.app.http import build_app
from bot.runtime.httpserver import HttpLimits, HttpServer, quiet_accept_errors
from bot.runtime.metrics import Metrics
from bot.runtime.ratedlog import RatedLog

MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # TLS on a plain port
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
]


async def _echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    app = build_app(lambda: Health(True, {}), Metrics(), routes={"/echo": _echo})
    running = HttpServer(app, "127.0.0.1:0", limits=HttpLimits(read_timeout=1.0))
    await running.start()
    yield running
    await running.stop()


async def _exchange(port: int | None, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    try:
        return await asyncio.wait_for(reader.read(), timeout=20)
    finally:
        writer.close()


async def test_malformed_requests_are_400s_and_one_line_without_a_traceback(
    server: HttpServer, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for _round in range(4):
        for payload in MALFORMED:
            answer = await _exchange(server.bound_port, payload)
            assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
    mine = [r for r in caplog.records if r.name.startswith(("aiohttp", "bot.runtime"))]
    assert [r.getMessage()[:38] for r in mine] == ["HTTP: refused a malformed request (400"]
    assert not any(r.exc_info for r in mine)


async def test_a_half_sent_body_is_cut_after_the_read_timeout(server: HttpServer) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    answer = await _exchange(server.bound_port, head + b"only ten b")
    assert answer.split(b"\r\n")[0] == b"HTTP/1.1 408 Request Timeout"
    whole = await _exchange(server.bound_port, head.replace(b"\r\n\r\n", b"\r\n"
                                                             b"Connection: close\r\n\r\n")
                            + b"x" * 100)
    assert whole.split(b"\r\n")[0] == b"HTTP/1.1 200 OK" and whole.endswith(b"x" * 100)


def test_a_rated_line_says_how_many_it_stood_for(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    rated = RatedLog(logging.getLogger("test.rated"), every=60.0, clock=lambda: now[0])
    logged = []
    for second in range(0, 180):
        now[0] = float(second)
        logged.append(rated.note("kind", "a refusal"))
    assert [i for i, said in enumerate(logged) if said] == [0, 60, 120]
    assert [r.getMessage() for r in caplog.records] == [
        "a refusal", "a refusal (60 such since the last line)",
        "a refusal (60 such since the last line)"]


async def test_accepts_failing_for_want_of_files_are_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    others: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: others.append(context))
    quiet_accept_errors(loop)
    try:
        for _ in range(500):
            loop.call_exception_handler({
                "message": "socket.accept() out of system resource",
                "exception": OSError(errno.EMFILE, "Too many open files")})
        loop.call_exception_handler({"message": "something else", "exception": ValueError()})
    finally:
        loop.set_exception_handler(previous)
    lines = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(lines) == 1 and not lines[0].exc_info
    assert [c["message"] for c in others] == ["something else"]
