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
    steps = np.diff(numbers, prepend=np.nan)
    logs = _log_changes(numbers)
    for i in np.flatnonzero(changed.to_numpy() & _may_fail(numbers, steps, logs, kind_rate,
                                                           never_negative)):
        day, value = merged.index[i], float(numbers[i])
        if kind_rate:
            found = _rate_problem(value, float(steps[i]))
        elif never_negative and value < 0:
            found = f"{_num(value)}: a negative value where none can be"
        else:
            found = _jump_problem(logs, int(i), value, float(numbers[i - 1]) if i else math.nan)
        if found:
            big = i > 0 and abs(logs[i]) > math.log(SEVERE_RATIO)
            severe = bool(kind_rate or value < 0 or big)
            return Suspect(pd.Timestamp(day).date(), value, f"{_day(day)}: {found}", severe)
    return None


def _may_fail(numbers: np.ndarray, steps: np.ndarray, logs: np.ndarray, kind_rate: bool,
              never_negative: bool) -> np.ndarray:
    """The observations a check below could refuse, found at once: the checks then run on these
    few instead of on every row of a first history (119,000 rows took 2.5 s one by one)."""
    with np.errstate(invalid="ignore"):
        if kind_rate:
            moved = (steps != 0) & ((np.abs(steps) < MIN_STEP) | (np.abs(steps) > MAX_STEP))
            out_of_range = (numbers < RATE_RANGE[0]) | (numbers > RATE_RANGE[1])
            return np.asarray(out_of_range | moved, dtype=bool)
        negative = (numbers < 0) & never_negative
        return np.asarray(negative | (np.abs(logs) > VOL_FLOOR), dtype=bool)  # NaN: False


def _rate_problem(value: float, step: float) -> str | None:
    if not RATE_RANGE[0] <= value <= RATE_RANGE[1]:
        return f"{_num(value)} is outside {RATE_RANGE[0]:g}..{RATE_RANGE[1]:g} for a policy rate"
    if math.isnan(step) or step == 0:
        return None
    if abs(step) < MIN_STEP:
        return f"a policy-rate move of {step * 100:+.1f} bp (moves are at least 5 bp)"
    if abs(step) > MAX_STEP:
        return f"a policy-rate move of {step:+.2f} points at once"
    return None


def _log_changes(numbers: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        ratio = numbers[1:] / numbers[:-1]
        logs = np.where((numbers[1:] > 0) & (numbers[:-1] > 0), np.log(ratio), np.nan)
    return np.concatenate([[np.nan], logs])


def _jump_problem(logs: np.ndarray, i: int, value: float, previous: float) -> str | None:
    """A level series (positive, at least MIN_LEVEL) stepping far beyond its recent volatility."""
    if i < 2 or math.isnan(logs[i]) or previous < MIN_LEVEL:
        return None
    recent = logs[max(1, i - VOL_WINDOW):i]
    recent = recent[~np.isnan(recent)]
    if len(recent) < 8:
        return None
    scale = float(np.median(np.abs(recent)))
    allowed = max(VOL_FLOOR, VOL_MULTIPLE * scale)
    if abs(logs[i]) <= allowed:
        return None
    return (f"{_num(value)} after {_num(previous)} (x{value / previous:.2f}; its recent steps "
            f"are about {scale * 100:.2f}%)")
