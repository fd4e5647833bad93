"""Evaluation: inputs aligned by publication date, rules computed over whole histories at once,
and the per-rule state machine (inactive -> pending -> firing -> resolved)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from rules.functions import Value, as_series, period_offset, union_index
from rules.model import SeriesSpec, duration_days
from rules.ruleset import Rule, RuleSet

SLACK_DAYS = {1: 9, 7: 9, 31: 20, 92: 30}


def infer_step_days(index: pd.DatetimeIndex) -> int:
    """The series' frequency in days: 1, 7, 31 or 92 (from the median spacing)."""
    if len(index) < 3:
        return 31
    median = float(np.median(np.diff(index.asi8[-60:])) / 86_400e9) if len(index) else 31
    for step in (1, 7, 31, 92):
        if median <= step * 1.5:
            return step
    return 366


def freshness_days(spec: SeriesSpec, index: pd.DatetimeIndex) -> int:
    """How old (in days after its observation date) the newest value may be before it is stale."""
    if spec.fresh is not None:
        return duration_days(spec.fresh)
    step = infer_step_days(index)
    lag = duration_days(spec.lag) if spec.lag else 0
    return step + lag + SLACK_DAYS.get(step, 60)


@dataclass(frozen=True)
class Prepared:
    """One input as the rules see it: indexed by the date it became known."""

    name: str
    values: pd.Series  # index: availability date
    observed: pd.DatetimeIndex  # the matching observation dates
    fresh_days: int
    series_id: str


def prepare_input(
    name: str, spec: SeriesSpec, raw: pd.Series | None, as_of: pd.Timestamp | None
) -> Prepared:
    """Shift a raw series by its publication lag and cut it at `as_of` (what was known then)."""
    if raw is None or raw.empty:
        empty = pd.Series([], index=pd.DatetimeIndex([]), dtype="float64")
        return Prepared(name, empty, pd.DatetimeIndex([]), 0, spec.id)
    try:
        values = pd.to_numeric(raw, errors="raise").astype("float64").dropna()
        index = pd.DatetimeIndex(values.index)
    except (ValueError, TypeError) as err:
        raise ValueError(f"input series {name} ({spec.id}) is not numbers by date: {err}") from None
    if index.tz is not None:
        index = index.tz_localize(None)
    values.index = index.normalize()
    # Tolerate callers' unsorted or repeated dates: the later row for a date wins.
    values = values[~values.index.duplicated(keep="last")].sort_index()
    observed = pd.DatetimeIndex(values.index).as_unit("ns")
    available = observed + period_offset(spec.lag) if spec.lag else observed
    shifted = pd.Series(values.to_numpy(), index=available, name=name)
    fresh = freshness_days(spec, observed)
    if as_of is not None:
        keep = available <= as_of
        shifted, observed = shifted[keep], observed[keep]
    if len(observed):
        # A NaN after the freshness window ends: carried forward, a stale value reads as unknown.
        expiry = max(
            observed[-1] + pd.Timedelta(days=fresh + 1), shifted.index[-1] + pd.Timedelta(days=1)
        )
        if as_of is None or expiry <= as_of:
            marker = pd.Series([np.nan], index=pd.DatetimeIndex([expiry]), name=name)
            shifted = pd.concat([shifted, marker])
    return Prepared(name, shifted, observed, fresh, spec.id)


class Evaluator:
    """Looks up names over whole histories, computing each metric or rule condition once."""

    def __init__(
        self, ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: pd.Timestamp | None = None
    ) -> None:
        self.ruleset = ruleset
        self.as_of = as_of
        self.inputs = {
            name: prepare_input(name, spec, data.get(spec.id, data.get(name)), as_of)
            for name, spec in ruleset.series.items()
        }
        self._memo: dict[str, Value] = {}

    def lookup(self, name: str) -> Value:
        """The value of a series, metric or rule condition over its history."""
        if name not in self._memo:
            if name in self.inputs:
                self._memo[name] = self.inputs[name].values
            else:
                expr = self.ruleset.expression_of(name)
                if expr is None:
                    raise KeyError(name)
                self._memo[name] = expr.run(self)
        return self._memo[name]

    def missing(self, names: frozenset[str]) -> list[str]:
        """The inputs among `names` with no data at all."""
        return sorted(n for n in names if self.inputs[n].values.empty)

    def stale_reason(self, names: frozenset[str], at: pd.Timestamp) -> str | None:
        """Why the inputs are not usable at `at` (no data, or too old), or None."""
        for name in sorted(names):
            item = self.inputs[name]
            if item.values.empty:
                return f"no data for {name}"
            last = item.observed[-1]
            if (at - last).days > item.fresh_days:
                return (
                    f"{item.series_id} stale: last {last.date().isoformat()}, "
                    f"window {item.fresh_days}d"
                )
        return None

    def fresh_mask(self, names: frozenset[str], clock: pd.DatetimeIndex) -> np.ndarray:
        """False where an input that has started is older than its freshness window.

        An input that has not started yet is left to the expression (a `coalesce` fallback,
        or unknown), so a series that ended or stopped updating makes the rule unknown.
        """
        ok = np.ones(len(clock), dtype=bool)
        stamps = clock.as_unit("ns").asi8
        for name in names:
            item = self.inputs[name]
            if not len(item.observed):
                continue
            pos = item.values.index.searchsorted(clock, side="right") - 1
            observed = item.observed.as_unit("ns").asi8
            last = observed[np.clip(pos, 0, len(observed) - 1)]
            age_days = (stamps - last) / 86_400e9
            ok &= (pos < 0) | (age_days <= item.fresh_days)
        return ok

    def observed_dates(self, names: list[str], clock: pd.DatetimeIndex) -> np.ndarray:
        """For each clock date, the newest observation date (ns) among `names` known by then."""
        best = np.full(len(clock), -1, dtype="int64")
        for name in names:
            item = self.inputs[name]
            if not len(item.observed):
                continue
            observed = item.observed.as_unit("ns").asi8
            pos = item.values.index.searchsorted(clock, side="right") - 1
            found = np.where(pos >= 0, observed[np.clip(pos, 0, len(observed) - 1)], -1)
            best = np.maximum(best, found)
        return best

    def clock(self, rule: Rule) -> pd.DatetimeIndex:
        """The dates on which the rule is evaluated: its `on` series, or all its inputs' dates."""
        names = [rule.spec.on] if rule.spec.on else sorted(rule.inputs)
        index = pd.DatetimeIndex([], dtype="datetime64[ns]")
        for name in names:
            index = union_index(index, self.inputs[name].values.index)
        return index


def on_clock(value: Value, clock: pd.DatetimeIndex) -> np.ndarray:
    """A value carried forward onto the clock dates (as-of), as a float array."""
    if not isinstance(value, pd.Series):
        return np.full(len(clock), float(value))
    if value.empty:
        return np.full(len(clock), np.nan)
    series = value[~value.index.duplicated(keep="last")]
    return np.array(series.reindex(clock, method="ffill").to_numpy(dtype="float64"), copy=True)


@dataclass(frozen=True)
class Trace:
    """A rule computed over its whole clock: condition, resolve condition, values."""

    clock: pd.DatetimeIndex
    condition: np.ndarray  # 1 true, 0 false, NaN unknown/skipped
    clearing: np.ndarray  # 1 where a firing rule may resolve
    value: np.ndarray
    threshold: float | None
    extras: dict[str, np.ndarray]
    observed: np.ndarray | None = None  # ns stamps: newest observation date behind each point


def trace_rule(ev: Evaluator, rule: Rule) -> Trace:
    """Compute a rule over its whole history in one vectorized pass."""
    clock = ev.clock(rule)
    condition = on_clock(ev_truth(rule.when.run(ev)), clock)
    condition[~ev.fresh_mask(rule.inputs, clock)] = np.nan
    if rule.clear_when is not None:
        clearing = on_clock(ev_truth(rule.clear_when.run(ev)), clock)
        clearing[np.isnan(condition)] = np.nan
    else:
        clearing = 1.0 - condition
    threshold = rule.spec.threshold
    if rule.value is not None:
        value = on_clock(rule.value.run(ev), clock)
    elif rule.when.comparison is not None:
        value = on_clock(rule.when.comparison[0](ev), clock)
        threshold = rule.when.comparison[1] if threshold is None else threshold
    else:
        value = np.full(len(clock), np.nan)
    extras = {name: on_clock(expr.run(ev), clock) for name, expr in rule.values.items()}
    observed = ev.observed_dates([rule.spec.on] if rule.spec.on else sorted(rule.inputs), clock)
    return Trace(clock, condition, clearing, value, threshold, extras, observed)


def ev_truth(value: Value) -> Value:
    """1.0/0.0/NaN truth of a value."""
    if isinstance(value, pd.Series):
        return (value != 0).astype("float64").where(value.notna())
    return float("nan") if np.isnan(value) else float(value != 0)


def to_date(stamp: pd.Timestamp) -> date:
    """A pandas timestamp as a plain date."""
    return date(stamp.year, stamp.month, stamp.day)


__all__ = ["Evaluator", "Trace", "as_series", "on_clock", "trace_rule"]
