"""The regime over a whole history in one vectorized pass: every gauge on the evaluator's
clock, the `choose:` list in three-valued logic, the last determined regime and since when,
and a provisional reading from the gauges still known."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rules.column import Col, Val
from rules.engine import Evaluator, on_clock
from rules.functions import Value
from rules.operators import truth
from rules.ruleset import RuleSet

UNDETERMINED = "undetermined"
NO_DATE = np.int64(-1)


class _GridEnv:
    """Names for the `choose:` expressions: gauges as 1/0/NaN Series on the grid, the rest
    from the evaluator."""

    def __init__(self, ev: Evaluator, grid: pd.DatetimeIndex, gauges: dict[str, np.ndarray]):
        self.ev = ev
        dates = grid.as_unit("ns").asi8
        self.gauges = {k: Col(dates, v) for k, v in gauges.items()}

    def column(self, name: str) -> Val:
        """A gauge's truth, or any other name's value, over the whole history."""
        found = self.gauges.get(name)
        return found if found is not None else self.ev.column(name)

    def lookup(self, name: str) -> Value:
        """The same as a Series."""
        found = self.gauges.get(name)
        return found.series() if found is not None else self.ev.lookup(name)

    def clock_index(self) -> pd.DatetimeIndex:
        """The evaluator's clock."""
        return self.ev.clock_index()

    def clock_dates(self) -> np.ndarray:
        """The evaluator's clock (int64 ns)."""
        return self.ev.clock_dates()


@dataclass(frozen=True)
class RegimeFrame:
    """The regime at every date of `grid` (each date stands until the next one)."""

    grid: pd.DatetimeIndex
    regime: np.ndarray  # object: a regime id, or UNDETERMINED
    blocking: np.ndarray  # int: the first choice that was unknown (-1: none)
    provisional: np.ndarray  # object: the regime with unknown gauges at their last known value
    last_regime: np.ndarray  # object: the newest determined regime at or before each date
    last_since: np.ndarray  # int64 ns: when that regime's run began (-1: none)
    last_until: np.ndarray  # int64 ns: the newest date it was determined (-1: none)
    gauges: dict[str, np.ndarray]  # 1/0/NaN

    def positions(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """For each date, the grid point in force then (-1: before the first)."""
        return np.asarray(self.grid.searchsorted(dates, side="right") - 1)


def _choose(
    ruleset: RuleSet, env: _GridEnv, grid: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """The first choice known true after every earlier one is known false (Kleene logic);
    UNDETERMINED where an earlier or the deciding choice is unknown."""
    n = len(grid)
    chosen = np.full(n, UNDETERMINED, dtype=object)
    blocking = np.full(n, -1, dtype="int64")
    open_ = np.ones(n, dtype=bool)  # every earlier choice known false
    for k, (regime_id, expr) in enumerate(ruleset.choices):
        verdict = on_clock(truth(expr.compute(env)), grid)
        chosen[open_ & (verdict == 1.0)] = regime_id
        unknown = open_ & np.isnan(verdict)
        blocking[unknown] = k
        open_ &= verdict == 0.0
    chosen[open_] = ruleset.default_regime
    return chosen, blocking


def _runs(grid: pd.DatetimeIndex, regime: np.ndarray) -> tuple[np.ndarray, ...]:
    determined = regime != UNDETERMINED
    series = pd.Series(regime, dtype=object).where(determined)
    last = series.ffill()
    previous = last.shift(1)
    starts = determined & ~(series == previous).to_numpy()
    stamps = grid.as_unit("ns").asi8.astype("float64")
    since = pd.Series(np.where(starts, stamps, np.nan)).ffill()
    until = pd.Series(np.where(determined, stamps, np.nan)).ffill()
    last_regime = np.array(last.to_numpy(dtype=object), copy=True)
    last_regime[pd.isna(last_regime)] = None
    return (
        last_regime,
        since.fillna(-1).to_numpy().astype("int64"),
        until.fillna(-1).to_numpy().astype("int64"),
    )


def regime_frame(ruleset: RuleSet, ev: Evaluator) -> RegimeFrame:
    """The regime at every date the evaluator's inputs change, in one pass (once per
    evaluator)."""
    with ev.lock:
        found = ev.derived.get("regime_frame")
        if isinstance(found, RegimeFrame) and ev.ruleset is ruleset:
            return found
        frame = _frame(ruleset, ev)
        if ev.ruleset is ruleset:
            ev.derived["regime_frame"] = frame
        return frame


def _frame(ruleset: RuleSet, ev: Evaluator) -> RegimeFrame:
    grid = ev.clock_index()
    gauges = {g.spec.id: on_clock(truth(g.when.compute(ev)), grid) for g in ruleset.gauges}
    regime, blocking = _choose(ruleset, _GridEnv(ev, grid, gauges), grid)
    # The provisional reading: each unknown gauge at its last known value, said as such.
    carried = {k: pd.Series(v).ffill().to_numpy() for k, v in gauges.items()}
    provisional, _ = _choose(ruleset, _GridEnv(ev, grid, carried), grid)
    provisional[regime != UNDETERMINED] = None
    provisional[provisional == UNDETERMINED] = None
    last_regime, since, until = _runs(grid, regime)
    return RegimeFrame(grid, regime, blocking, provisional, last_regime, since, until, gauges)


__all__ = ["UNDETERMINED", "RegimeFrame", "regime_frame"]
