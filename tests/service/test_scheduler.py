"""The scheduler set-up: explicit defaults, backoff after failures, clean draining."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.runtime.backoff import Backoff
from bot.runtime.scheduler import JOB_DEFAULTS, InFlight, PeriodicJob, build_scheduler


def test_backoff_doubles_caps_and_resets() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(1) == 0.5  # a success resets the caller's count, not the backoff
    assert not Backoff(0.5, 3.0).exhausted(10**6)
    assert Backoff(0.5, 3.0, max_attempts=4).exhausted(4)


async def test_scheduler_defaults_are_explicit() -> None:
    scheduler = build_scheduler("America/New_York")
    scheduler.start()
    try:
        assert scheduler.timezone == ZoneInfo("America/New_York")
        job = scheduler.add_job(lambda: None, "interval", seconds=60)
        assert job.misfire_grace_time == JOB_DEFAULTS["misfire_grace_time"]
        assert job.coalesce is True
    finally:
        scheduler.shutdown(wait=False)


async def test_failing_job_retries_sooner_with_backoff_then_keeps_its_interval() -> None:
    calls: list[float] = []
    outcomes = iter([False, False, False, True, True])
    fourth_call = asyncio.Event()

    async def body() -> bool:
        calls.append(time.monotonic())
        if len(calls) == 4:
            fourth_call.set()
        return next(outcomes, True)

    scheduler = build_scheduler("UTC")
    scheduler.start()
    job = PeriodicJob(
        "poll", body, interval=30.0, backoff=Backoff(0.1, 0.4), inflight=InFlight()
    )
    job.add_to(scheduler)
    try:
        await asyncio.wait_for(fourth_call.wait(), timeout=10)
        assert len(calls) == 4  # three failures retried long before the 30 s interval
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert gaps[0] < gaps[2]  # the waits grew
        assert all(gap < 5 for gap in gaps)
        await asyncio.sleep(0.6)
        assert len(calls) == 4  # after the success it waits for the interval again
        next_run = scheduler.get_job("poll").next_run_time
        assert (next_run - datetime.now(UTC)).total_seconds() > 20
    finally:
        scheduler.shutdown(wait=False)


async def test_a_crashing_job_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    retried = asyncio.Event()

    async def body() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        retried.set()
        return True

    scheduler = build_scheduler("UTC")
    scheduler.start()
    PeriodicJob("eval", body, interval=30.0, backoff=Backoff(0.05, 0.1),
                inflight=InFlight()).add_to(scheduler)
    try:
        await asyncio.wait_for(retried.wait(), timeout=5)
        assert calls == 2
        assert "eval failed" in caplog.text and "boom" in caplog.text
    finally:
        scheduler.shutdown(wait=False)


async def test_drain_waits_for_work_in_flight_and_refuses_new_work() -> None:
    inflight = InFlight()
    finished: list[str] = []

    async def work(name: str, seconds: float) -> None:
        if inflight.track() is None:
            finished.append(f"{name} refused")
            return
        await asyncio.sleep(seconds)
        finished.append(name)

    quick = asyncio.create_task(work("quick", 0.1))
    slow = asyncio.create_task(work("slow", 30))
    await asyncio.sleep(0.01)
    abandoned = await inflight.drain(grace=0.5)
    assert abandoned == 1
    assert finished == ["quick"]
    assert slow.cancelled()
    await work("late", 0)
    assert finished[-1] == "late refused"
    assert quick.done()
