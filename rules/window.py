"""The bounded window a live evaluation needs: each input's rows from the rule set's longest
look-back before the first point not yet processed, plus its very first row (so "has this
series started" keeps its answer). Evaluated over that window with the carried rule states,
the rules find exactly what an evaluation over all history finds (property-tested)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from rules.expr import Expression
from rules.model import duration_days
from rules.reach import NONE, SETTLE_DAYS, Reach, total_reach
from rules.ruleset import Rule, RuleSet

# Rows kept beyond the look-back: the frequency of a row is the median of the 59 gaps before
# it, and an as-of join needs the row before the window.
SPARE_ROWS = 64
SPARE_DAYS = 14


def rules_reach(ruleset: RuleSet, rules: Iterable[Rule]) -> Reach:
    """The widest look-back of `rules`, through every metric and rule they read."""
    reaches_of: dict[str, Mapping[str, Reach]] = {
        name: expr.reaches for name, expr in ruleset.metrics.items()}
    reaches_of.update({rule.id: rule.when.reaches for rule in ruleset.rules})
    roots: dict[str, Reach] = {}
    for rule in rules:
        exprs = [rule.when, rule.clear_when, rule.value, *rule.values.values()]
        for expr in exprs:
            for name, reach in (expr.reaches if expr is not None else {}).items():
                roots[name] = roots.get(name, NONE).widest(reach)
    return total_reach(roots, reaches_of)


def carried_reaches(ruleset: RuleSet, rules: Iterable[Rule]) -> dict[str, tuple[Reach, Reach]]:
    """For each `settled` call the rules read (by its text), the widest look-back above it
    (from any rule, through every metric and rule in between) and its own window."""
    exprs: dict[str, Expression] = dict(ruleset.metrics)
    exprs.update({rule.id: rule.when for rule in ruleset.rules})
    above: dict[str, Reach] = {}
    found: dict[str, tuple[Reach, Reach]] = {}

    def visit(expr: Expression, acc: Reach) -> None:
        for key, (inner, own) in expr.carried.items():
            reach = acc.then(inner)
            found[key] = (found[key][0].widest(reach) if key in found else reach, own)
        for name, inner in expr.reaches.items():
            sub = exprs.get(name)
            wider = acc.then(inner) if name not in above else above[name].widest(acc.then(inner))
            if sub is None or above.get(name) == wider:
                continue  # an input, or nothing wider than already walked
            above[name] = wider
            visit(sub, wider)

    for rule in rules:
        for expr in (rule.when, rule.clear_when, rule.value, *rule.values.values()):
            if expr is not None:
                visit(expr, NONE)
    return found


def carried_points(
    ruleset: RuleSet, rules: Iterable[Rule], since: pd.Timestamp
) -> dict[str, tuple[int, int]] | None:
    """For each `settled` call, (start, need) in int64 ns for an evaluation of the points after
    `since` over `window_data`: its input is exact from `start` on, and the value in force
    at `need` is the first it must give exactly. None when a call has no such bound (a
    look-back above it counted in observations, or without end)."""
    points: dict[str, tuple[int, int]] = {}
    for key, (above, own) in carried_reaches(ruleset, rules).items():
        if above.unbounded or above.obs:
            return None
        need = since - pd.Timedelta(days=above.days)
        start = need - pd.Timedelta(days=own.days + SETTLE_DAYS)
        points[key] = (start.as_unit("ns").value, need.as_unit("ns").value)
    return points


def longest_lags(ruleset: RuleSet) -> dict[str, str]:
    """Series id -> its publication lag as the rules declare it (the longest, if several)."""
    lags: dict[str, str] = {}
    for item in ruleset.inputs:
        lag = item.spec.lag
        if lag and (item.id not in lags or duration_days(lag) > duration_days(lags[item.id])):
            lags[item.id] = lag
    return lags


def window_data(
    ruleset: RuleSet, data: Mapping[str, pd.Series], since: pd.Timestamp, reach: Reach
) -> dict[str, pd.Series]:
    """Each series cut to what an evaluation of points after `since` can read."""
    if reach.unbounded:
        return dict(data)
    lags = {s: duration_days(lag) for s, lag in longest_lags(ruleset).items()}
    out: dict[str, pd.Series] = {}
    for series_id, values in data.items():
        index = values.index
        if (not isinstance(index, pd.DatetimeIndex) or index.tz is not None
                or not index.is_monotonic_increasing):
            out[series_id] = values  # the evaluator sorts it; no cut for what is not in order
            continue
        days = reach.days + lags.get(series_id, 0) + SPARE_DAYS
        cut = since - pd.Timedelta(days=days)
        first = int(index.searchsorted(cut)) - reach.obs - SPARE_ROWS
        out[series_id] = values if first <= 1 else _cut(values, first)
    return out


CUTS_KEPT = 100
_cuts: OrderedDict[tuple[int, int, int], tuple[pd.Series, pd.Series]] = OrderedDict()
_lock = threading.Lock()


def _cut(values: pd.Series, first: int) -> pd.Series:
    """The first row and the rows from position `first`: the same object for the same series
    and position (the next evaluation then finds its inputs already prepared)."""
    key = (id(values), len(values), first)
    with _lock:
        hit = _cuts.get(key)
        if hit is not None and hit[0] is values:
            _cuts.move_to_end(key)
            return hit[1]
    cut: pd.Series = values.iloc[np.r_[0, first:len(values)]]
    with _lock:
        _cuts[key] = (values, cut)
        while len(_cuts) > CUTS_KEPT:
            _cuts.popitem(last=False)
    return cut
