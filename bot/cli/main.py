"""The `cyclewatch` command line (also `python -m bot`): parses arguments, loads settings,
and hands each subcommand to the module that implements it.

Exit status: 0 success, 1 a failed check or run, 2 bad configuration or usage, 130 Ctrl-C,
141 the reader of stdout went away (`... | head`)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.cli.parser import build_parser
from bot.config import (
    RULES_FILE,
    ConfigError,
    Settings,
    data_db_url,
    env_names,
    environment,
    load_settings,
    packaged_rules,
    unknown_variables,
)

__all__ = ["HANDLERS", "build_parser", "main"]

# subcommand -> "module:function"; each function takes (args, settings) and returns an exit code
HANDLERS = {
    "run": "bot.app.service:run_command",
    "chat": "bot.cli.chat:chat_command",
    "replay": "bot.cli.replay:replay_command",
    "init": "bot.cli.init:init_command",
    "fetch": "bot.cli.fetch:fetch_command",
    "status": "bot.cli.fetch:status_command",
    "check": "bot.cli.rules:check_command",
    "test": "bot.cli.rules:test_command",
    "backtest": "bot.cli.backtest:backtest_command",
    "regime": "bot.cli.regime:regime_command",
    "briefing": "bot.cli.briefing:briefing_command",
    "dashboard": "bot.cli.dashboard:dashboard_command",
    "completion": "bot.cli.completion:completion_command",
}
# With --data, these keep a store of their own for the directory (file data are not live data).
OWN_DATA_STORE = frozenset({"run", "fetch", "status"})


def _handler(command: str) -> Callable[[argparse.Namespace, Settings], int]:
    module, _, name = HANDLERS[command].partition(":")
    handler: Callable[[argparse.Namespace, Settings], int] = getattr(
        importlib.import_module(module), name
    )
    return handler


def _say(message: str) -> None:
    print(f"cyclewatch: {message}", file=sys.stderr)


def _warn_unknown_variables() -> None:
    from bot.runtime.scheduler import Timing

    known = env_names(Settings, Timing) | {"CYCLEWATCH_DATA"}
    for warning in unknown_variables(environment(), known):
        _say(f"warning: {warning}")


def _prepare(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings as this command uses them: the packaged rules when no file is at hand, and
    the data directory's own store."""
    update: dict[str, object] = {}
    uses_rules = args.command not in ("init", "status") and not getattr(
        args, "rules", None)
    if uses_rules and "rules_path" not in settings.model_fields_set and not RULES_FILE.exists():
        update["rules_path"] = packaged_rules()
        _say(f"no {RULES_FILE} here and CYCLEWATCH_RULES is not set: using the default rules "
             f"shipped with cyclewatch ({update['rules_path']}); `cyclewatch init` writes a "
             "copy to edit")
    data: Path | None = getattr(args, "data", None)
    if args.command in OWN_DATA_STORE and data is not None and \
            "db_url" not in settings.model_fields_set:
        update["db_url"] = data_db_url(data)
    return settings.model_copy(update=update) if update else settings


def _database_problem(err: Exception, settings: Settings) -> str | None:
    """One line for a database that cannot be reached, or None for any other error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(err, OperationalError | DBAPIError):
        return None
    shown = make_url(settings.db_url).render_as_string(hide_password=True)
    reason = (str(getattr(err, "orig", None) or err).strip().splitlines() or ["?"])[0]
    return f"cannot open the database {shown}: {reason}"


def _quiet_broken_pipe() -> int:
    # The reader left (`| head`): send what is still buffered nowhere, exit like SIGPIPE.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 on a failed check, 2 on bad configuration."""
    args = build_parser().parse_args(argv)
    if args.command == "completion":  # needs no settings: a bad .env must not break the shell
        from bot.cli.completion import completion_command

        return completion_command(args)
    _warn_unknown_variables()
    try:
        settings = _prepare(args, load_settings())
    except ConfigError as err:
        _say(f"configuration error: {err}")
        return 2
    try:
        code = _handler(args.command)(args, settings)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as err:
        problem = _database_problem(err, settings)
        if problem is None:
            raise
        _say(problem)
        return 2


if __name__ == "__main__":
    sys.exit(main())
