"""The argument parser of `cyclewatch`: every subcommand, a sentence per option, examples."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from bot.cli import briefing, dashboard
from bot.config import package_version

DATA_HELP = ("read series from this directory (fred/<ID>.csv, treasury/, other/) instead of "
             "the network; nothing is fetched online")
RULES_HELP = "the rules file to use (default: CYCLEWATCH_RULES, else ./rules.yaml, else the " \
             "packaged default)"


def parse_date(text: str) -> date:
    """A YYYY-MM-DD argument."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str,
         example: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=summary, description=summary[:1].upper() + summary[1:] + ".",
        epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cyclewatch",
        description="Watch Fed and Treasury releases for the milestones of a late debt cycle.",
        epilog="examples:\n  cyclewatch chat --data ../shared/data\n"
               "  cyclewatch replay --data ../shared/data --from 2025-11-01 --until 2026-01-31",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"cyclewatch {package_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", type=Path, metavar="DIR", help=DATA_HELP)

    def rules_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rules", type=Path, metavar="FILE", help=RULES_HELP)

    run = _add(sub, "run", "run the bot: scheduler, chat front ends, delivery",
               "cyclewatch run --data ../shared/data")
    data_option(run)
    rules_option(run)

    chat = _add(sub, "chat", "chat with the bot in this terminal, as on Telegram or Slack",
                "cyclewatch chat --data ../shared/data\n"
                "  printf '/help\\n/why qt_ends\\n' | cyclewatch chat --data ../shared/data")
    data_option(chat)
    rules_option(chat)
    chat.add_argument("--as-of", type=parse_date, dest="as_of", metavar="D",
                      help="start the session's clock on this date (default: today; with "
                           "--data, the newest observation in the data)")
    chat.add_argument("--charts", type=Path, metavar="DIR",
                      help="save the charts of answers here (default: the user cache dir)")

    replay = _add(sub, "replay", "replay history through the service's own pipeline on a "
                  "simulated clock, printing each alert as it would have been sent",
                  "cyclewatch replay --data ../shared/data --from 2025-11-01 --until 2026-01-31")
    data_option(replay)
    rules_option(replay)
    replay.add_argument("--from", type=parse_date, dest="from_", metavar="D", required=True,
                        help="first day of the replay (rules start silently from here)")
    replay.add_argument("--until", type=parse_date, metavar="D",
                        help="last day of the replay (default: today)")
    replay.add_argument("--speed", type=_positive, default=0.0, metavar="S",
                        help="simulated seconds per real second, e.g. 86400 for a day a "
                             "second (default 0: as fast as possible)")
    replay.add_argument("--to-chats", action="store_true", dest="to_chats",
                        help="send each alert, marked as a replay, to the chats subscribed in "
                             "the live store instead of printing it")
    replay.add_argument("--db", metavar="URL",
                        help="keep the replay's store here (default: a throwaway one)")

    init = _add(sub, "init", "write the default rules.yaml and a commented .env to start from",
                "cyclewatch init ~/cyclewatch")
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="where to write them (default: the current directory)")
    init.add_argument("--force", action="store_true",
                      help="overwrite files that already exist")

    fetch = _add(sub, "fetch", "refresh the store now", "cyclewatch fetch WALCL WRESBAL")
    data_option(fetch)
    fetch.add_argument("series", nargs="*", help="only these series ids (default: every "
                                                 "series the rules read)")
    fetch.add_argument("--vintages", action="store_true",
                       help="also fetch ALFRED point-in-time history (needs FRED_API_KEY)")

    status = _add(sub, "status", "freshness of every series in the store",
                  "cyclewatch status --json | head")
    status.add_argument("--json", action="store_true", help="print a JSON array instead of a "
                                                            "table")
    status.add_argument("--data", type=Path, metavar="DIR",
                        help="show the store that `run --data DIR` keeps for that directory")

    check = _add(sub, "check", "validate a rules file", "cyclewatch check rules.yaml")
    check.add_argument("rules", nargs="?", type=Path, metavar="RULES",
                       help="the file to check (default: CYCLEWATCH_RULES)")
    data_option(check)

    test = _add(sub, "test", "run promtool-style rule unit tests",
                "cyclewatch test rules_tests.yaml")
    test.add_argument("testfiles", nargs="*", type=Path, metavar="TESTFILE",
                      help="test files (default: rules_tests.yaml next to the rules)")
    rules_option(test)

    backtest = _add(sub, "backtest", "every transition of every rule over history",
                    "cyclewatch backtest --data ../shared/data --since 2020-01-01 --json | head")
    rules_option(backtest)
    data_option(backtest)
    backtest.add_argument("--since", type=parse_date, metavar="D",
                          help="list transitions from this date on")
    backtest.add_argument("--until", type=parse_date, metavar="D",
                          help="list transitions up to this date")
    backtest.add_argument("--vintage", choices=["first", "latest"], default="latest",
                          help="evaluate on the data as first published or as revised since")
    backtest.add_argument("--rule", action="append", dest="only", metavar="ID",
                          help="only this rule id (repeat for several)")
    backtest.add_argument("--json", action="store_true", help="print a JSON array")
    backtest.add_argument("--chart", type=Path, metavar="PNG", help="write a PNG chart here")

    regime = _add(sub, "regime", "the current regime and its checklist",
                  "cyclewatch regime --data ../shared/data --as-of 2021-12-31")
    rules_option(regime)
    data_option(regime)
    regime.add_argument("--as-of", type=parse_date, dest="as_of", metavar="D",
                        help="the regime on this date (default: today)")
    regime.add_argument("--from", type=parse_date, dest="from_", metavar="D",
                        help="first date of a history of regimes")
    regime.add_argument("--to", type=parse_date, metavar="D",
                        help="last date of a history (default: today)")
    regime.add_argument("--every", choices=["day", "week", "month"], default="month",
                        help="spacing of the dates of a history")
    regime.add_argument("--json", action="store_true",
                        help="print JSON (an object, or an array for a history)")
    regime.add_argument("--chart", type=Path, metavar="PNG",
                        help="write the dashboard PNG here")
    dashboard.add_parser(sub, _add, data_option, rules_option)
    briefing.add_parser(sub, _add, parse_date, data_option, rules_option)
    completion = _add(sub, "completion", "print the shell completion script for cyclewatch",
                      'eval "$(cyclewatch completion bash)"   # or in ~/.bashrc')
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"],
                            help="the shell to complete in")
    return parser
