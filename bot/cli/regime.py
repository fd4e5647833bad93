"""`cyclewatch regime`: the regime as of a date with its checklist, or the regime at each date
of a span (one vectorized pass)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime

import pandas as pd
from rich.table import Table

from bot.cli.rules import console, data_or_report, load_or_report, rules_file, say_error
from bot.config import Settings
from rules import Regime, RuleSet, classify_regime, regime_history
from rules.units import format_value


def regime_command(args: argparse.Namespace, settings: Settings) -> int:
    """The regime as of a date with its checklist (a table, `--json`, or `--chart PNG`), or
    with `--from D [--to D] [--every day|week|month]` the regime at each date (one pass)."""
    ruleset = load_or_report(rules_file(args, settings))
    if ruleset is None:
        return 1
    if not ruleset.gauges:
        say_error(f"{ruleset.filename} has no regimes: section")
        return 1
    data = data_or_report(ruleset, args, settings)
    if data is None:
        return 1
    start: date | None = getattr(args, "from_", None)
    if start is not None:
        return _regime_history(ruleset, data, args, start)
    as_of: date = args.as_of or datetime.now(UTC).date()
    regime = classify_regime(ruleset, data, as_of)
    if args.chart is not None:
        from bot.cli.charts import regime_chart

        regime_chart(ruleset, data, pd.Timestamp(as_of), args.chart)
    if args.json:
        print(json.dumps(regime.to_dict(), ensure_ascii=False, indent=1))
    else:
        _regime_table(regime)
    return 0


EVERY = {"day": "B", "week": "W-FRI", "month": "ME"}


def history_dates(start: date, end: date, every: str) -> list[date]:
    """Business days, Fridays or month-ends from `start` to `end` (both ends included)."""
    stamps = pd.date_range(start, end, freq=EVERY[every])
    days = [stamp.date() for stamp in stamps]
    return days if days and days[-1] == end else [*days, end]


def _regime_history(
    ruleset: RuleSet, data: Mapping[str, pd.Series], args: argparse.Namespace, start: date
) -> int:
    end: date = getattr(args, "to", None) or datetime.now(UTC).date()
    if end < start:
        say_error("--to is before --from")
        return 1
    found = regime_history(ruleset, data, history_dates(start, end, args.every or "month"))
    if args.json:
        print(json.dumps([r.to_dict() for r in found], ensure_ascii=False))
        return 0
    table = Table(title=f"regime from {start.isoformat()} to {end.isoformat()}")
    for column in ("as_of", "regime", "since", "note"):
        table.add_column(column)
    for r in found:
        note = "" if r.determined else f"provisional {r.provisional or '?'}; {'; '.join(r.reasons)}"
        table.add_row(r.as_of.isoformat(), r.title or r.regime,
                      r.since.isoformat() if r.since else "", note)
    console().print(table)
    return 0


def _regime_table(regime: Regime) -> None:
    title = f"{regime.title or regime.regime} as of {regime.as_of.isoformat()}"
    if not regime.determined:
        last = regime.last_regime or "none"
        title += (f"; last determined {last} (from {regime.last_since} to {regime.last_until});"
                  f" provisional {regime.provisional or 'none'}: " + "; ".join(regime.reasons))
    table = Table(title=title)
    for column in ("check", "kind", "on", "value", "line", "observed", "detail"):
        table.add_column(column)
    for c in regime.checks:
        on = {True: "[green]on[/]", False: "off", None: "[yellow]skipped[/]"}[c.on]
        value = "" if c.value is None else format_value(c.value, c.unit)
        line = "" if c.threshold is None else format_value(c.threshold, c.unit)
        table.add_row(c.title or c.id, c.kind, on, value, line, c.observed or "", c.detail)
    console().print(table)
