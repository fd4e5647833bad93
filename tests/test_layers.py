"""The layout is a contract: bot/'s rooms import only downward and never in a circle, rules/ is
pure, sources/ are adapters (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import json
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot

pytestmark = pytest.mark.slow  # import-linter and a fresh interpreter per module
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


# One interpreter imports the third-party libraries once, then forks a child per module of
# ours: each child starts with none of our modules loaded, at a fraction of a fresh start.
FORK_EACH = """
import importlib, json, os, sys, traceback
for lib in sys.argv[1].split(","):
    try:
        importlib.import_module(lib)
    except ImportError:
        pass
assert not [m for m in sys.modules if m.split(".")[0] in ("bot", "rules", "sources")]
failures = []
for name in sys.argv[2:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc()[-500:].encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        failures.append(f"{name}: {said.strip()}")
print(json.dumps(failures))
"""
THIRD_PARTY = ("pandas", "numpy", "sqlalchemy", "sqlalchemy.dialects.sqlite",
               "sqlalchemy.dialects.postgresql", "psycopg", "alembic.command", "alembic.config",
               "matplotlib.pyplot", "telegram.ext", "slack_sdk.web.async_client",
               "slack_sdk.socket_mode.aiohttp", "aiohttp", "httpx", "pydantic",
               "pydantic_settings", "yaml", "jinja2", "apscheduler.schedulers.asyncio",
               "prometheus_client", "rich.console", "rich.panel", "tenacity", "prompt_toolkit",
               "fredapi", "holidays", "watchfiles", "email.utils", "html.parser")


def test_every_module_imports_on_its_own() -> None:
    """Each module in an interpreter holding none of ours, so no import works only thanks to
    an earlier one."""
    names = sorted(
        m.name for m in pkgutil.walk_packages(bot.__path__, "bot.")
        if ".migrations" not in m.name and m.name != "bot.__main__"
    )
    done = subprocess.run([sys.executable, "-c", FORK_EACH, ",".join(THIRD_PARTY), *names],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-2000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(names) > 50 and not failures, failures
