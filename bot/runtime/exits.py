"""Exit means exit: once a stop is asked for, the process ends by a deadline, whatever its
threads are doing (a poll waiting on a slow server, a dashboard render, a client library's
worker). Python waits for every non-daemon thread at exit, and thread pools cannot be
interrupted, so past the deadline the process ends with `os._exit` after one log line; the
work those threads abandon is redone at the next start, as after a kill -9."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("cyclewatch")
TICK_SECONDS = 0.25
LAST_WORDS_SECONDS = 0.5  # how long the final log line may take to be written


class ExitDeadline:
    """A daemon watchdog: once armed, the process ends by the deadline with the armed code."""

    def __init__(self, *, end: Callable[[int], object] = os._exit,
                 clock: Callable[[], float] = time.monotonic,
                 tick: float = TICK_SECONDS) -> None:
        self._end = end
        self._clock = clock
        self._tick = tick
        self._due: float | None = None
        self._armed_at: float | None = None
        self._code = 0

    def start(self) -> ExitDeadline:
        """Start watching (nothing happens until `arm`)."""
        threading.Thread(target=self._watch, name="cyclewatch-exit", daemon=True).start()
        return self

    def arm(self, seconds: float, code: int = 0) -> None:
        """End the process `seconds` from now at the latest (an earlier deadline stays).

        Only assignments: safe in a signal handler, which may interrupt anything."""
        now = self._clock()
        if self._due is None or now + seconds < self._due:
            self._code = code
            self._armed_at = self._armed_at if self._armed_at is not None else now
            self._due = now + seconds

    @property
    def armed(self) -> bool:
        """Whether a deadline is set."""
        return self._due is not None

    def _watch(self) -> None:
        while True:
            time.sleep(self._tick)
            due = self._due
            if due is not None and self._clock() >= due:
                self._expire()
                return

    def _expire(self) -> None:
        main = threading.main_thread()
        busy = sorted(t.name for t in threading.enumerate()
                      if t.is_alive() and not t.daemon and t is not main)
        waited = self._clock() - (self._armed_at or self._clock())
        # The line is written by a thread of its own: a handler stuck on a full pipe must not
        # keep the process alive either.
        words = threading.Thread(target=_last_words, args=(waited, busy), daemon=True)
        words.start()
        words.join(LAST_WORDS_SECONDS)
        self._end(self._code)


def _last_words(waited: float, busy: list[str]) -> None:
    running = ", ".join(busy) if busy else "the stop itself"
    log.warning("exiting now, %.1f s after the stop was asked for; still running: %s "
                "(their work is redone at the next start)", waited, running)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


class DetachedExecutor(ThreadPoolExecutor):
    """The loop's default executor for a process that must end on time: shutting it down
    never waits for the threads still working (the `ExitDeadline` bounds them)."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; do not wait, whatever `wait` says."""
        super().shutdown(wait=False, cancel_futures=cancel_futures)
