"""The `cyclewatch` command line (also `python -m bot`): parses arguments, loads settings,
and hands each subcommand to the module that implements it."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings

# subcommand -> "module:function"; each function takes (args, settings) and returns an exit code
HANDLERS = {
    "run": "bot.app.service:run_command",
    "fetch": "bot.cli.fetch:fetch_command",
    "status": "bot.cli.fetch:status_command",
    "check": "bot.cli.rules:check_command",
    "test": "bot.cli.rules:test_command",
    "backtest": "bot.cli.rules:backtest_command",
    "regime": "bot.cli.rules:regime_command",
}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cyclewatch",
        description="Watch Fed and Treasury releases for the milestones of a late debt cycle.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", type=Path, help="read series from this directory, no network")

    def rules_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rules", type=Path, help="rules file (default: CYCLEWATCH_RULES)")

    run = sub.add_parser("run", help="run the bot: scheduler, chat front ends, delivery")
    data_option(run)
    rules_option(run)

    fetch = sub.add_parser("fetch", help="refresh the store now")
    data_option(fetch)
    fetch.add_argument("series", nargs="*", help="only these series ids")
    fetch.add_argument("--vintages", action="store_true", help="also fetch ALFRED history")

    status = sub.add_parser("status", help="freshness of every series in the store")
    status.add_argument("--json", action="store_true")

    check = sub.add_parser("check", help="validate a rules file")
    check.add_argument("rules", nargs="?", type=Path)
    data_option(check)

    test = sub.add_parser("test", help="run promtool-style rule unit tests")
    test.add_argument("testfiles", nargs="*", type=Path)
    rules_option(test)

    backtest = sub.add_parser("backtest", help="every transition of every rule over history")
    rules_option(backtest)
    data_option(backtest)
    backtest.add_argument("--since", type=_date)
    backtest.add_argument("--until", type=_date)
    backtest.add_argument("--vintage", choices=["first", "latest"], default="latest")
    backtest.add_argument("--rule", action="append", dest="only", help="only this rule id")
    backtest.add_argument("--json", action="store_true")
    backtest.add_argument("--chart", type=Path, help="write a PNG chart here")

    regime = sub.add_parser("regime", help="the current regime and its checklist")
    rules_option(regime)
    data_option(regime)
    regime.add_argument("--as-of", type=_date, dest="as_of")
    regime.add_argument("--from", type=_date, dest="from_", help="first date of a history")
    regime.add_argument("--to", type=_date, help="last date of a history (default: today)")
    regime.add_argument("--every", choices=["day", "week", "month"], default="month")
    regime.add_argument("--json", action="store_true")
    regime.add_argument("--chart", type=Path, help="write the dashboard PNG here")
    return parser


def _handler(command: str) -> Callable[[argparse.Namespace, Settings], int]:
    module, _, name = HANDLERS[command].partition(":")
    handler: Callable[[argparse.Namespace, Settings], int] = getattr(
        importlib.import_module(module), name
    )
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 on a failed check, 2 on bad configuration."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"cyclewatch: configuration error: {err}", file=sys.stderr)
        return 2
    try:
        return _handler(args.command)(args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
