"""The whitelisted functions over whole series, and as-of alignment of frequencies."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rules import backtest, load_rules
from rules.expr import compile_expression
from rules.functions import Value
from rules.reach import Reach


class Env:
    def __init__(self, **series: pd.Series) -> None:
        self.series = series

    def lookup(self, name: str) -> Value:
        return self.series[name]


def run(text: str, **series: pd.Series) -> pd.Series:
    result = compile_expression(text, list(series)).run(Env(**series))
    assert isinstance(result, pd.Series)
    return result


WEEKS = pd.Series(
    [100.0, 101.0, 103.0, 102.0, 104.0, 108.0],
    index=pd.date_range("2021-01-06", periods=6, freq="7D"),
)
MONTHS = pd.Series(
    np.arange(100.0, 124.0), index=pd.date_range("2020-01-01", periods=24, freq="MS")
)


def test_change_over_observations_and_periods() -> None:
    assert list(run("change(x, 2)", x=WEEKS).dropna()) == [3.0, 1.0, 1.0, 6.0]
    assert run("change(x, '2w')", x=WEEKS).dropna().tolist() == [3.0, 1.0, 1.0, 6.0]
    assert run("pct_change(x, 1)", x=WEEKS).iloc[1] == pytest.approx(1.0)


def test_yoy_uses_the_value_a_year_earlier() -> None:
    result = run("yoy(x)", x=MONTHS)
    assert math.isnan(result.iloc[11])
    assert result.iloc[12] == pytest.approx((112 / 100 - 1) * 100)


def test_rolling_windows_wait_for_full_history() -> None:
    assert run("mean(x, 3)", x=WEEKS).tolist()[2:] == pytest.approx(
        [
            (100 + 101 + 103) / 3,
            (101 + 103 + 102) / 3,
            (103 + 102 + 104) / 3,
            (102 + 104 + 108) / 3,
        ]
    )
    # (t - 21 days, t] holds 3 weekly points; results start once 3 weeks of history exist
    assert run("max(x, '3w')", x=WEEKS).dropna().tolist() == [103.0, 104.0, 108.0]
    assert run("min(x, 2)", x=WEEKS).dropna().tolist() == [100.0, 101.0, 102.0, 102.0, 104.0]
    assert run("sum(x, 12)", x=MONTHS).iloc[11] == sum(range(100, 112))


def test_percentile_rank_and_distance_from_high() -> None:
    assert run("pctrank(x, 3)", x=WEEKS).tolist()[2:] == pytest.approx(
        [100.0, 200 / 3, 100.0, 100.0]
    )
    drawdown = run("pct_from_high(x)", x=WEEKS)
    assert drawdown.iloc[3] == pytest.approx((102 / 103 - 1) * 100)
    assert drawdown.iloc[5] == 0.0


def test_consecutive_rises_shift_and_crossings() -> None:
    assert run("rises(x)", x=WEEKS).tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    assert run("x.shift(2)", x=WEEKS).tolist()[2:] == [100.0, 101.0, 103.0, 102.0]
    assert run("crosses_above(x, 102.5)", x=WEEKS).tolist()[1:] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert run("crosses_below(x, 102.5)", x=WEEKS).tolist()[1:] == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_unknown_propagates_through_logic() -> None:
    x = pd.Series([1.0, np.nan, 0.0], index=pd.date_range("2021-01-01", periods=3))
    assert run("x > 0 or x < 1", x=x).tolist()[::2] == [1.0, 1.0]
    assert math.isnan(run("x > 0 and x > -1", x=x).iloc[1])
    assert run("not x > 0", x=x).iloc[2] == 1.0
    assert math.isnan(run("x / 0", x=x).iloc[0])  # a division by zero is unknown, not inf


def test_weekly_rule_sees_the_monthly_value_published_so_far() -> None:
    rules = load_rules(
        """
series:
  weekly: {source: fred, id: W}
  cpi: {source: fred, id: CPI, lag: 45d}
rules:
  - id: hot
    title: Hot
    on: weekly
    when: "cpi > 102"
""",
        "t.yaml",
    )
    weekly = pd.Series(1.0, index=pd.date_range("2020-01-01", "2020-06-30", freq="7D"))
    cpi = pd.Series(
        [100.0, 101.0, 103.0, 103.0], index=pd.date_range("2020-01-01", periods=4, freq="MS")
    )
    (event,) = backtest(rules, {"W": weekly, "CPI": cpi})
    # March CPI (103) is published 45 days after 2020-03-01, i.e. 2020-04-15: the first
    # weekly observation after that is 2020-04-15 itself (a Wednesday).
    assert event.date.isoformat() == "2020-04-15"
    assert event.value == 103.0


def test_last_move_is_the_newest_step_within_the_window_and_zero_after() -> None:
    days = pd.date_range("2023-01-01", periods=800, freq="D")
    rate = pd.Series(5.0, index=days)
    assert math.isnan(run("last_move(x, '6m')", x=rate)[pd.Timestamp("2023-03-01")])  # warming
    rate[days >= "2024-03-10"] = 5.25  # a hike
    rate[days >= "2024-07-01"] = 5.0  # a cut: the newest move decides, not the net change
    found = run("last_move(x, '6m')", x=rate)
    assert found[pd.Timestamp("2024-03-09")] == 0.0
    assert found[pd.Timestamp("2024-03-10")] == 0.25  # in the month of the move
    assert found[pd.Timestamp("2024-06-30")] == 0.25
    assert found[pd.Timestamp("2024-07-01")] == -0.25  # net change over 6 months is zero
    assert found[pd.Timestamp("2024-12-31")] == -0.25
    assert found[pd.Timestamp("2025-01-02")] == 0.0  # six months on: holding
    # a wobble under 0.01 is no move; unknown stays unknown
    rate[pd.Timestamp("2025-01-10")] = np.nan
    again = run("last_move(x, '6m')", x=rate)
    assert math.isnan(again[pd.Timestamp("2025-01-10")])


def test_settled_takes_a_value_once_it_held_and_drops_a_state_left_behind() -> None:
    weeks = pd.date_range("2024-01-05", periods=12, freq="7D")
    x = pd.Series([1, 1, 1, 1, 0, 1, 1, 1, 0, -1, 0, -1], index=weeks, dtype="float64")
    found = list(run("settled(x, '3w')", x=x))
    # 1 holds from the start once three weeks old; a one-week 0 does not turn it; from week
    # 9 the value 1 is gone, and three weeks later (week 12) the newest value is taken.
    assert math.isnan(found[0]) and found[3] == 1.0
    assert found[4:11] == [1.0] * 7
    assert found[11] == -1.0
    # a change that holds for the window is taken when it has held that long
    step = pd.Series([0.0] * 4 + [1.0] * 5, index=weeks[:9])
    assert list(run("settled(x, 3)", x=step))[4:] == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_settled_and_last_move_are_in_the_reach_of_a_windowed_evaluation() -> None:
    from rules.reach import SETTLE_DAYS

    tree = compile_expression("last_move(x, '6m')", ["x"])
    assert tree.reaches["x"].days >= 180 and tree.reaches["x"].obs >= 1
    # a settled value is looked for again in its window and two years more
    settles = compile_expression("change(settled(x, '3w'), '4w')", ["x"])
    assert settles.reaches["x"].days == 21 + 28 + SETTLE_DAYS
    assert settles.carried == {"settled(x, '3w')": (Reach(days=28.0), Reach(days=21.0))}
