"""Fixtures for the command-line tests: `python -m bot ...` in a subprocess with a clean
environment whose state, cache and working directories are the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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
