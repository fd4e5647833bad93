"""The dashboard's expensive work behind a bounded queue, per client and overall, on threads
of its own: a full queue is answered at once (429 for the client, 503 for everyone, with
Retry-After), and the threads that /healthz, /metrics and the chat use are never taken.

A request that goes away while waiting leaves the queue without running; one that goes away
while running lets its thread finish (the answer is cached), and its slot is freed only
then, so no more than `workers` computations ever run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class GateLimits:
    """`workers` computations at once; `queue` more may wait (all clients together); one
    client may have `per_client` running or waiting (a browser opens at most six
    connections to a host, so a page never meets it); `retry_after` seconds to suggest."""

    workers: int = 2
    queue: int = 16
    per_client: int = 6
    retry_after: int = 5


class Busy(Exception):
    """The queue is full: `status` 429 (this client's share) or 503 (everyone's)."""

    def __init__(self, status: int, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class WorkGate:
    """Runs `fn()` on the dashboard's own threads once there is room, or refuses at once."""

    def __init__(self, limits: GateLimits | None = None) -> None:
        self.limits = limits or GateLimits()
        self._pool = ThreadPoolExecutor(self.limits.workers,
                                        thread_name_prefix="cyclewatch-dashboard")
        self._slots: asyncio.Semaphore | None = None
        self._admitted: Counter[str] = Counter()
        self.running = 0  # computations on the threads now (a gone request's included)
        self.waiting = 0  # requests admitted and waiting for a thread

    async def run(self, client: str, fn: Callable[[], T]) -> T:
        """`fn()` on a dashboard thread; Busy when `client`'s or everyone's queue is full."""
        limits = self.limits
        if self._admitted[client] >= limits.per_client:
            raise Busy(429, limits.retry_after,
                       f"too many requests from you at once (at most {limits.per_client})")
        if sum(self._admitted.values()) >= limits.workers + limits.queue:
            raise Busy(503, limits.retry_after, "the dashboard is busy; try again shortly")
        self._admitted[client] += 1
        try:
            return await self._when_free(fn)
        finally:
            self._admitted[client] -= 1
            if not self._admitted[client]:
                del self._admitted[client]

    async def _when_free(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.workers)
        slots = self._slots
        self.waiting += 1
        try:
            await slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1

        def release(_done: Future[T]) -> None:
            def free() -> None:
                self.running -= 1
                slots.release()

            with contextlib.suppress(RuntimeError):  # the loop closed: nobody to tell
                loop.call_soon_threadsafe(free)

        try:
            work = self._pool.submit(fn)
        except BaseException:
            self.running -= 1
            slots.release()
            raise
        work.add_done_callback(release)  # the slot is free when the thread is, not before
        return await asyncio.wrap_future(work)


__all__ = ["Busy", "GateLimits", "WorkGate"]
