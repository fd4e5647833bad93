"""Fixtures for the service tests: a `cyclewatch run` subprocess with its output collected."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import refused_url

REPO = Path(__file__).resolve().parents[2]


RUNNING = re.compile(r"cyclewatch running: http://(\S+?)/healthz")


class BotProcess:
    """`python -m bot run` in a subprocess; its stderr/stdout lines are collected as they come."""

    def __init__(self, env: dict[str, str], args: list[str], cwd: Path,
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=preexec_fn,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def output(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_for(self, pattern: str, timeout: float = 90.0, count: int = 1) -> list[str]:
        """Lines matching `pattern` once at least `count` appeared; fail after `timeout` s."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.output() if regex.search(line)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        text = "\n".join(self.output())
        raise AssertionError(f"no {count}× {pattern!r} within {timeout}s; output:\n{text}")

    def http_addr(self, timeout: float = 60.0) -> str:
        """HOST:PORT its HTTP server listens on (port 0 was asked: the line says which)."""
        [line] = self.wait_for(RUNNING.pattern, timeout)[:1]
        match = RUNNING.search(line)
        assert match is not None
        return match[1]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def bot_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a bot subprocess: its own SQLite file, HTTP on a port the system picks
    (`BotProcess.http_addr()` says which), no real network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CYCLEWATCH_", "FRED_",
           "TELEGRAM_", "SLACK_", "FISCALDATA_", "FED_", "TREASURY_"))}
    env.update(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        CYCLEWATCH_RULES=str(REPO / "rules.yaml"),
        CYCLEWATCH_RETRY_MIN_SECONDS="0.2",
        CYCLEWATCH_RETRY_MAX_SECONDS="1",
        CYCLEWATCH_SOURCE_RETRY_SECONDS="0.02",
        FRED_GRAPH_URL=refused_url("/graph/fredgraph.csv"),
        FRED_API_URL=refused_url("/fred"),
        FISCALDATA_URL=refused_url("/services/api/fiscal_service"),
        FED_FEEDS_URL=refused_url("/feeds"),
        TREASURY_PRESS_URL=refused_url("/news/press-releases/feed"),
        # the rules' gold and S&P 500 datasets (`source: csv`) are on GitHub
        CYCLEWATCH_CSV_MIRRORS=f"https://raw.githubusercontent.com={refused_url()}",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def start_bot(tmp_path: Path) -> Iterator[object]:
    """Start bots with `start_bot(env, *args)`; any still running are killed at the end."""
    started: list[BotProcess] = []

    def start(env: dict[str, str], *args: str) -> BotProcess:
        bot = BotProcess(env, list(args), cwd=tmp_path)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.kill()
