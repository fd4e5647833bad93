"""A windowed live evaluation finds the value `settled` had settled on again in its window,
and reads all history when it cannot (a value that settled before the window and has not
held since)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from rules import evaluate, load_rules
from rules.column import Col
from rules.functions import Unsettled, settled

RULES = """
series:
  x: {source: fred, id: X}
metrics:
  s: "settled(x, '3w')"
rules:
  - id: settled_low
    title: settled low
    when: "s == 0"
    value: s
"""


def wobbling() -> pd.Series:
    """1 for ten years, then 0 and 2 in turn every week: no value holds for three weeks."""
    weeks = pd.date_range("2000-01-05", periods=52 * 14, freq="7D")
    values = np.where(np.arange(len(weeks)) < 520, 1.0, np.arange(len(weeks)) % 2 * 2.0)
    return pd.Series(values, index=weeks)


def test_a_value_settled_before_the_window_is_not_found_in_it() -> None:
    x = wobbling()
    col = Col.of(x)
    need = pd.Timestamp("2013-06-01").value
    start = pd.Timestamp("2012-01-01").value  # inside the wobble: nothing holds three weeks
    with pytest.raises(Unsettled):
        settled(col, "3w", exact=(start, need))
    found = settled(col, "3w", exact=(pd.Timestamp("2001-01-01").value, need))
    full = settled(col, "3w")
    assert isinstance(found, Col) and isinstance(full, Col)
    after = x.index >= pd.Timestamp("2001-02-01")  # settled on 1 within the first weeks
    assert np.array_equal(found.vals[after], full.vals[after], equal_nan=True)


def test_the_live_path_then_reads_all_history_and_finds_the_same() -> None:
    ruleset = load_rules(RULES, "settled.yaml")
    data = {"X": wobbling()}
    day = date(2012, 1, 4)
    _, windowed, _ = evaluate(ruleset, data, {}, day)
    full = windowed
    for _ in range(6):
        day += timedelta(days=30)
        found_w, windowed, _ = evaluate(ruleset, data, windowed, day)
        found_f, full, _ = evaluate(ruleset, data, full, day, window=False)
        assert [(e.state, e.date, e.value) for e in found_w] == \
            [(e.state, e.date, e.value) for e in found_f]
        assert windowed == full
        windowed = full = json.loads(json.dumps(windowed))
    assert full["settled_low"]["value"] in (0.0, 2.0)  # the old 1 gave way to a newer value
