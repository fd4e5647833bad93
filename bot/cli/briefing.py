"""`cyclewatch briefing [--as-of D] [--lang en|zh] [--data DIR]`: the weekly briefing a chat
with `/briefing weekly` gets after each H.4.1, printed."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings

AddParser = Callable[..., argparse.ArgumentParser]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], add: AddParser,
               parse_date: Callable[[str], date],
               data_option: Callable[[argparse.ArgumentParser], None],
               rules_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `briefing` subcommand's arguments (`parse_date` reads `--as-of`)."""
    found = add(sub, "briefing", "the weekly briefing of the newest H.4.1",
                "cyclewatch briefing --data ../shared/data --as-of 2026-01-09 --lang zh")
    rules_option(found)
    data_option(found)
    found.add_argument("--as-of", type=parse_date, dest="as_of", metavar="D",
                       help="the newest H.4.1 public by the end of this day (default: today)")
    found.add_argument("--lang", choices=["en", "zh"], default="en",
                       help="the language of the text")


def briefing_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the briefing of the newest H.4.1 public on `--as-of`: 0, or 1 without one."""
    from bot.briefing.facts import briefing, latest_week
    from bot.briefing.text import render
    from bot.cli.dashboard import file_insight
    from bot.cli.rules import data_or_report, load_or_report, rules_file, say_error

    ruleset = load_or_report(rules_file(args, settings))
    if ruleset is None:
        return 1
    data = data_or_report(ruleset, args, settings)
    if data is None:
        return 1
    day: date = args.as_of or datetime.now(UTC).date()
    tz = ZoneInfo(settings.timezone)
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    week = latest_week(data, ruleset, end_of_day)
    if week is None:
        say_error(f"no H.4.1 public by {day} in the data")
        return 1
    insight = file_insight(ruleset, data)
    found = briefing(insight, week, zone=settings.timezone)
    title, body = render(found, ruleset, args.lang, tz)
    print(f"{title}\n\n{body}")
    return 0

