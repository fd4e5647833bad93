"""Functions about what is known: `coalesce`, `known`, `started` and `sure`. Unknown (NaN)
is a value of its own here; these are the only ways a rule turns it into a decision, and
each does so explicitly."""

from __future__ import annotations

import numpy as np

from rules.column import Col, Val, align, as_col, pair


def _before_start(x: Col, clock: np.ndarray, fill: float) -> Col:
    """`x` with the clock's dates before its first row added, each set to `fill`."""
    early = clock[clock < x.dates[0]] if len(x) else clock
    if not len(early):
        return x
    return Col(np.concatenate([early, x.dates]),
               np.concatenate([np.full(len(early), fill), x.vals]))


def coalesce(a: Val, b: Val, clock: np.ndarray | None = None) -> Val:
    """`a` where it is known, else `b` (a new series spliced onto an older one, or a default);
    a constant `b` fills every date of the clock, also those before `a` starts."""
    left, right = align(a, b)
    if not isinstance(left, Col):
        return left if not np.isnan(left) else right
    fill = as_col(right, left).vals
    filled = left.like(np.where(np.isnan(left.vals), fill, left.vals))
    if isinstance(right, Col) or clock is None or np.isnan(right):
        return filled
    return _before_start(filled, clock, float(right))


def known(x: Val, clock: np.ndarray | None = None) -> Val:
    """1 where `x` is known, 0 where it is unknown (stale, or before it starts); never unknown."""
    if not isinstance(x, Col):
        return 0.0 if np.isnan(x) else 1.0
    flags = x.like(x.known().astype("float64"))
    return flags if clock is None else _before_start(flags, clock, 0.0)


def started(x: Val, clock: np.ndarray | None = None) -> Val:
    """0 before `x` has its first known value, 1 from then on (stale or not): for a leg that
    means "no such thing before the data begin" (no QE before the Fed's weekly series)."""
    if not isinstance(x, Col):
        return 0.0 if np.isnan(x) else 1.0
    flags = x.like(np.maximum.accumulate(x.known()).astype("float64"))
    return flags if clock is None else _before_start(flags, clock, 0.0)


def sure(certain: Val, possible: Val) -> Val:
    """A verdict from bounds: 1 where `certain` (the claim with every unknown leg against it)
    holds, 0 where `possible` (every unknown leg for it) fails, unknown in between."""
    both = pair(certain, possible)
    if both is None:
        lo, hi = align(certain, possible)
        return 1.0 if lo == 1.0 else (0.0 if hi == 0.0 else float("nan"))
    a, b = both
    return a.like(np.where(a.vals == 1.0, 1.0, np.where(b.vals == 0.0, 0.0, np.nan)))
