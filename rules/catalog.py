"""The whitelist of the rule language: each function's argument kinds and implementation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rules.column import Val
from rules.functions import (
    absolute,
    change,
    count,
    crosses_above,
    crosses_below,
    falls,
    greatest,
    last_move,
    least,
    pct_change,
    pct_from_high,
    pctrank,
    rises,
    rolling_max,
    rolling_mean,
    rolling_median,
    rolling_min,
    rolling_sum,
    settled,
    shift,
    yoy,
)
from rules.unknowns import coalesce, known, started, sure


@dataclass(frozen=True)
class Signature:
    """How a whitelisted function is called: its argument kinds and its implementation.

    Kinds: 'x' any expression, 'w' a window (observation count or period string),
    'n' a non-negative integer constant.
    """

    kinds: tuple[str, ...]
    optional: int
    impl: Callable[..., Val]
    help: str
    clock: bool = False  # the implementation also takes the evaluation clock (keyword)
    carried: bool = False  # ... or where a windowed evaluation needs it exact (`exact=`)


FUNCTIONS: dict[str, Signature] = {
    "change": Signature(("x", "w"), 0, change, "change(x, 4) or change(x, '26w')"),
    "pct_change": Signature(("x", "w"), 0, pct_change, "pct_change(x, '1y')"),
    "yoy": Signature(("x",), 0, yoy, "yoy(x): percent change over a year"),
    "mean": Signature(("x", "w"), 0, rolling_mean, "mean(x, '13w')"),
    "median": Signature(("x", "w"), 0, rolling_median, "median(x, 20)"),
    "min": Signature(("x", "w"), 0, rolling_min, "min(x, 52)"),
    "max": Signature(("x", "w"), 0, rolling_max, "max(x, '1y')"),
    "sum": Signature(("x", "w"), 0, rolling_sum, "sum(x, 12)"),
    "count": Signature(("x", "w"), 0, count, "count(condition, '6m')"),
    "pctrank": Signature(("x", "w"), 0, pctrank, "pctrank(x, '10y'): 0-100"),
    "pct_from_high": Signature(("x", "w"), 1, pct_from_high, "pct_from_high(x[, '5y'])"),
    "last_move": Signature(("x", "w"), 0, last_move,
                           "last_move(x, '6m'): the newest change within the window, else 0"),
    "settled": Signature(("x", "w"), 0, settled,
                         "settled(x, '3w'): the newest value x has held for the window",
                         carried=True),
    "rises": Signature(("x",), 0, rises, "rises(x): consecutive rises"),
    "falls": Signature(("x",), 0, falls, "falls(x): consecutive falls"),
    "shift": Signature(("x", "n"), 0, shift, "shift(x, 4) or x.shift(4)"),
    "crosses_above": Signature(("x", "x"), 0, crosses_above, "crosses_above(x, level)"),
    "crosses_below": Signature(("x", "x"), 0, crosses_below, "crosses_below(x, level)"),
    "coalesce": Signature(("x", "x"), 0, coalesce, "coalesce(newer, older)", clock=True),
    "started": Signature(("x",), 0, started, "started(x): 1 once x has data", clock=True),
    "sure": Signature(("x", "x"), 0, sure, "sure(claim_at_worst, claim_at_best)"),
    "known": Signature(("x",), 0, known, "known(x): 1 where x is known, else 0", clock=True),
    "abs": Signature(("x",), 0, absolute, "abs(x)"),
    "least": Signature(("x", "x"), 0, least, "least(a, b)"),
    "greatest": Signature(("x", "x"), 0, greatest, "greatest(a, b)"),
}

METHODS = frozenset({"shift"})
