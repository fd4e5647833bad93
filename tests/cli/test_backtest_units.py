"""`cyclewatch backtest` for people (issue 11): over the real default rules and history, every
value and line in the table carries the rule's unit, rules are named by their titles, a rule
without a line says why; the JSON keeps raw numbers and adds `unit`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli.backtest import NO_LINE, table_rows
from bot.cli.main import main
from rules import Event, RuleSet
from rules.model import pick_language
from rules.units import format_value

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules.yaml"
BARE_NUMBER = re.compile(r"[−+-]?[\d,]+(\.\d+)?")
# Units the formatter writes as a plain number (a count of gauges, a bid-to-cover ratio...).
PLAIN = {"count", "ratio", "index"}


def test_every_cell_has_the_rules_unit_and_title(history_events: tuple[Event, ...]) -> None:
    events = list(history_events)
    assert len(events) > 100
    lineless = set()
    for event, (day, name, state, value, line) in zip(events, table_rows(events), strict=True):
        spec = event.rule.spec
        assert day == event.date.isoformat() and state == event.state
        assert name == pick_language(spec.title, "en") and name != spec.id
        if spec.value is None:  # a yes/no rule: whether its condition holds
            assert value in ("yes", "no"), (spec.id, value)
        else:
            assert value == format_value(event.value, spec.unit), (spec.id, value)
        if event.threshold is None:
            assert line in NO_LINE.values(), (spec.id, line)
            lineless.add(spec.id)
        else:
            assert line == format_value(event.threshold, spec.unit), (spec.id, line)
        if spec.unit is not None and spec.unit not in PLAIN:
            for cell in (value, line):
                assert not BARE_NUMBER.fullmatch(cell), (spec.id, cell)
    # Rules with no line of their own are in the history: an event, a condition, a relative test.
    assert {"rate_cut", "stimulus_into_bubble", "gold_beats_bonds"} <= lineless


def test_the_printed_table_shows_no_raw_numbers_or_rule_ids(
    ruleset: RuleSet, history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--rules", str(RULES), "--data", str(history_dir),
                 "--since", "2019-01-01"]) == 0
    out = capsys.readouterr().out
    assert "Quantitative tightening has ended" in out and "0.69 %" in out
    assert not re.search(r"\d\.\d{3,}", out)  # no 0.6935 or 9.913
    for rule in ruleset.rules:
        assert not re.search(rf"\b{rule.id}\b", out), rule.id


def test_json_keeps_raw_numbers_and_adds_the_unit(
    ruleset: RuleSet, history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--rules", str(RULES), "--data", str(history_dir), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    for row in rows:
        spec = ruleset.rule(row["rule"]).spec
        assert "unit" in row and row["unit"] == spec.unit
        assert row["value"] is None or isinstance(row["value"], float | int)
        assert (row["threshold"] is None) == ("no_threshold" in row)
    assert {row["no_threshold"] for row in rows if "no_threshold" in row} == {
        "event", "condition", "relative"}
