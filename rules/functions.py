"""The whitelisted functions of the rule language, each vectorized over a whole pandas Series.

Values are float Series on a DatetimeIndex (or plain floats). Truth values are floats too:
1.0 true, 0.0 false, NaN unknown (not enough history, or an input missing), so "unknown"
propagates and a rule is skipped rather than silently read as false.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.core.window.rolling import Rolling

from rules.model import parse_duration

Value = pd.Series | float
Window = int | str  # a count of observations, or a period such as '26w'


def period_offset(text: str) -> pd.DateOffset:
    """A calendar offset for a period: '4w' -> 4 weeks, '1y' -> 1 year."""
    count, unit = parse_duration(text)
    if unit == "d":
        return pd.DateOffset(days=count)
    if unit == "w":
        return pd.DateOffset(weeks=count)
    if unit == "m":
        return pd.DateOffset(months=count)
    if unit == "q":
        return pd.DateOffset(months=3 * count)
    return pd.DateOffset(years=count)


def period_timedelta(text: str) -> pd.Timedelta:
    """The same period as a fixed length, for rolling windows (a year is 365 days)."""
    count, unit = parse_duration(text)
    days = {"d": 1, "w": 7, "m": 30.4375, "q": 91.3125, "y": 365.25}[unit] * count
    return pd.Timedelta(days=round(days))


def as_series(value: Value, like: pd.Series | None = None) -> pd.Series:
    """A Series for `value` (a constant is broadcast over `like`'s index)."""
    if isinstance(value, pd.Series):
        return value
    index = like.index if like is not None else pd.DatetimeIndex([])
    return pd.Series(float(value), index=index, dtype="float64")


def union_index(a: pd.Index, b: pd.Index) -> pd.DatetimeIndex:
    """The sorted union of two date indexes (without pandas' costly frequency inference)."""
    left = pd.DatetimeIndex(a).as_unit("ns")
    right = pd.DatetimeIndex(b).as_unit("ns")
    if left.equals(right):
        return left
    merged = np.concatenate([left.asi8, right.asi8])
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    keep = np.ones(len(merged), dtype=bool)
    keep[1:] = merged[1:] != merged[:-1]
    return pd.DatetimeIndex(merged[keep].view("M8[ns]"))


def align(a: Value, b: Value) -> tuple[Value, Value]:
    """Put two values on one index: the union of dates, each side carried forward (as-of)."""
    if not isinstance(a, pd.Series) or not isinstance(b, pd.Series) or a.index.equals(b.index):
        return a, b
    index = union_index(a.index, b.index)
    return a.reindex(index, method="ffill"), b.reindex(index, method="ffill")


def clean(values: pd.Series) -> pd.Series:
    """Replace infinities (a division by zero) with NaN: unknown, not huge."""
    return values.replace([np.inf, -np.inf], np.nan).astype("float64")


def on_known(x: pd.Series, f: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`f` over the known rows only, put back on x's index (unknown rows stay unknown), so
    "N observations" counts real observations, not the rows where an input went stale."""
    known_rows = x.dropna()
    if len(known_rows) == len(x):
        return f(x)
    return f(known_rows).reindex(x.index)


def lookback(x: pd.Series, window: Window) -> pd.Series:
    """The value `window` ago: N observations back, or the last value on or before t - period."""
    if isinstance(window, int):
        return on_known(x, lambda k: k.shift(window))
    index = pd.DatetimeIndex(x.index)
    targets = index - period_offset(window)
    positions = index.searchsorted(targets, side="right") - 1
    values = x.to_numpy(dtype="float64")
    picked = np.where(positions >= 0, values[np.clip(positions, 0, None)], np.nan)
    return pd.Series(picked, index=x.index, dtype="float64")


def _rolling(x: pd.Series, window: Window) -> Rolling[pd.Series]:
    if isinstance(window, int):
        return x.rolling(window, min_periods=window)
    return x.rolling(period_timedelta(window), min_periods=1)


def _window(
    s: pd.Series, window: Window, f: Callable[[Rolling[pd.Series]], pd.Series]
) -> pd.Series:
    if isinstance(window, int):
        return on_known(s, lambda k: f(_rolling(k, window)))
    return f(_rolling(s, window))


def _warm(x: pd.Series, window: Window, result: pd.Series) -> pd.Series:
    """Hide results where the input is unknown, or a period window is not yet covered."""
    result = result.where(x.notna())
    if isinstance(window, int) or x.empty:
        return result
    start = pd.DatetimeIndex(x.index)[0] + period_timedelta(window)
    return result.where(result.index >= start)


def change(x: Value, window: Window) -> Value:
    """Difference from `window` ago."""
    s = as_series(x)
    return clean(s - lookback(s, window))


def pct_change(x: Value, window: Window) -> Value:
    """Percent change from `window` ago."""
    s = as_series(x)
    return clean((s / lookback(s, window) - 1.0) * 100.0)


def yoy(x: Value) -> Value:
    """Percent change from a year earlier."""
    return pct_change(x, "1y")


def rolling_mean(x: Value, window: Window) -> Value:
    """Mean over the window ending at each observation."""
    s = as_series(x)
    return clean(_warm(s, window, _window(s, window, lambda r: r.mean())))


def rolling_median(x: Value, window: Window) -> Value:
    """Median over the window ending at each observation (robust to brief spikes)."""
    s = as_series(x)
    return clean(_warm(s, window, _window(s, window, lambda r: r.median())))


def rolling_min(x: Value, window: Window) -> Value:
    """Minimum over the window ending at each observation."""
    s = as_series(x)
    return clean(_warm(s, window, _window(s, window, lambda r: r.min())))


def rolling_max(x: Value, window: Window) -> Value:
    """Maximum over the window ending at each observation."""
    s = as_series(x)
    return clean(_warm(s, window, _window(s, window, lambda r: r.max())))


def rolling_sum(x: Value, window: Window) -> Value:
    """Sum over the window ending at each observation."""
    s = as_series(x)
    return clean(_warm(s, window, _window(s, window, lambda r: r.sum())))


def count(condition: Value, window: Window) -> Value:
    """How many observations in the window were true."""
    s = as_series(condition)
    truthy = (s != 0).astype("float64").where(s.notna())
    if isinstance(window, int):
        return clean(_warm(s, window, on_known(truthy, lambda k: _rolling(k, window).sum())))
    return clean(_warm(s, window, _rolling(truthy.fillna(0.0), window).sum()))


def pctrank(x: Value, window: Window) -> Value:
    """Percentile rank (0-100) of each value among the values in the window ending there."""
    s = as_series(x)
    return clean(_warm(s, window, _window(s, window, lambda r: r.rank(pct=True)) * 100.0))


def pct_from_high(x: Value, window: Window | None = None) -> Value:
    """Percent below the all-time high (or the window's high); 0 at a new high."""
    s = as_series(x)
    high = s.cummax() if window is None else _window(s, window, lambda r: r.max())
    return clean((s / high - 1.0) * 100.0)


def last_move(x: Value, window: Window) -> Value:
    """The signed size of the newest change of `x` (from one known observation to the next, at
    least 0.01) within the window ending at each observation; 0 where none moved in it. For a
    policy rate: the direction of the last decision within six months, holding after."""
    s = as_series(x)
    known_rows = s.dropna()
    if known_rows.empty:
        return clean(s * np.nan)
    steps = known_rows.diff()
    moved = steps.abs() >= 0.01
    positions = np.arange(len(known_rows))
    last = pd.Series(np.where(moved, positions, np.nan)).ffill().to_numpy()
    index = pd.DatetimeIndex(known_rows.index)
    if isinstance(window, int):
        inside = positions - last < window
    else:
        stamps = index.as_unit("ns").asi8
        starts = (index - period_offset(window)).as_unit("ns").asi8
        when = np.where(np.isnan(last), np.iinfo("int64").min,
                        stamps[np.nan_to_num(last, nan=0).astype("int64")])
        inside = when > starts
    sizes = steps.to_numpy()[np.nan_to_num(last, nan=0).astype("int64")]
    out = np.where(~np.isnan(last) & inside, sizes, 0.0)
    result = pd.Series(out, index=known_rows.index, dtype="float64").reindex(s.index)
    return clean(_warm(s, window, result))


def settled(x: Value, window: Window) -> Value:
    """The value `x` settles on: a new value is taken once it has held for the whole window
    (a period, or N observations), or once the settled value has been absent for the whole
    window (then the newest value is taken: a state left behind does not linger while the
    next one wobbles). Unknown where `x` is unknown, and before a first value has held.
    Reads all history (a settled value can stand for years)."""
    s = as_series(x)
    k = s.dropna()
    if k.empty:
        return clean(s * np.nan)
    values = k.to_numpy(dtype="float64")
    if isinstance(window, int):
        stamps = np.arange(len(k), dtype="int64")
        reach = window - 1
    else:
        stamps = pd.DatetimeIndex(k.index).as_unit("ns").asi8
        limits = (pd.DatetimeIndex(k.index) - period_offset(window)).as_unit("ns").asi8
    out = np.full(len(k), np.nan)
    current = np.nan
    run_start = stamps[0]
    last_seen: dict[float, int] = {}
    for i, value in enumerate(values):
        if i and value != values[i - 1]:
            run_start = stamps[i]
        limit = stamps[i] - reach if isinstance(window, int) else limits[i]
        if current != current:
            if run_start <= limit:
                current = value
        elif value != current and (run_start <= limit or (last_seen.get(current, stamps[0]) < limit
                                   and stamps[0] <= limit)):
            current = value
        last_seen[float(value)] = int(stamps[i])
        out[i] = current
    return clean(pd.Series(out, index=k.index, dtype="float64").reindex(s.index))


def _streak(hits: pd.Series) -> pd.Series:
    runs = (~hits).cumsum()
    return hits.astype("float64").groupby(runs).cumsum()


def rises(x: Value) -> Value:
    """How many consecutive observations each rose above the one before."""
    s = as_series(x)
    return on_known(s, lambda k: _streak(k.diff() > 0))


def falls(x: Value) -> Value:
    """How many consecutive observations each fell below the one before."""
    s = as_series(x)
    return on_known(s, lambda k: _streak(k.diff() < 0))


def shift(x: Value, n: int) -> Value:
    """The value N observations earlier (never later: no look-ahead); unknown where x is."""
    # Counted in known observations; where x itself is unknown (an input went stale) the
    # shifted value must not leak through.
    return on_known(as_series(x), lambda k: k.shift(n))


def _truth(values: pd.Series, known: pd.Series) -> pd.Series:
    return values.astype("float64").where(known)


def crosses_above(x: Value, level: Value) -> Value:
    """True on the observation where x moves from at or below `level` to above it."""
    a, b = align(as_series(x), level)
    a, b = as_series(a), as_series(b, a)
    prev_a, prev_b = a.shift(1), b.shift(1)
    known = a.notna() & b.notna() & prev_a.notna() & prev_b.notna()
    return _truth((a > b) & (prev_a <= prev_b), known)


def crosses_below(x: Value, level: Value) -> Value:
    """True on the observation where x moves from at or above `level` to below it."""
    a, b = align(as_series(x), level)
    a, b = as_series(a), as_series(b, a)
    prev_a, prev_b = a.shift(1), b.shift(1)
    known = a.notna() & b.notna() & prev_a.notna() & prev_b.notna()
    return _truth((a < b) & (prev_a >= prev_b), known)


def absolute(x: Value) -> Value:
    """The absolute value."""
    return x.abs() if isinstance(x, pd.Series) else abs(x)


def least(a: Value, b: Value) -> Value:
    """The smaller of two values at each date."""
    left, right = align(a, b)
    if isinstance(left, pd.Series) or isinstance(right, pd.Series):
        ls = as_series(left, right if isinstance(right, pd.Series) else None)
        return ls.where(ls <= right, right).where(ls.notna())
    return min(left, right)


def greatest(a: Value, b: Value) -> Value:
    """The larger of two values at each date."""
    left, right = align(a, b)
    if isinstance(left, pd.Series) or isinstance(right, pd.Series):
        ls = as_series(left, right if isinstance(right, pd.Series) else None)
        return ls.where(ls >= right, right).where(ls.notna())
    return max(left, right)
