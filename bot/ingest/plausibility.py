"""Is what a source just sent believable next to what the store already holds?

Sources are thin adapters: a body that parses is handed on as it came. A feed that answers
``.`` for every value, a truncated download, or a zero where trillions belong parses fine and
would overwrite good history and fire rules on garbage. The fetcher asks `implausible` before
recording; a non-None answer means "store nothing, note the reason, try again next poll".

The rule, deliberately simple (real histories in ../shared/data never trip it, see
tests/sources/test_plausibility.py):

* a fetch with no observations, while the store holds some, is rejected;
* a full-history fetch with fewer than half the observations the store holds is rejected;
* a non-finite value (inf) is rejected;
* in a level series (no negative value stored) the magnitude of a new observation, or of a
  revision, whose reference is at least 1,000 must stay within 1% .. 100x of it. The
  reference of a new observation is the observation before it; of a revision, the value it
  replaces. Rates and small series (< 1,000) and series that change sign (deficits) are not
  judged by magnitude: a target rate may go from 0.25 to 0, a deficit from -1,500 to +5. A
  sign change alone is allowed (a young surplus series turns to deficit: FYFSD in 2002).

A store with no history of the series accepts anything finite here: there is nothing to
compare. `suspect` (below) then judges by the nature of the series, a first history too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

MIN_LEVEL = 1000.0  # references below this are not judged by magnitude
MIN_RATIO = 0.01  # new / reference below this: collapsed
MAX_RATIO = 100.0  # new / reference above this: exploded
MIN_KEPT = 0.5  # a full-history fetch must bring at least this share of the stored rows


def implausible(stored: pd.Series, fetched: pd.Series, *, since: date | None = None) -> str | None:
    """Why `fetched` (observations from `since`, all history when None) cannot be recorded
    over `stored` (the store's latest values), or None when it is plausible."""
    held = stored.dropna()
    if since is not None:
        held = held[held.index >= pd.Timestamp(since)]
    values = fetched.dropna()
    if values.empty:
        return f"no observations (the store holds {len(held):,})" if len(held) else None
    infinite = ~np.isfinite(values.to_numpy(dtype="float64"))
    if infinite.any():
        at = int(infinite.argmax())
        return f"{values.iloc[at]} on {_day(values.index[at])}"
    if len(values) < MIN_KEPT * len(held):
        return f"{len(values):,} observations where the store holds {len(held):,}"
    if held.empty or bool((held < 0).any()):
        return None  # nothing to compare with, or a series that changes sign
    return jump(held, values)


def jump(held: pd.Series, values: pd.Series) -> str | None:
    """The first new or revised value of a level series whose magnitude is outside 1% .. 100x
    of its reference."""
    known = held.reindex(values.index)
    changed = known.isna() | (known != values)
    revised = changed & known.notna()
    reference = known.where(revised, values.shift())
    ratio = values.abs() / reference
    bad = changed & (reference >= MIN_LEVEL) & ((ratio < MIN_RATIO) | (ratio > MAX_RATIO))
    if not bad.any():
        return None
    day = values.index[int(bad.to_numpy().argmax())]
    new, ref = float(values[day]), float(reference[day])
    if revised[day]:
        return f"{_day(day)} revised from {_num(ref)} to {_num(new)}"
    return f"{_num(new)} on {_day(day)} after {_num(ref)}"


def _day(stamp: object) -> str:
    return pd.Timestamp(str(stamp)).date().isoformat()


def _num(value: float) -> str:
    if not math.isfinite(value) or value != int(value):
        return f"{value:,.6g}" if abs(value) < 1000 else f"{value:,.2f}"
    return f"{int(value):,}"


# --- The nature of a series (issue 13 item 5): beyond the band, per kind of series. ---------

# Policy rates (percent): a change is a decision, in steps of at least 5 bp, at most a few
# points at once, within a plausible range.
POLICY_RATES = frozenset({"DFEDTARU", "DFEDTARL", "DFEDTAR", "IORB", "IOER"})
MIN_STEP = 0.05 - 1e-9
MAX_STEP = 3.0
RATE_RANGE = (-1.0, 25.0)
# Stocks that cannot be negative (balance sheet, reserves, RRP, the TGA, debt outstanding):
# any series whose stored history is never negative is judged the same way once it holds
# at least NONNEG_HISTORY observations.
NEVER_NEGATIVE = frozenset({"WALCL", "WRESBAL", "RRPONTSYD", "WTREGEN", "WSHOMCB", "TREAST",
                            "GFDEBTN", "M2SL", "TOTBKCR"})
NONNEG_HISTORY = 52
# A level series' observation-on-observation change, in log terms, against its own recent
# volatility (a robust scale: the median absolute log change of the last VOL_WINDOW changes).
VOL_WINDOW = 52
VOL_MULTIPLE = 40.0
VOL_FLOOR = math.log(4.0)  # always allowed in one step: up to x4 or down to a quarter
SEVERE_RATIO = 5.0  # a level x5 or /5 in one step (or a negative stock): held the longest


@dataclass(frozen=True)
class Suspect:
    """One observation that the series' nature says is implausible."""

    day: date
    value: float
    reason: str
    severe: bool = False


def suspect(series_id: str, stored: pd.Series, fetched: pd.Series) -> Suspect | None:
    """The first new or revised observation of `fetched` that does not fit the nature of the
    series next to `stored` (and to the fetched observations before it), or None.

    An empty store judges a first history against itself, observation by observation."""
    held = stored.dropna().astype("float64")
    values = fetched.dropna().astype("float64")
    if values.empty:
        return None
    merged = pd.concat([held[held.index < values.index[0]], values])
    merged = merged[~merged.index.duplicated(keep="last")].sort_index()
    known = held.reindex(values.index)
    changed = (known.isna() | (known != values)).reindex(merged.index, fill_value=False)
    if not bool(changed.any()):
        return None
    kind_rate = series_id in POLICY_RATES
    never_negative = series_id in NEVER_NEGATIVE or (
        len(held) >= NONNEG_HISTORY and not bool((held < 0).any())
    )
    numbers = merged.to_numpy()
    logs = _log_changes(numbers)
    checks = _rate_checks(numbers) if kind_rate else _level_checks(numbers, logs, never_negative)
    flagged = changed.to_numpy() & np.logical_or.reduce([bad for bad, _ in checks])
    if not flagged.any():
        return None
    i = int(flagged.argmax())
    found = next(say(i) for bad, say in checks if bad[i])
    value = float(numbers[i])
    big = i > 0 and abs(logs[i]) > math.log(SEVERE_RATIO)
    severe = bool(kind_rate or value < 0 or big)
    return Suspect(pd.Timestamp(merged.index[i]).date(), value,
                   f"{_day(merged.index[i])}: {found}", severe)


# Each check: which observations it refuses (all at once: a first history is ~100,000 rows)
# and what it says of one of them. The first refused observation is reported.
Check = tuple[np.ndarray, Callable[[int], str]]


def _rate_checks(numbers: np.ndarray) -> list[Check]:
    steps = np.diff(numbers, prepend=np.nan)
    moved = ~np.isnan(steps) & (steps != 0)
    return [
        ((numbers < RATE_RANGE[0]) | (numbers > RATE_RANGE[1]),
         lambda i: f"{_num(numbers[i])} is outside {RATE_RANGE[0]:g}..{RATE_RANGE[1]:g} "
                   "for a policy rate"),
        (moved & (np.abs(steps) < MIN_STEP),
         lambda i: f"a policy-rate move of {steps[i] * 100:+.1f} bp (moves are at least 5 bp)"),
        (moved & (np.abs(steps) > MAX_STEP),
         lambda i: f"a policy-rate move of {steps[i]:+.2f} points at once"),
    ]


def _level_checks(numbers: np.ndarray, logs: np.ndarray, never_negative: bool) -> list[Check]:
    """A negative stock; a level (positive, from at least MIN_LEVEL) stepping far beyond its
    recent volatility: the median absolute log change of the VOL_WINDOW changes before it."""
    size = np.abs(logs)
    scale = pd.Series(size).shift(1).rolling(VOL_WINDOW, min_periods=8).median().to_numpy()
    previous = np.concatenate([[np.nan], numbers[:-1]])
    with np.errstate(invalid="ignore"):
        jumped = (previous >= MIN_LEVEL) & (size > np.maximum(VOL_FLOOR, VOL_MULTIPLE * scale))
    jumped[:2] = False
    return [
        ((numbers < 0) & never_negative,
         lambda i: f"{_num(numbers[i])}: a negative value where none can be"),
        (jumped,
         lambda i: f"{_num(numbers[i])} after {_num(previous[i])} "
                   f"(x{numbers[i] / previous[i]:.2f}; its recent steps are about "
                   f"{scale[i] * 100:.2f}%)"),
    ]


def _log_changes(numbers: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        ratio = numbers[1:] / numbers[:-1]
        logs = np.where((numbers[1:] > 0) & (numbers[:-1] > 0), np.log(ratio), np.nan)
    return np.concatenate([[np.nan], logs])
