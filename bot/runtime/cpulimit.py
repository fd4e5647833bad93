"""Run a function in a daemon thread under a budget of that thread's own CPU time.

A budget of CPU seconds is the same on an idle and on a saturated machine (a busy machine
stretches the wall time, not the work), so a verdict bound to it depends on the input only.
The awaiting side reads the worker's CPU clock (`pthread_getcpuclockid`) every `poll`
seconds; past the budget it gives up with `CpuBudgetExceeded` and asks the worker to stop by
raising `Stopped` in it at its next bytecode, so a step that never comes back to a cooperative
check is cut short too. The worker stays alive until the watcher is done reading its clock
(reading an exited thread's clock is undefined behaviour).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05


class CpuBudgetExceeded(Exception):
    """The worker used more than `budget` seconds of its own CPU time and was abandoned."""

    def __init__(self, budget: float) -> None:
        super().__init__(f"more than {budget:g} s of CPU time")
        self.budget = budget


class Stopped(BaseException):
    """Raised inside an abandoned worker (a BaseException, so `except Exception` lets it by)."""


def _interrupt(ident: int) -> None:
    # CPython's documented way to raise in another thread; a no-op once the thread is done.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(Stopped))


async def run_cpu_bounded(
    fn: Callable[..., T], *args: Any, cpu_seconds: float, poll: float = POLL_SECONDS
) -> T:
    """`fn(*args)` in a daemon thread; CpuBudgetExceeded once that thread has spent more than
    `cpu_seconds` of CPU time (wall time, however long, is never a reason to give up)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    released = threading.Event()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        outcome: tuple[T | None, BaseException | None]
        try:
            try:
                outcome = (fn(*args), None)
            except BaseException as err:  # handed to the awaiting task, whatever it is
                outcome = (None, err)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle, *outcome)
            released.wait()
        except Stopped:  # arrived after fn was done: nothing left to stop
            pass

    worker = threading.Thread(target=run, daemon=True, name=f"cyclewatch-{fn.__name__}")
    worker.start()
    assert worker.ident is not None
    clock = None if math.isinf(cpu_seconds) else _cpu_clock(worker.ident)
    try:
        while not future.done():
            if clock is not None and time.clock_gettime(clock) > cpu_seconds:
                _interrupt(worker.ident)
                raise CpuBudgetExceeded(cpu_seconds)
            await asyncio.wait([future], timeout=None if clock is None else poll)
        return future.result()
    finally:
        future.cancel()  # when we stop waiting (cancelled), what comes later is dropped
        released.set()


def _cpu_clock(ident: int) -> int | None:
    """The thread's CPU-time clock; None where the platform has none (then only the
    cooperative checks of the work itself bound it)."""
    getter = getattr(time, "pthread_getcpuclockid", None)
    return None if getter is None else int(getter(ident))


__all__ = ["CpuBudgetExceeded", "Stopped", "run_cpu_bounded"]
