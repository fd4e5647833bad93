"""The dashboard over the real history: a model (over the session's history) and a served
process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.dashboard import DashboardModel
from bot.evaluate.insight import Insight
from tests.conftest import HISTORY

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def model(insight: Insight) -> DashboardModel:
    """The dashboard's numbers over the session's history and the repository's rules."""
    return DashboardModel(insight, lambda: datetime.now(UTC).date())


def serve_dashboard(tmp: Path, token: str | None = None) -> Iterator[str]:
    """`cyclewatch dashboard --data HISTORY` on a free port; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYCLEWATCH_")}
    env.update(CYCLEWATCH_HTTP_ADDR="127.0.0.1:0", CYCLEWATCH_RULES=str(REPO / "rules.yaml"),
               PYTHONPATH=str(REPO), HOME=str(tmp), NO_PROXY="127.0.0.1,localhost",
               XDG_STATE_HOME=str(tmp / "state"), XDG_CACHE_HOME=str(tmp / "cache"))
    if token:
        env["CYCLEWATCH_DASHBOARD_TOKEN"] = token
    log = (tmp / "dashboard.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "dashboard", "--data", str(HISTORY)],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=tmp)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "http://" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        if "http://" not in line:
            pytest.fail("dashboard did not start: " + (tmp / "dashboard.log").read_text())
        yield line.split("dashboard: ", 1)[1].strip().rstrip("/")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running `cyclewatch dashboard` without a token."""
    yield from serve_dashboard(tmp_path_factory.mktemp("dashboard"))
