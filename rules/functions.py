"""The whitelisted functions of the rule language, each vectorized over a whole history.

Values are float columns by date (`rules.column.Col`, plain numpy arrays) or plain floats.
Truth values are floats too: 1.0 true, 0.0 false, NaN unknown (not enough history, or an
input missing), so "unknown" propagates and a rule is skipped rather than silently read as
false. Rolling windows are pandas' own (the same sums and medians, bit for bit); everything
else is numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from rules.column import Col, Val, align, as_col, clean, minus_period, pair, period_offset
from rules.model import parse_duration

Value = pd.Series | float  # a value as callers outside an evaluation see it
Window = int | str  # a count of observations, or a period such as '26w'


def period_timedelta(text: str) -> pd.Timedelta:
    """The same period as a fixed length, for rolling windows (a year is 365 days)."""
    count, unit = parse_duration(text)
    days = {"d": 1, "w": 7, "m": 30.4375, "q": 91.3125, "y": 365.25}[unit] * count
    return pd.Timedelta(days=round(days))


def on_known(x: Col, f: Callable[[Col], np.ndarray]) -> np.ndarray:
    """`f` over the known rows only, put back on x's dates (unknown rows stay unknown), so
    "N observations" counts real observations, not the rows where an input went stale."""
    known = x.known()
    if known.all():
        return f(x)
    out = np.full(len(x), np.nan)
    out[known] = f(Col(x.dates[known], x.vals[known]))
    return out


def _shifted(vals: np.ndarray, n: int) -> np.ndarray:
    """Each value n positions later (NaN where there is none before)."""
    out = np.full(len(vals), np.nan)
    if n < len(vals):
        out[n:] = vals[: len(vals) - n]
    return out


def lookback(x: Col, window: Window) -> np.ndarray:
    """The value `window` ago: N observations back, or the last value on or before t - period."""
    if isinstance(window, int):
        return on_known(x, lambda k: _shifted(k.vals, window))
    if not len(x):
        return x.vals.copy()
    positions = np.searchsorted(x.dates, minus_period(x.dates, window), side="right") - 1
    return np.where(positions >= 0, x.vals[np.clip(positions, 0, None)], np.nan)


def rolled(x: Col, window: Window, how: str) -> np.ndarray:
    """pandas' rolling `how` ('mean', 'max', 'rank', ...) over the window ending at each row."""
    if isinstance(window, int):
        rolling = pd.Series(x.vals).rolling(window, min_periods=window)
    else:
        index = pd.DatetimeIndex(x.dates.view("M8[ns]"))
        rolling = pd.Series(x.vals, index=index).rolling(period_timedelta(window), min_periods=1)
    found = rolling.rank(pct=True) if how == "rank" else getattr(rolling, how)()
    return np.asarray(found.to_numpy(dtype="float64"))


def _window(s: Col, window: Window, how: str) -> np.ndarray:
    if isinstance(window, int):
        return on_known(s, lambda k: rolled(k, window, how))
    return rolled(s, window, how)


def _warm(x: Col, window: Window, result: np.ndarray) -> np.ndarray:
    """Hide results where the input is unknown, or a period window is not yet covered."""
    result = np.where(x.known(), result, np.nan)
    if isinstance(window, int) or not len(x):
        return result
    start = x.dates[0] + period_timedelta(window).value
    return np.where(x.dates >= start, result, np.nan)


def change(x: Val, window: Window) -> Val:
    """Difference from `window` ago."""
    s = as_col(x)
    return s.like(clean(s.vals - lookback(s, window)))


def pct_change(x: Val, window: Window) -> Val:
    """Percent change from `window` ago."""
    s = as_col(x)
    with np.errstate(all="ignore"):
        return s.like(clean((s.vals / lookback(s, window) - 1.0) * 100.0))


def yoy(x: Val) -> Val:
    """Percent change from a year earlier."""
    return pct_change(x, "1y")


def _rolling(how: str, doc: str) -> Callable[[Val, Window], Val]:
    def run(x: Val, window: Window) -> Val:
        s = as_col(x)
        return s.like(clean(_warm(s, window, _window(s, window, how))))

    run.__doc__ = doc
    run.__name__ = f"rolling_{how}"
    return run


rolling_mean = _rolling("mean", "Mean over the window ending at each observation.")
rolling_median = _rolling(
    "median", "Median over the window ending at each observation (robust to brief spikes).")
rolling_min = _rolling("min", "Minimum over the window ending at each observation.")
rolling_max = _rolling("max", "Maximum over the window ending at each observation.")
rolling_sum = _rolling("sum", "Sum over the window ending at each observation.")


def count(condition: Val, window: Window) -> Val:
    """How many observations in the window were true."""
    s = as_col(condition)
    truthy = s.like(np.where(s.known(), (s.vals != 0).astype("float64"), np.nan))
    if isinstance(window, int):
        found = on_known(truthy, lambda k: rolled(k, window, "sum"))
    else:
        found = rolled(truthy.like(np.nan_to_num(truthy.vals, nan=0.0)), window, "sum")
    return s.like(clean(_warm(s, window, found)))


def pctrank(x: Val, window: Window) -> Val:
    """Percentile rank (0-100) of each value among the values in the window ending there."""
    s = as_col(x)
    return s.like(clean(_warm(s, window, _window(s, window, "rank") * 100.0)))


def pct_from_high(x: Val, window: Window | None = None) -> Val:
    """Percent below the all-time high (or the window's high); 0 at a new high."""
    s = as_col(x)
    if window is None:
        high = np.fmax.accumulate(s.vals) if len(s) else s.vals
        high = np.where(s.known(), high, np.nan)
    else:
        high = _window(s, window, "max")
    with np.errstate(all="ignore"):
        return s.like(clean((s.vals / high - 1.0) * 100.0))


def _diff(vals: np.ndarray) -> np.ndarray:
    out = np.full(len(vals), np.nan)
    out[1:] = vals[1:] - vals[:-1]
    return out


def _spread(x: Col, known: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Values of the known rows put back on all of x's rows (NaN on the others)."""
    out = np.full(len(x), np.nan)
    out[known] = vals
    return out


def last_move(x: Val, window: Window) -> Val:
    """The signed size of the newest change of `x` (from one known observation to the next, at
    least 0.01) within the window ending at each observation; 0 where none moved in it. For a
    policy rate: the direction of the last decision within six months, holding after."""
    s = as_col(x)
    known = s.known()
    if not known.any():
        return s.like(np.full(len(s), np.nan))
    dates, steps = s.dates[known], _diff(s.vals[known])
    positions = np.arange(len(dates))
    with np.errstate(invalid="ignore"):
        moved = np.abs(steps) >= 0.01
    last = np.maximum.accumulate(np.where(moved, positions, -1))
    at = np.maximum(last, 0)
    if isinstance(window, int):
        inside = positions - last < window
    else:
        inside = dates[at] > minus_period(dates, window)
    out = np.where((last >= 0) & inside, steps[at], 0.0)
    return s.like(clean(_warm(s, window, _spread(s, known, out))))


class Unsettled(Exception):
    """A windowed evaluation's `settled` could not find again, within the window, the value
    it had settled on: the evaluation needs all history."""


def settled(x: Val, window: Window, exact: tuple[int, int] | None = None) -> Val:
    """The value `x` settles on: a new value is taken once it has held for the whole window
    (a period, or N observations), or once the settled value has been absent for the whole
    window (then the newest value is taken: a state left behind does not linger while the
    next one wobbles). Unknown where `x` is unknown, and before a first value has held.
    Reads all history (a settled value can stand for years).

    `exact` = (start, need), int64 ns: in a windowed evaluation `x` is exact from `start`,
    and the value in force at `need` and after must be too. Started afresh at `start`, the
    run takes the value the full history has from the first time a value holds for the whole
    window (from then on both runs see the same rows and take the same values); Unsettled
    when that is after `need`.
    """
    s = as_col(x)
    known = s.known()
    if not known.any():
        return s.like(np.full(len(s), np.nan))
    first = 0 if exact is None else int(np.searchsorted(s.dates[known], exact[0]))
    out = np.full(int(known.sum()), np.nan)
    out[first:] = _settle(s.dates[known][first:], s.vals[known][first:], window)
    if exact is not None:
        _check_settled(s, known, out, first, exact[1])
    return s.like(clean(_spread(s, known, out)))


def _settle(dates: np.ndarray, values: np.ndarray, window: Window) -> np.ndarray:
    out = np.full(len(values), np.nan)
    if not len(values):
        return out
    if isinstance(window, int):
        stamps = np.arange(len(values), dtype="int64")
        limits = stamps - (window - 1)
    else:
        stamps = dates
        limits = minus_period(stamps, window)
    current = np.nan
    run_start = stamps[0]
    last_seen: dict[float, int] = {}
    for i, value in enumerate(values.tolist()):
        if i and value != values[i - 1]:
            run_start = stamps[i]
        limit = limits[i]
        if current != current:
            if run_start <= limit:
                current = value
        elif value != current and (run_start <= limit or (last_seen.get(current, stamps[0]) < limit
                                   and stamps[0] <= limit)):
            current = value
        last_seen[float(value)] = int(stamps[i])
        out[i] = current
    return out


def _check_settled(s: Col, known: np.ndarray, out: np.ndarray, first: int, need: int) -> None:
    """Unsettled unless every known row from the one in force at `need` on was settled in a
    run started at row `first` (the first row exact)."""
    row = int(np.searchsorted(s.dates, need, side="right")) - 1
    if row < 0:  # what is in force at `need` is older than the window
        raise Unsettled(f"no row on or before {pd.Timestamp(need).date()}")
    needed = int(np.searchsorted(s.dates[known], s.dates[row]))
    if needed >= len(out):
        return  # nothing known from then on
    found = np.flatnonzero(~np.isnan(out[first:]))
    if not len(found) or first + int(found[0]) > needed:
        raise Unsettled(f"nothing settled by {pd.Timestamp(need).date()}")


def _streak(hits: np.ndarray) -> np.ndarray:
    """How many hits in a row end at each position."""
    total = np.cumsum(hits)
    return (total - np.maximum.accumulate(np.where(hits, 0, total))).astype("float64")


def rises(x: Val) -> Val:
    """How many consecutive observations each rose above the one before."""
    s = as_col(x)
    with np.errstate(invalid="ignore"):
        return s.like(on_known(s, lambda k: _streak(_diff(k.vals) > 0)))


def falls(x: Val) -> Val:
    """How many consecutive observations each fell below the one before."""
    s = as_col(x)
    with np.errstate(invalid="ignore"):
        return s.like(on_known(s, lambda k: _streak(_diff(k.vals) < 0)))


def shift(x: Val, n: int) -> Val:
    """The value N observations earlier (never later: no look-ahead); unknown where x is."""
    # Counted in known observations; where x itself is unknown (an input went stale) the
    # shifted value must not leak through.
    s = as_col(x)
    return s.like(on_known(s, lambda k: _shifted(k.vals, n)))


def _crosses(x: Val, level: Val, above: bool) -> Val:
    both = pair(as_col(x), level)
    assert both is not None  # x is a column
    a, b = both
    pa, pb = _shifted(a.vals, 1), _shifted(b.vals, 1)
    known = a.known() & b.known() & ~np.isnan(pa) & ~np.isnan(pb)
    hit = (a.vals > b.vals) & (pa <= pb) if above else (a.vals < b.vals) & (pa >= pb)
    return a.like(np.where(known, hit.astype("float64"), np.nan))


def crosses_above(x: Val, level: Val) -> Val:
    """True on the observation where x moves from at or below `level` to above it."""
    return _crosses(x, level, True)


def crosses_below(x: Val, level: Val) -> Val:
    """True on the observation where x moves from at or above `level` to below it."""
    return _crosses(x, level, False)


def absolute(x: Val) -> Val:
    """The absolute value."""
    return x.like(np.abs(x.vals)) if isinstance(x, Col) else abs(x)


def _pick(a: Val, b: Val, smaller: bool) -> Val:
    left, right = align(a, b)
    if not isinstance(left, Col) and not isinstance(right, Col):
        return min(left, right) if smaller else max(left, right)
    ls = as_col(left, right if isinstance(right, Col) else None)
    rv = right.vals if isinstance(right, Col) else right
    keep = ls.vals <= rv if smaller else ls.vals >= rv
    return ls.like(np.where(ls.known(), np.where(keep, ls.vals, rv), np.nan))


def least(a: Val, b: Val) -> Val:
    """The smaller of two values at each date."""
    return _pick(a, b, True)


def greatest(a: Val, b: Val) -> Val:
    """The larger of two values at each date."""
    return _pick(a, b, False)


__all__ = ["Unsettled", "Value", "Window", "period_offset", "period_timedelta"]
