"""The command line's edges: --version, --help of every command, quiet broken pipes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import HANDLERS, build_parser
from bot.config import package_version
from tests.cli.conftest import Cli


def test_version_comes_from_the_package_metadata(cli: Cli) -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"cyclewatch {package_version()}"
    assert package_version()[0].isdigit()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_command_has_an_example_and_every_option_a_sentence() -> None:
    commands = _subparsers(build_parser())
    assert set(commands) == set(HANDLERS)
    for name, parser in commands.items():
        assert parser.epilog and parser.epilog.startswith("example:\n  "), name
        assert f"cyclewatch {name}" in parser.epilog, name
        for action in parser._actions:
            assert action.help and len(action.help) > 10, (name, action.dest)


def test_help_is_printed_for_a_command(cli: Cli) -> None:
    done = cli("replay", "--help")
    assert done.returncode == 0
    assert "--speed S" in done.stdout and "simulated seconds per real second" in done.stdout
    assert "example:\n  cyclewatch replay --data" in done.stdout


@pytest.mark.slow  # a process whose reader goes away
@pytest.mark.parametrize("args", [
    ["status", "--json"],
    ["backtest", "--json", "--since", "2000-01-01"],
])
def test_a_closed_pipe_ends_quietly(
    args: list[str], history_dir: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    if args[0] == "backtest":
        args = [*args, "--data", str(history_dir)]
    proc = subprocess.Popen([sys.executable, "-m", "bot", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line, as `| head` soon is
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


@pytest.mark.slow  # a shell pipe into head
def test_status_head_shows_the_start_of_the_json(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(f"{sys.executable} -m bot status --json | head -n 1", shell=True,
                          capture_output=True, text=True, env=cli_env, cwd=tmp_path, check=False)
    assert done.stdout.strip() == "[]"
    assert done.stderr == ""


def test_metrics_carry_the_build_info() -> None:
    import platform

    from bot.runtime.metrics import Metrics

    text = Metrics().render().decode()
    line = next(x for x in text.splitlines() if x.startswith("cyclewatch_build_info{"))
    assert f'version="{package_version()}"' in line
    assert f'python="{platform.python_version()}"' in line and line.endswith(" 1.0")
