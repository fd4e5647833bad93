"""The backtest benchmark script runs (quick mode); a smoke test, not a timing assertion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.rules.conftest import REPO

pytestmark = pytest.mark.slow  # runs bench/backtest.py in another interpreter


def test_bench_backtest_quick_mode_runs(history_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "backtest.py"),
            "--quick",
            "--repeat",
            "1",
            "--data",
            str(history_dir),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "backtest, full history, one pass" in result.stdout
    assert "same transitions in the replayed span: True" in result.stdout
