"""The HTTP server under idle floods, slowloris and oversized requests (issue 13, row 1)."""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.app.health import Health
from bot.app.http import build_app
from bot.runtime.httpserver import HttpLimits, HttpServer, connection_cap, raise_file_limit
from bot.runtime.metrics import Metrics

IDLE = 2000


def _room_for(wanted: int) -> int:
    """How many idle sockets this test may open: raise its own soft limit where allowed."""
    soft = raise_file_limit(wanted + 512)
    return max(100, min(wanted, soft - 256))


async def _serve(limits: HttpLimits) -> tuple[HttpServer, Metrics]:
    metrics = Metrics()
    app = build_app(lambda: Health(True, {"status": "ok"}), metrics)
    server = HttpServer(app, "127.0.0.1:0", limits=limits)
    await server.start()
    return server, metrics


@pytest.fixture
async def idle_flood() -> AsyncIterator[list[asyncio.StreamWriter]]:
    writers: list[asyncio.StreamWriter] = []
    yield writers
    for writer in writers:
        writer.close()


async def _open_idle(port: int, count: int, into: list[asyncio.StreamWriter]) -> None:
    for _ in range(count):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        into.append(writer)


async def _healthz_seconds(port: int) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=10)
    ) as response:
        assert response.status == 200
    return time.monotonic() - started


async def test_healthz_answers_under_2000_idle_connections(
    idle_flood: list[asyncio.StreamWriter],
) -> None:
    server, _metrics = await _serve(HttpLimits())
    try:
        assert server.bound_port is not None
        await _open_idle(server.bound_port, _room_for(IDLE), idle_flood)
        assert await _healthz_seconds(server.bound_port) < 1.0
    finally:
        await server.stop()


async def test_at_the_cap_idle_connections_make_room_and_refusals_are_summarised(
    idle_flood: list[asyncio.StreamWriter], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.runtime.httpserver")
    server, metrics = await _serve(HttpLimits(max_connections=200))
    try:
        assert server.bound_port is not None
        await _open_idle(server.bound_port, _room_for(IDLE), idle_flood)
        assert await _healthz_seconds(server.bound_port) < 1.0
        assert server.guard.open <= 200 + 5
        cut = metrics.http_connections_cut.labels("evicted")._value.get()
        assert cut >= len(idle_flood) - 200
        lines = [r for r in caplog.records if "at the cap" in r.getMessage()]
        assert len(lines) == 1  # a summary line a minute, not a line per connection
    finally:
        await server.stop()


async def test_a_half_sent_request_is_cut_after_the_read_timeout() -> None:
    server, metrics = await _serve(HttpLimits(read_timeout=1.0))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), timeout=10) == b""
        assert 0.5 < time.monotonic() - started < 5
        assert metrics.http_connections_cut.labels("timeout")._value.get() == 1
        writer.close()
    finally:
        await server.stop()


async def test_oversized_heads_and_bodies_are_refused() -> None:
    server, _metrics = await _serve(HttpLimits(max_body=1024))
    url = f"http://127.0.0.1:{server.bound_port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/healthz", headers={"X-Big": "a" * 20_000}) as resp:
                assert resp.status in (400, 431)
            async with session.post(f"{url}/metrics", data=b"x" * 10_000) as resp:
                assert resp.status in (405, 413)
    finally:
        await server.stop()


def test_the_connection_cap_stays_below_the_file_limit() -> None:
    # both ports full, each with its accept bursts, leave a quarter of the files
    assert 2 * (connection_cap(1024) + 4 * 32) <= 1024 - 256
    assert connection_cap(65536) == 4096
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_file_limit() >= min(soft, 65536)
