"""`cyclewatch backtest`: every transition of every rule over history, as a table a person reads
(the rule's title, its value and line with their units, or why it has no line), as JSON (raw
numbers with their `unit`), or as a chart."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from bot.cli.rules import console, data_or_report, load_or_report, rules_file, say_error
from bot.config import Settings
from bot.ingest.calendar import ReleaseCalendar
from bot.ingest.knownat import known_at
from rules import Event, Transition, backtest
from rules.model import RuleSpec
from rules.units import format_value

# Why a rule has no line to show: it is a yes/no condition, a one-off event, or a test of the
# value against its own past or other series (not against a fixed number).
NO_LINE = {
    "condition": "— (yes/no condition)",
    "event": "— (one-off event)",
    "relative": "— (relative: no fixed line)",
}
COLUMNS = ("date", "milestone", "state", "value", "line")


def no_line_reason(spec: RuleSpec) -> str:
    """Which of NO_LINE explains a rule without a threshold."""
    if spec.value is None:
        return "condition"
    if not spec.announce_resolved:
        return "event"
    return "relative"


def value_cell(event: Event) -> str:
    """The value with its unit; a yes/no rule's is whether its condition holds."""
    spec = event.rule.spec
    if spec.value is None:
        return format_value(1.0 if event.state == Transition.FIRING else 0.0, "yes/no")
    return format_value(event.value, spec.unit)


def line_cell(event: Event) -> str:
    """The threshold with its unit, or a dash and why there is none."""
    spec = event.rule.spec
    if event.threshold is None:
        return NO_LINE[no_line_reason(spec)]
    return format_value(event.threshold, spec.unit)


def table_rows(events: list[Event]) -> list[tuple[str, ...]]:
    """One row of COLUMNS per transition: the title, not the rule id, where there is one."""
    return [
        (e.date.isoformat(), e.title() or e.rule_id, str(e.state), value_cell(e), line_cell(e))
        for e in events
    ]


def json_rows(events: list[Event]) -> list[dict[str, object]]:
    """The `--json` objects: raw numbers, their `unit`, and why a rule has no threshold."""
    rows = []
    for e in events:
        row: dict[str, object] = e.to_dict()  # with `unit` and `value_units`
        if e.threshold is None:
            row["no_threshold"] = no_line_reason(e.rule.spec)
        rows.append(row)
    return rows


def _events_table(events: list[Event]) -> None:
    table = Table(title=f"{len(events)} transitions")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column == "value" else "left")
    for e, row in zip(events, table_rows(events), strict=True):
        table.add_row(*row, style="green" if e.state == Transition.FIRING else "dim")
    console().print(table)


def backtest_command(args: argparse.Namespace, settings: Settings) -> int:
    """Every transition of every rule over history: a table, `--json`, or `--chart PNG`."""
    ruleset = load_or_report(rules_file(args, settings))
    if ruleset is None:
        return 1
    unknown = [r for r in (args.only or []) if r not in {rule.id for rule in ruleset.rules}]
    if unknown:
        say_error(f"unknown rule(s): {', '.join(unknown)}")
        return 1
    data = data_or_report(ruleset, args, settings)
    if data is None:
        return 1
    # The pass with each observation's release instant: every event says when it was public.
    calendar = ReleaseCalendar()
    events = backtest(ruleset, data, since=args.since, until=args.until, only=args.only,
                      known=lambda d: known_at(ruleset, d, calendar), zone=settings.timezone)
    if args.chart is not None:
        from bot.cli.charts import backtest_chart

        backtest_chart(
            ruleset, data, events, args.chart, only=args.only, since=args.since, until=args.until
        )
    if args.json:
        print(json.dumps(json_rows(events), ensure_ascii=False, indent=1))
    else:
        _events_table(events)
    return 0
