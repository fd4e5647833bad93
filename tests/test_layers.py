"""The layout is a contract: bot/'s rooms import only downward and never in a circle, rules/ is
pure, sources/ are adapters (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bot

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def test_the_import_contracts_hold() -> None:
    done = subprocess.run([str(LINT), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


def test_an_upward_import_would_break_them(tmp_path: Path) -> None:
    """The check can fail: a copy of the tree with one upward import is refused."""
    for name in ("bot", "rules", "sources"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    schema = tmp_path / "bot" / "store" / "schema.py"
    schema.write_text(schema.read_text() + "\nfrom bot.app import wiring  # upward\n")
    done = subprocess.run([str(LINT), "--no-cache"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode != 0
    assert "bot.store is not allowed to import bot.app" in done.stdout


def test_every_module_imports_on_its_own() -> None:
    """Each module in a fresh interpreter, so no import works only thanks to an earlier one."""
    names = sorted(
        m.name for m in pkgutil.walk_packages(bot.__path__, "bot.")
        if ".migrations" not in m.name and m.name != "bot.__main__"
    )

    def failure(name: str) -> str | None:
        done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
        return None if done.returncode == 0 else f"{name}: {done.stderr.strip()[-500:]}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(failure, names) if f]
    assert len(names) > 50 and not failures, failures
