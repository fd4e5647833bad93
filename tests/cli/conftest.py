"""Fixtures for the command-line tests: `cyclewatch ...` in this process (`main(argv)`, where
the process itself is not under test) or as `python -m bot ...` in a subprocess, each with a
clean environment whose state, cache and working directories are the test's own."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest

from bot.cli.main import main

REPO = Path(__file__).resolve().parents[2]
Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """No CYCLEWATCH_* or chat tokens from outside; XDG dirs (the default databases, chat
    history and charts) under the test's directory."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CYCLEWATCH_", "TELEGRAM_", "SLACK_", "FRED_"))}
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[name] = str(tmp_path / "xdg" / name.lower())
    env["HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = str(REPO)
    env["CYCLEWATCH_RULES"] = str(REPO / "rules.yaml")
    env["CYCLEWATCH_CHART_DIR"] = str(tmp_path / "charts")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """Run `python -m bot ARGS` in the test directory; returns the finished process."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)

    def run(*args: str, env: dict[str, str] | None = None, stdin: str = "",
            timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
            env=env or cli_env, cwd=cwd or work, timeout=timeout, check=False,
        )

    return run


@dataclass(frozen=True)
class Ran:
    """What one in-process `cyclewatch` call returned and printed."""

    returncode: int
    stdout: str
    stderr: str


Main = Callable[..., Ran]


def _logging_state() -> tuple[list[logging.Handler], dict[str, int]]:
    manager = logging.Logger.manager
    levels = {name: logger.level for name, logger in manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    return list(logging.root.handlers), levels | {"": logging.root.level}


def _restore_logging(handlers: list[logging.Handler], levels: dict[str, int]) -> None:
    """Undo a command's logging set-up (configure_logging replaces the root's handlers)."""
    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)
    for handler in handlers:
        logging.root.addHandler(handler)
    logging.root.setLevel(levels[""])
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture
def run_main(cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> Main:
    """Run `cyclewatch ARGS` in this process (`bot.cli.main.main`) with the environment and
    working directory `cli` gives a subprocess; `stdin` is its input (text or a stream),
    `stdout` where it prints (captured when None)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name in set(os.environ) - set(cli_env):
        monkeypatch.delenv(name)
    for name, value in cli_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(work)

    def run(*args: str, stdin: str | TextIO = "", stdout: TextIO | None = None) -> Ran:
        saved = _logging_state()
        with monkeypatch.context() as patch:
            patch.setattr(sys, "stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin)
            if stdout is not None:
                patch.setattr(sys, "stdout", stdout)
            try:
                code = main(list(args))
            finally:
                _restore_logging(*saved)
        out, err = capsys.readouterr()
        return Ran(code, stdout.getvalue() if isinstance(stdout, io.StringIO) else out, err)

    return run
