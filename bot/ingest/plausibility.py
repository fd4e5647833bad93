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

A store with no history of the series accepts anything finite: there is nothing to compare.
"""

from __future__ import annotations

import math
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
