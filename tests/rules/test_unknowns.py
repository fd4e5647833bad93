"""Unknown stays unknown: three-valued logic, per-input staleness, `coalesce`, `known`,
`started`, `sure`, and `choose:` (synthetic series, ids like TESTX)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from rules import UNDETERMINED, RuleSet, backtest, classify_regime, load_rules, regime_history
from rules.engine import Evaluator, on_clock

RULES = """
series:
  x: {id: TESTX, fresh: 10d}
  y: {id: TESTY, fresh: 10d}
metrics:
  either: "x > 0 or y > 0"
  both: "x > 0 and y > 0"
  x_or_five: "coalesce(x, 5)"
  x_known: "known(x)"
  y_started: "started(y)"
  lagged: "x.shift(1)"
  verdict: "sure(x > 0, y > 0)"
rules:
  - {id: x_or_y, title: x or y, when: "x > 0 or y > 0"}
regimes:
  gauges:
    - {id: gx, title: gx, when: "x > 0"}
    - {id: gy, title: gy, when: "y > 0"}
  choose:
    - {id: easing_into_bubble, when: "gx and gy"}
    - {id: neutral, when: "not gx or not gy"}
"""


def _daily(start: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values)), dtype="float64")


def _values(
    ruleset: RuleSet, data: dict[str, pd.Series], name: str, days: list[str]
) -> list[float]:
    ev = Evaluator(ruleset, data)
    return list(on_clock(ev.lookup(name), pd.DatetimeIndex(days)))


def test_kleene_or_and_with_a_stale_input() -> None:
    ruleset = load_rules(RULES)
    # y stops on 2020-01-05 and is stale from 2020-01-16; x goes on, true.
    data = {"TESTX": _daily("2020-01-01", [1.0] * 40), "TESTY": _daily("2020-01-01", [0.0] * 5)}
    either = _values(ruleset, data, "either", ["2020-01-20"])
    both = _values(ruleset, data, "both", ["2020-01-20"])
    assert either == [1.0]  # true or unknown = true
    assert np.isnan(both[0])  # true and unknown = unknown
    data["TESTX"] = _daily("2020-01-01", [0.0] * 40)
    assert _values(ruleset, data, "both", ["2020-01-20"]) == [0.0]  # false and unknown = false


def test_a_rule_with_a_stale_leg_still_fires_on_the_fresh_one() -> None:
    ruleset = load_rules(RULES)
    data = {"TESTX": _daily("2020-01-01", [0.0] * 30 + [1.0] * 5),
            "TESTY": _daily("2020-01-01", [0.0] * 5)}
    (event,) = backtest(ruleset, data)
    assert event.date == date(2020, 1, 31)


def test_coalesce_fills_every_clock_date_also_before_the_series_starts() -> None:
    ruleset = load_rules(RULES)
    data = {"TESTX": _daily("2020-02-01", [1.0] * 5), "TESTY": _daily("2020-01-01", [0.0] * 60)}
    days = ["2020-01-10", "2020-02-02", "2020-02-25"]
    assert _values(ruleset, data, "x_or_five", days) == [5.0, 1.0, 5.0]  # before, in, stale
    assert _values(ruleset, data, "x_known", days) == [0.0, 1.0, 0.0]


def test_started_and_sure() -> None:
    ruleset = load_rules(RULES)
    data = {"TESTX": _daily("2020-01-01", [1.0] * 3 + [0.0] * 3),
            "TESTY": _daily("2020-01-03", [0.0] * 10)}
    assert _values(ruleset, data, "y_started", ["2020-01-02", "2020-01-04"]) == [0.0, 1.0]
    verdict = _values(ruleset, data, "verdict", ["2020-01-02", "2020-01-05"])
    assert verdict == [1.0, 0.0]


def test_shift_does_not_leak_an_old_value_onto_a_stale_date() -> None:
    ruleset = load_rules(RULES)
    data = {"TESTX": _daily("2020-01-01", [1.0, 2.0, 3.0]), "TESTY": _daily("2020-01-01", [0.0])}
    assert np.isnan(_values(ruleset, data, "lagged", ["2020-01-20"])[0])


def test_choose_is_undetermined_while_an_unknown_gauge_could_change_it() -> None:
    ruleset = load_rules(RULES)
    data = {"TESTX": _daily("2020-01-01", [1.0] * 40), "TESTY": _daily("2020-01-01", [1.0] * 5)}
    early = classify_regime(ruleset, data, date(2020, 1, 3))
    assert (early.regime, early.since) == ("easing_into_bubble", date(2020, 1, 1))
    late = classify_regime(ruleset, data, date(2020, 1, 25))
    assert late.regime == UNDETERMINED
    assert late.last_regime == "easing_into_bubble"
    assert late.last_until == date(2020, 1, 15)
    assert late.provisional == "easing_into_bubble"
    assert late.reasons and "TESTY stale" in late.reasons[0]
    assert late.waiting_for == ("TESTY",)
    # x false decides "neutral" whatever y says: no longer undetermined.
    data["TESTX"] = _daily("2020-01-01", [0.0] * 40)
    assert classify_regime(ruleset, data, date(2020, 1, 25)).regime == "neutral"


def test_regime_history_matches_per_date() -> None:
    ruleset = load_rules(RULES)
    data = {"TESTX": _daily("2020-01-01", [1.0, 0.0] * 20),
            "TESTY": _daily("2020-01-05", [1.0] * 9)}
    days = [d.date() for d in pd.date_range("2019-12-30", "2020-02-15")]
    for many in regime_history(ruleset, data, days):
        one = classify_regime(ruleset, data, many.as_of)
        assert (many.regime, many.since, many.last_regime, many.provisional, many.reasons) == (
            one.regime, one.since, one.last_regime, one.provisional, one.reasons), many.as_of
