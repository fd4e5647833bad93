"""A value of the rule language while an expression is evaluated: float observations on their
own dates, as two plain numpy arrays. pandas costs tens of microseconds per operation whatever
the length; an evaluation does thousands of operations, so they run on arrays, and a Series is
built only where a caller asks for one."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rules.model import parse_duration

DAY_NS = 86_400_000_000_000


@dataclass(frozen=True, slots=True, eq=False)
class Col:
    """Values by date: `dates` int64 ns (ascending, unique), `vals` float64 (NaN: unknown)."""

    dates: np.ndarray
    vals: np.ndarray

    def __len__(self) -> int:
        return len(self.dates)

    @classmethod
    def of(cls, series: pd.Series) -> Col:
        """The Series' rows as arrays."""
        dates = np.asarray(pd.DatetimeIndex(series.index).as_unit("ns").asi8, dtype="int64")
        return cls(dates, series.to_numpy(dtype="float64", na_value=np.nan))

    def series(self) -> pd.Series:
        """The same rows as a pandas Series."""
        return pd.Series(self.vals, index=pd.DatetimeIndex(self.dates.view("M8[ns]")),
                         dtype="float64")

    def known(self) -> np.ndarray:
        """Where the value is known (not NaN)."""
        known: np.ndarray = ~np.isnan(self.vals)
        return known

    def like(self, vals: np.ndarray) -> Col:
        """Other values on the same dates."""
        return Col(self.dates, vals)


Val = Col | float  # what the compiled parts of an expression pass to each other

EMPTY = Col(np.array([], dtype="int64"), np.array([], dtype="float64"))


def as_col(value: Val, like: Col | None = None) -> Col:
    """A column for `value` (a constant is broadcast over `like`'s dates)."""
    if isinstance(value, Col):
        return value
    if like is None:
        return EMPTY
    return Col(like.dates, np.full(len(like), float(value)))


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two date arrays are the same dates."""
    return a is b or (len(a) == len(b) and bool(np.array_equal(a, b)))


def union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union of two date arrays (`a` itself when it holds every date of `b`); the
    same object for the same two arrays, so what is aligned once is seen to be aligned."""
    if same(a, b):
        return a
    key = (id(a), id(b))
    with _lock:
        hit = _unions.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return hit[2]
    merged = np.concatenate([a, b])
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    keep = np.ones(len(merged), dtype=bool)
    keep[1:] = merged[1:] != merged[:-1]
    found = merged[keep]
    if len(found) == len(a):
        found = a
    elif len(found) == len(b):
        found = b
    with _lock:
        _unions[key] = (a, b, found)  # the arrays kept: no other array can take their ids
        while len(_unions) > UNIONS_KEPT:
            _unions.pop(next(iter(_unions)))
    return found


UNIONS_KEPT = 128  # an evaluation of the default rules aligns about 60 pairs
_unions: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_lock = threading.Lock()


def asof(col: Col, dates: np.ndarray) -> np.ndarray:
    """The column's value in force at each of `dates` (its newest row on or before; NaN before
    its first)."""
    if same(col.dates, dates):
        return col.vals
    if not len(col):
        return np.full(len(dates), np.nan)
    pos = np.searchsorted(col.dates, dates, side="right") - 1
    out = col.vals[np.maximum(pos, 0)]
    out[pos < 0] = np.nan
    return out


def align(a: Val, b: Val) -> tuple[Val, Val]:
    """Put two values on one set of dates: the union, each side carried forward (as-of)."""
    if not isinstance(a, Col) or not isinstance(b, Col) or a.dates is b.dates:
        return a, b
    dates = union(a.dates, b.dates)
    return Col(dates, asof(a, dates)), Col(dates, asof(b, dates))


def pair(a: Val, b: Val) -> tuple[Col, Col] | None:
    """Both values as columns on one set of dates, or None when both are plain numbers."""
    a, b = align(a, b)
    if isinstance(a, Col):
        return a, as_col(b, a)
    if isinstance(b, Col):
        return as_col(a, b), b
    return None


def clean(vals: np.ndarray) -> np.ndarray:
    """Infinities (a division by zero) as NaN: unknown, not huge."""
    return np.where(np.isinf(vals), np.nan, vals)


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


def minus_period(dates: np.ndarray, text: str, sign: int = -1) -> np.ndarray:
    """Each date a calendar period earlier ('4w': 28 days, '1y': the same day a year before),
    or later with `sign` 1."""
    count, unit = parse_duration(text)
    if unit in ("d", "w"):  # whole days on naive dates: plain arithmetic, as pandas does it
        return dates + sign * count * (7 if unit == "w" else 1) * DAY_NS
    index = pd.DatetimeIndex(dates.view("M8[ns]"))
    shifted = index + period_offset(text) if sign > 0 else index - period_offset(text)
    return np.asarray(shifted.as_unit("ns").asi8, dtype="int64")


def to_col(value: pd.Series | float) -> Val:
    """A value from outside (a Series, or a number) as the evaluation's own kind."""
    return Col.of(value) if isinstance(value, pd.Series) else float(value)


def to_value(value: Val) -> pd.Series | float:
    """An evaluation's value as callers outside see it: a Series, or a number."""
    return value.series() if isinstance(value, Col) else value
