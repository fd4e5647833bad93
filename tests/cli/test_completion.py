"""Shell completion: `cyclewatch completion bash|zsh` prints a script that completes commands."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bot.cli.completion import script
from tests.cli.conftest import Cli

BASH = shutil.which("bash")


def _complete(source: str, *words: str) -> list[str]:
    # What bash offers after `cyclewatch WORDS`, the last word being the one being completed.
    assert BASH is not None
    line = " ".join(("cyclewatch", *words))
    quoted = " ".join(f"'{word}'" for word in ("cyclewatch", *words))
    program = (f'source /dev/stdin <<<"$SCRIPT"; COMP_WORDS=({quoted}); '
               f"COMP_CWORD={len(words)}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; "
               '_shtab_cyclewatch cyclewatch "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; '
               'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run([BASH, "-c", program], env={"SCRIPT": source}, capture_output=True,
                          text=True, timeout=20, check=True)
    return done.stdout.split()


def test_completion_prints_a_script_without_reading_settings(
        cli: Cli, cli_env: dict[str, str]) -> None:
    # A bad setting must not break completion, which runs every time the shell starts.
    done = cli("completion", "bash", env={**cli_env, "CYCLEWATCH_TZ": "Mars/Olympus"})
    assert done.returncode == 0, done.stderr
    assert "complete -o bashdefault -F _shtab_cyclewatch cyclewatch" in done.stdout
    zsh = cli("completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef cyclewatch")


@pytest.mark.slow  # runs bash over the completion script
@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_bash_completes_commands_and_their_options() -> None:
    source = script("bash")
    assert _complete(source, "rep") == ["replay"]
    assert {"--from", "--until", "--speed", "--to-chats"} <= set(_complete(source, "replay", "--"))
    assert _complete(source, "backtest", "--vintage", "") == ["first", "latest"]
