"""Per-source polls follow the release calendar and back off after failures."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest.calendar import EASTERN, ReleaseCalendar, SourceSchedule
from bot.ingest.poller import PollOutcome, SourcePoller, with_fast_poll
from bot.runtime.backoff import Backoff
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import InFlight, build_scheduler

# Thursday 2026-11-19, one minute after the H.4.1 release (4:30 pm Eastern).
IN_WINDOW = datetime(2026, 11, 19, 16, 31, tzinfo=EASTERN).astimezone(UTC)
H41 = SourceSchedule(name="fred", kinds=("h41",), window=timedelta(hours=2))


def running_clock(start: datetime) -> Iterator[datetime]:
    began = time.monotonic()
    while True:
        yield start + timedelta(seconds=time.monotonic() - began)


def make_poller(outcomes: list[PollOutcome], calls: list[datetime], *, every: float,
                new_data: list[int], start: datetime = IN_WINDOW) -> SourcePoller:
    ticks = running_clock(start)
    script = iter(outcomes)

    async def produce(now: datetime) -> PollOutcome:
        calls.append(now)
        outcome = next(script, PollOutcome(ok=True))
        new_data.extend([outcome.new_rows][:outcome.new_rows])
        return outcome

    (schedule,) = with_fast_poll([H41], timedelta(seconds=every))
    return SourcePoller(
        schedule, produce, calendar=ReleaseCalendar(), backoff=Backoff(0.05, 0.2),
        inflight=InFlight(), metrics=Metrics(), clock=lambda: next(ticks),
    )


async def wait_until(condition: Callable[[], object]) -> None:
    """Give the scheduler up to 5 s to make `condition` true (checked every 20 ms)."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)


async def test_in_a_release_window_it_polls_fast_until_the_data_change() -> None:
    calls: list[datetime] = []
    new_data: list[int] = []
    poller = make_poller(
        [PollOutcome(ok=True, new_rows=900), PollOutcome(ok=True),
         PollOutcome(ok=True, new_rows=3)],
        calls, every=0.1, new_data=new_data,
    )
    scheduler = build_scheduler("UTC")
    scheduler.start()
    try:
        poller.start(scheduler)
        await wait_until(lambda: len(new_data) == 2)
        # The catch-up rows of the first poll do not end the window; the release does.
        assert new_data == [900, 3] and len(calls) == 3
        await asyncio.sleep(0.5)
        assert len(calls) == 3  # the week's release is in: back to the slow plan
        planned = scheduler.get_job("poll:fred").next_run_time
        assert planned - datetime.now(UTC) > timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=False)


async def test_failures_back_off_then_recover_and_are_counted() -> None:
    calls: list[datetime] = []
    outcomes = [PollOutcome(ok=False, error="refused")] * 3 + [PollOutcome(ok=True, new_rows=1)]
    poller = make_poller(outcomes, calls, every=30, new_data=[])
    scheduler = build_scheduler("UTC")
    scheduler.start()
    try:
        poller.start(scheduler)
        await wait_until(lambda: len(calls) >= 4)
        assert len(calls) == 4
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(calls)]
        assert gaps[0] < gaps[2] < 1.0  # backing off, but far sooner than the 30 s interval
        samples = {s.name: s.value for m in poller.metrics.registry.collect() for s in m.samples
                   if s.labels.get("source") == "fred"}
        assert samples["cyclewatch_fetch_failures_total"] == 3
        assert samples["cyclewatch_source_age_seconds"] < 5
    finally:
        scheduler.shutdown(wait=False)


async def test_outside_any_window_the_next_poll_is_the_release_or_safety_poll() -> None:
    monday = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    poller = make_poller([], [], every=1, new_data=[], start=monday)
    poller.state = poller.state.__class__(last_poll=monday)
    when, reason = poller.next_planned(monday)
    assert (when, reason) == (monday + H41.safety_every, "safety poll")
    thursday_noon = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    poller.state = poller.state.__class__(last_poll=thursday_noon)
    when, reason = poller.next_planned(thursday_noon)
    assert (when, reason) == (IN_WINDOW - timedelta(minutes=1), "h41 release")


@pytest.mark.parametrize("every", [None, 2.0])
def test_fast_poll_override(every: float | None) -> None:
    (schedule,) = with_fast_poll([H41], None if every is None else timedelta(seconds=every))
    expected = H41.fast_every if every is None else timedelta(seconds=every)
    assert schedule.fast_every == expected
