"""`cyclewatch completion bash|zsh|tcsh`: the shell completion script, made by shtab."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.config import Settings


def _complete_paths(parser: argparse.ArgumentParser) -> None:
    # Path options complete files (or directories for DIR); shtab reads `.complete`.
    import shtab

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _complete_paths(child)
        elif action.type is Path:
            kind = shtab.DIRECTORY if action.metavar == "DIR" else shtab.FILE
            action.complete = kind  # type: ignore[attr-defined]


def script(shell: str) -> str:
    """The completion script of `cyclewatch` for this shell."""
    import shtab

    from bot.cli.parser import build_parser

    parser = build_parser()
    _complete_paths(parser)
    return shtab.complete(parser, shell=shell)


def completion_command(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Print the script; needs no settings, so a bad .env never breaks completion."""
    print(script(args.shell), end="")
    return 0
