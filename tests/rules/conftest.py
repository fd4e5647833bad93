"""Fixtures for the rule engine tests: the default rules and the real history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rules import RuleSet, load_rules
from sources.base import SourceError
from sources.files import FileSource

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = REPO / "rules.yaml"
SHIPPED_TESTS = REPO / "rules_tests.yaml"


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    """The shipped rules.yaml, loaded."""
    return load_rules(DEFAULT_RULES.read_text(encoding="utf-8"), str(DEFAULT_RULES))


@pytest.fixture(scope="session")
def history(default_rules: RuleSet, history_dir: Path) -> dict[str, pd.Series]:
    """Every input of the default rules that ../shared/data holds, keyed by series id."""
    files = FileSource(history_dir)
    data = {}
    for item in default_rules.inputs:
        try:
            data[item.id] = files.fetch(item.id).values
        except SourceError:
            continue
    return data
