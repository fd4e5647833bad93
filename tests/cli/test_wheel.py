"""A wheel built from the checkout, installed in a fresh venv, runs from any directory:
`init` writes the packaged rules and .env, `check` and `backtest --data` use them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.cli.conftest import REPO

pytestmark = pytest.mark.slow  # builds the wheel and runs it in a fresh venv
SOURCES = ("pyproject.toml", "README.md", "rules.yaml", "bot", "rules", "sources")


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    # Never PYTHONPATH: a checkout on it (with its egg-info) would pass for the installed wheel.
    kwargs.setdefault("env", {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    done: subprocess.CompletedProcess[str] = subprocess.run(
        args, capture_output=True, text=True, timeout=300, check=False,
        **kwargs)  # type: ignore[call-overload]
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh venv holding only the wheel (its dependencies come from the
    project venv through a .pth line, so nothing is downloaded)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: building writes build/ next to the sources
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, src / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                  str(root / "dist"), str(src)])
    assert built.returncode == 0, built.stderr
    [wheel] = (root / "dist").glob("cyclewatch-*.whl")
    venv = root / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                            "['purelib'])"]).stdout.strip())
    (purelib / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                 "--no-deps", str(wheel)])
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CYCLEWATCH_", "PYTHONPATH", "TELEGRAM_", "SLACK_"))}
    env.update(XDG_STATE_HOME=str(tmp / "state"), XDG_CACHE_HOME=str(tmp / "cache"),
               HOME=str(tmp / "home"))
    return env


def test_the_installed_wheel_inits_checks_and_backtests_anywhere(
    installed: Path, tmp_path: Path, history_dir: Path
) -> None:
    env = _env(tmp_path)
    where = _run([str(installed / "python"), "-c", "import bot; print(bot.__file__)"],
                 env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(installed.parent)), where  # not the checkout
    version = _run([str(installed / "cyclewatch"), "--version"], env=env, cwd=tmp_path)
    assert version.stdout.startswith("cyclewatch ") and "unknown" not in version.stdout

    # with no rules file anywhere, the packaged default is used, and said so
    bare = _run([str(installed / "cyclewatch"), "check"], env=env, cwd=tmp_path)
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert "using the default rules shipped with cyclewatch" in bare.stderr

    init = _run([str(installed / "cyclewatch"), "init", "proj"], env=env, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    project = tmp_path / "proj"
    assert (project / "rules.yaml").read_text() == (REPO / "rules.yaml").read_text()
    dotenv = (project / ".env").read_text()
    assert "# CYCLEWATCH_DB_URL=" in dotenv and "# TELEGRAM_BOT_TOKEN=" in dotenv
    again = _run([str(installed / "cyclewatch"), "init", "proj"], env=env, cwd=tmp_path)
    assert "kept" in again.stdout  # an existing file is not overwritten

    check = _run([str(installed / "cyclewatch"), "check"], env=env, cwd=project)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "default rules shipped" not in check.stderr  # ./rules.yaml is used now
    backtest = _run([str(installed / "cyclewatch"), "backtest", "--data", str(history_dir),
                     "--since", "2025-12-01", "--until", "2025-12-31", "--json"],
                    env=env, cwd=project)
    assert backtest.returncode == 0, backtest.stderr
    found = {(row["rule"], row["date"]) for row in json.loads(backtest.stdout)}
    assert ("rate_cut", "2025-12-11") in found
