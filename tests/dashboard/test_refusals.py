"""Dates the data cannot answer are refused before any work, and the expensive work waits in a
bounded queue that never holds up /healthz (issue 20 item 6)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta

import aiohttp
import pytest

from bot.app.dashboard import DashboardModel
from bot.app.dashboard.gate import GateLimits, WorkGate
from bot.app.health import Health
from bot.evaluate.dates import Answerable, answerable
from tests.dashboard.serving import serving

HANG_GUARD = 120  # seconds; only so a hang fails instead of blocking the suite
CLIENT = "127.0.0.1"  # how the gate knows the test's requests


@asynccontextmanager
async def occupied(gate: WorkGate, client: str, count: int) -> AsyncIterator[None]:
    """`count` computations holding the gate's threads until the block ends."""
    release = threading.Event()
    held = [asyncio.create_task(gate.run(client, lambda: release.wait(HANG_GUARD)))
            for _ in range(count)]
    try:
        await until(lambda: gate.running == min(count, gate.limits.workers), "the threads busy")
        yield
    finally:
        release.set()
        await asyncio.wait_for(asyncio.gather(*held), HANG_GUARD)


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(HANG_GUARD * 20):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_span_runs_from_the_first_observation_to_the_last_plus_its_reach() -> None:
    days = timedelta(days=1)
    found = answerable({"A": (date(1990, 1, 5), date(2026, 10, 2), 9 * days),
                        "B": (date(1833, 1, 1), date(2026, 6, 1), 400 * days),
                        "C": (date(1949, 1, 1), date(2036, 10, 1), 366 * days)})
    assert found == Answerable(date(1833, 1, 1), date(2037, 10, 2))
    assert found.refuses(date(1832, 12, 31)) and found.refuses(date(2037, 10, 3))
    assert not found.refuses(date(1833, 1, 1)) and not found.refuses(date(2037, 10, 2))
    assert answerable({}) is None


REFUSED = ("/api/regime?as_of=2100-01-01", "/api/regime?as_of=0001-01-01&lang=zh",
           "/api/rules?as_of=2100-06-30", "/api/freshness?as_of=0001-01-01",
           "/api/regime/history?from=0001-01-01&to=2020-01-01&every=month",
           "/api/regime/history?from=2020-01-01&to=2100-01-01&every=day",
           "/?as_of=2100-01-01", "/?as_of=0001-01-01")


async def test_eight_dates_outside_the_data_get_400s_without_work_while_healthz_answers(
    model: DashboardModel,
) -> None:
    gate = WorkGate(GateLimits(workers=2))
    health_saw: list[int] = []

    def health() -> Health:
        health_saw.append(gate.running)  # what the dashboard's threads were doing meanwhile
        return Health(True, {})

    computed = sum(model.computed.values())
    async with serving(model, gate=gate, health=health) as base, aiohttp.ClientSession() as http:
        async def get(path: str) -> tuple[int, str, str]:
            async with http.get(base + path) as response:
                return response.status, response.content_type, await response.text()

        async with occupied(gate, "elsewhere", 2):  # every dashboard thread busy meanwhile
            answers = await asyncio.wait_for(
                asyncio.gather(*(get(p) for p in REFUSED), get("/healthz")), HANG_GUARD)
            assert gate.running == 2
    *refused, (health_status, _, _) = answers
    assert health_status == 200 and health_saw == [2]
    for path, (status, kind, body) in zip(REFUSED, refused, strict=True):
        assert status == 400, (path, body)
        assert len(body.strip().splitlines()) == 1, body
        assert "is outside the data: they answer 1833-01-01 to " in body, body
        assert kind == ("application/json" if path.startswith("/api/") else "text/plain")
    assert sum(model.computed.values()) == computed  # not one answer was computed


async def test_a_full_queue_is_answered_at_once_with_retry_after(model: DashboardModel) -> None:
    gate = WorkGate(GateLimits(workers=1, queue=1, per_client=2, retry_after=7))
    async with serving(model, gate=gate) as base, \
            aiohttp.ClientSession() as http:
        async with occupied(gate, CLIENT, 2), http.get(base + "/api/regime?as_of=1987-06-17") \
                as response:  # this client's two places are taken
            assert response.status == 429 and response.headers["Retry-After"] == "7"
            assert "too many requests" in (await response.json())["error"]
        before = model.computed["regime"]
        async with occupied(gate, "elsewhere", 1):
            waiting = asyncio.create_task(http.get(base + "/api/regime?as_of=1987-06-17"))
            await until(lambda: gate.waiting == 1, "the request to wait its turn")
            async with http.get(base + "/?as_of=1987-06-18") as response:  # nobody's place
                assert response.status == 503 and response.headers["Retry-After"] == "7"
                assert response.content_type == "text/plain"
            assert model.computed["regime"] == before
        async with await asyncio.wait_for(waiting, HANG_GUARD) as answered:
            assert answered.status == 200
            assert (await answered.json())["as_of"] == "1987-06-17"
        assert model.computed["regime"] == before + 1


async def test_a_request_that_leaves_the_queue_never_runs() -> None:
    gate = WorkGate(GateLimits(workers=1, queue=4))
    ran: list[str] = []
    async with occupied(gate, "a", 1):
        gone = asyncio.create_task(gate.run("b", lambda: ran.append("gone")))
        kept = asyncio.create_task(gate.run("c", lambda: ran.append("kept")))
        await until(lambda: gate.waiting == 2, "two waiting")
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert gate.waiting == 1
    await asyncio.wait_for(kept, HANG_GUARD)
    assert ran == ["kept"] and gate.running == 0 and gate.waiting == 0


async def test_healthz_and_metrics_answer_while_every_shared_worker_thread_is_busy(
    model: DashboardModel,
) -> None:
    release = threading.Event()
    busy = [asyncio.create_task(asyncio.to_thread(release.wait, HANG_GUARD))
            for _ in range(40)]  # more than the loop's default pool has: chat work piling up
    try:
        async with serving(model) as base, aiohttp.ClientSession() as http:
            for path in ("/healthz", "/metrics"):
                async with asyncio.timeout(HANG_GUARD), http.get(base + path) as response:
                    assert response.status == 200, path
            assert not any(task.done() for task in busy)
    finally:
        release.set()
        await asyncio.wait_for(asyncio.gather(*busy), HANG_GUARD)
