"""The exit deadline and the detached executor, in-process (issue 22 item 4); the real process
under SIGTERM is tests/service/test_stop_trials.py."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.runtime.exits import DetachedExecutor, ExitDeadline


class Ended:
    """Stands for os._exit: records the code and lets the test wait for it."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.done = threading.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.done.set()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_armed_deadline_ends_the_process_naming_the_threads_still_busy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    ended, clock, release = Ended(), Clock(), threading.Event()
    busy = threading.Thread(target=release.wait, name="poll-of-a-slow-server")
    busy.start()
    try:
        deadline = ExitDeadline(end=ended, clock=clock, tick=0.01).start()
        clock.now += 1000  # not armed: nothing happens however long it runs
        assert not ended.done.wait(0.2) and not deadline.armed
        deadline.arm(10.0, code=0)
        deadline.arm(60.0, code=3)  # a later deadline does not move it
        clock.now += 9.0
        assert not ended.done.wait(0.2)
        clock.now += 1.0
        assert ended.done.wait(30)
    finally:
        release.set()
        busy.join()
    assert ended.codes == [0]
    [line] = [r.getMessage() for r in caplog.records if "exiting now" in r.getMessage()]
    assert "10.0 s after the stop was asked for" in line
    assert "poll-of-a-slow-server" in line


def test_an_earlier_deadline_wins() -> None:
    ended, clock = Ended(), Clock()
    deadline = ExitDeadline(end=ended, clock=clock, tick=0.01)
    deadline.arm(10.0, code=0)
    deadline.arm(0.5, code=1)  # e.g. after the loop ended with 1
    deadline.start()
    clock.now += 0.5
    assert ended.done.wait(30) and ended.codes == [1]


def test_the_detached_executor_does_not_wait_for_busy_threads() -> None:
    release = threading.Event()
    pool = DetachedExecutor(max_workers=1, thread_name_prefix="test-detached")
    future = pool.submit(release.wait)
    try:
        pool.shutdown(wait=True)  # what asyncio.run asks at its end: it returns at once
        assert not future.done()
    finally:
        release.set()
    assert future.result(timeout=30) is True
