"""Functions about what is known: `coalesce`, `known`, `started` and `sure`. Unknown (NaN)
is a value of its own here; these are the only ways a rule turns it into a decision, and
each does so explicitly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rules.functions import Value, align, as_series


def _before_start(x: pd.Series, clock: pd.DatetimeIndex, fill: float) -> pd.Series:
    """`x` with the clock's dates before its first row added, each set to `fill`."""
    start = x.index[0] if len(x) else None
    early = clock if start is None else clock[clock < start]
    if not len(early):
        return x
    head = pd.Series(fill, index=early, dtype="float64")
    return pd.concat([head, x]) if len(x) else head


def coalesce(a: Value, b: Value, clock: pd.DatetimeIndex | None = None) -> Value:
    """`a` where it is known, else `b` (a new series spliced onto an older one, or a default);
    a constant `b` fills every date of the clock, also those before `a` starts."""
    left, right = align(a, b)
    if not isinstance(left, pd.Series):
        return left if not np.isnan(left) else right
    filled = left.fillna(as_series(right, left))
    if isinstance(right, pd.Series) or clock is None or np.isnan(right):
        return filled
    return _before_start(filled, clock, float(right))


def known(x: Value, clock: pd.DatetimeIndex | None = None) -> Value:
    """1 where `x` is known, 0 where it is unknown (stale, or before it starts); never unknown."""
    if not isinstance(x, pd.Series):
        return 0.0 if np.isnan(x) else 1.0
    flags = x.notna().astype("float64")
    return flags if clock is None else _before_start(flags, clock, 0.0)


def started(x: Value, clock: pd.DatetimeIndex | None = None) -> Value:
    """0 before `x` has its first known value, 1 from then on (stale or not): for a leg that
    means "no such thing before the data begin" (no QE before the Fed's weekly series)."""
    if not isinstance(x, pd.Series):
        return 0.0 if np.isnan(x) else 1.0
    flags = x.notna().astype("float64").cummax()
    return flags if clock is None else _before_start(flags, clock, 0.0)


def sure(certain: Value, possible: Value) -> Value:
    """A verdict from bounds: 1 where `certain` (the claim with every unknown leg against it)
    holds, 0 where `possible` (every unknown leg for it) fails, unknown in between."""
    lo, hi = align(certain, possible)
    if not isinstance(lo, pd.Series) and not isinstance(hi, pd.Series):
        return 1.0 if lo == 1.0 else (0.0 if hi == 0.0 else float("nan"))
    a = as_series(lo, hi if isinstance(hi, pd.Series) else None)
    b = as_series(hi, a)
    out = np.where(a.to_numpy() == 1.0, 1.0, np.where(b.to_numpy() == 0.0, 0.0, np.nan))
    return pd.Series(out, index=a.index, dtype="float64")
