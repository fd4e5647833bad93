"""Rule-file budgets count work, never wall time (issue 20 item 5): the same file gets the
same verdict from `check`, the watcher and `/reload`, on an idle and on a saturated machine."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from bot.cli.rules import read_data_dir, read_rules
from bot.evaluate.reload import RulesHolder, trial_within_budget
from bot.runtime.cpulimit import CpuBudgetExceeded, run_cpu_bounded
from tests.conftest import HISTORY
from tests.rules.conftest import DEFAULT_RULES

REPO = Path(__file__).resolve().parents[2]
BURNERS = 2  # as many CPU-bound processes as this machine has cores


@contextmanager
def saturated(count: int = BURNERS) -> Iterator[None]:
    """`count` processes spinning on the CPU beside the test, killed whatever happens."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait(timeout=30)


@pytest.fixture(scope="module")
def history() -> Mapping[str, pd.Series]:
    """The shipped rules' inputs from the real history directory."""
    if not (HISTORY / "fred").is_dir():
        pytest.fail(f"history data not found at {HISTORY}; set CYCLEWATCH_HISTORY_DIR")
    return read_data_dir(read_rules(DEFAULT_RULES), HISTORY)


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYCLEWATCH_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "bot", "check", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # starts CPU-burning processes (and `cyclewatch check`)
def test_check_passes_on_the_shipped_rules_while_the_machine_is_saturated() -> None:
    with saturated():
        done = _check("rules.yaml", "--data", str(HISTORY))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rules.yaml: OK (" in done.stdout
    assert "CPU time" not in done.stdout


async def _refusals(path: Path, history: Mapping[str, pd.Series]) -> tuple[list[str], ...]:
    """The problems of a trial over `budget` as `check` gets them and as a reload does."""
    ruleset = read_rules(path)
    budget = 0.05  # the shipped rules need about 1.5 s of CPU over the real history
    checked = [str(p) for p in await trial_within_budget(ruleset, history, budget)]
    holder = RulesHolder(path, history=lambda _rules: history, trial_cpu_seconds=budget)
    reloaded = await holder.reload()
    assert not reloaded.ok and holder.current is None
    return checked, list(reloaded.problems)


@pytest.mark.slow  # starts CPU-burning processes (and `cyclewatch check`)
async def test_a_file_over_its_budget_is_refused_the_same_way_idle_and_loaded(
    tmp_path: Path, history: Mapping[str, pd.Series]
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(DEFAULT_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    idle = await _refusals(path, history)
    with saturated():
        loaded = await _refusals(path, history)
    expected = [f"{path}:1:1: evaluation over history needs more than 0.05 s of CPU time"]
    assert idle == loaded == (expected, expected)


def _spin(flag: threading.Event) -> None:
    flag.set()
    while True:  # a step that never comes back to a cooperative check
        pass


@pytest.mark.slow  # starts CPU-burning processes (and `cyclewatch check`)
async def test_a_step_that_never_returns_is_stopped_by_its_cpu_budget() -> None:
    for load in (0, BURNERS):
        started = threading.Event()
        with saturated(load), pytest.raises(CpuBudgetExceeded, match=r"more than 0\.2 s of CPU"):
            await asyncio.wait_for(run_cpu_bounded(_spin, started, cpu_seconds=0.2), 120)
        assert started.is_set()
        for _ in range(200):  # the abandoned thread is stopped, not left spinning
            if not any(t.name == "cyclewatch-_spin" for t in threading.enumerate()):
                break
            await asyncio.sleep(0.05)
        assert not any(t.name == "cyclewatch-_spin" for t in threading.enumerate())


async def test_waiting_is_not_work_a_slow_answer_within_the_budget_is_kept() -> None:
    release = threading.Event()

    def waits() -> str:
        release.wait(30)
        return "done"

    task = asyncio.create_task(run_cpu_bounded(waits, cpu_seconds=0.05))
    await asyncio.sleep(0.3)  # longer than the budget in wall time, but no CPU spent
    assert not task.done()
    release.set()
    assert await asyncio.wait_for(task, 30) == "done"
