"""The bounded window a live evaluation needs: each input's rows from the rule set's longest
look-back before the first point not yet processed, plus its very first row (so "has this
series started" keeps its answer). Evaluated over that window with the carried rule states,
the rules find exactly what an evaluation over all history finds (property-tested)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from rules.model import duration_days
from rules.reach import NONE, Reach, total_reach
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
        out[series_id] = values if first <= 1 else pd.concat([values.iloc[:1], values.iloc[first:]])
    return out
