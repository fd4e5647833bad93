"""The default rules on real history, through the Treasury CSVs: bill share and deficit
milestones fire when the brief says they should."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from rules import RuleSet, backtest, classify_regime

RULES = Path(__file__).resolve().parents[2] / "rules.yaml"


def _firings(ruleset: RuleSet, history: dict[str, pd.Series], rule: str) -> list[date]:
    events = backtest(ruleset, history, only=[rule])
    return [e.date for e in events if e.state == "firing"]


def test_rules_read_the_treasury_series(ruleset: RuleSet) -> None:
    treasury = {(i.source, i.id) for i in ruleset.inputs if i.source == "treasury"}
    assert {("treasury", "bill_share"), ("treasury", "coupon_bid_to_cover")} <= treasury


def test_bill_share_rises_in_2008_2020_and_2023(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    fired = _firings(ruleset, history, "bill_share_rises")
    assert any(date(2008, 7, 1) <= d <= date(2008, 12, 31) for d in fired)
    assert any(date(2020, 4, 1) <= d <= date(2020, 6, 30) for d in fired)
    assert any(date(2023, 7, 1) <= d <= date(2023, 12, 31) for d in fired)


def test_large_deficit_from_2009_and_from_2020(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    fired = _firings(ruleset, history, "large_deficit")
    assert any(date(2009, 1, 1) <= d <= date(2009, 12, 31) for d in fired)
    assert any(date(2020, 1, 1) <= d <= date(2020, 12, 31) for d in fired)


def test_reported_bill_share_for_may_2026(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    regime = classify_regime(ruleset, history, date(2026, 6, 10))
    check = next(c for c in regime.checks if c.id == "bill_share_rises")
    assert check.observed == "2026-05-31"
    assert check.value is not None and f"{check.value:.1f}" == "21.9"


def test_cli_backtest_reports_the_treasury_milestones(
    history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bot.cli.main import main

    code = main(["backtest", "--data", str(history_dir), "--json", "--rules", str(RULES),
                 "--rule", "bill_share_rises", "--rule", "large_deficit"])
    assert code == 0
    events = json.loads(capsys.readouterr().out)
    firing = {(e["rule"], e["date"][:4]) for e in events if e["state"] == "firing"}
    assert {("bill_share_rises", "2008"), ("bill_share_rises", "2020"),
            ("bill_share_rises", "2023"), ("large_deficit", "2009"),
            ("large_deficit", "2020")} <= firing
