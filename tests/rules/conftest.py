"""Fixtures for the rule engine tests: the default rules and the real history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bot.cli.rules import read_data_dir
from rules import RuleSet, load_rules

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = REPO / "rules.yaml"
SHIPPED_TESTS = REPO / "rules_tests.yaml"


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    """The shipped rules.yaml, loaded."""
    return load_rules(DEFAULT_RULES.read_text(encoding="utf-8"), str(DEFAULT_RULES))


@pytest.fixture(scope="session")
def history(default_rules: RuleSet, history_dir: Path) -> dict[str, pd.Series]:
    """Every input of the default rules that ../shared/data holds, keyed by series id
    (FRED-format files and the `source: csv` series: gold, Shiller's S&P 500 and CAPE)."""
    return read_data_dir(default_rules, history_dir)
