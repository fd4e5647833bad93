"""Evaluation: inputs aligned by publication date, rules computed over whole histories at once,
and the per-rule state machine (inactive -> pending -> firing -> resolved)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from rules.column import DAY_NS, Col, Val, asof, minus_period, to_value, union
from rules.functions import Value
from rules.model import SeriesSpec, duration_days
from rules.operators import truth
from rules.ruleset import Rule, RuleSet

SLACK_DAYS = {1: 9, 7: 9, 31: 20, 92: 30}
_shared_lock = threading.Lock()  # the evaluators and inputs kept for the next caller
NAT = np.iinfo("int64").min  # NaT as int64


def _step_of(median: np.ndarray) -> np.ndarray:
    steps = np.full(len(median), 366, dtype="int64")
    for step in (92, 31, 7, 1):
        steps = np.where(median <= step * 1.5, step, steps)
    return steps


def step_days_each(index: pd.DatetimeIndex) -> np.ndarray:
    """For each observation, the frequency (days) as known then: the median of up to 59
    preceding gaps (31 before the third point), so a date's answer never depends on later data."""
    n = len(index)
    steps = np.full(n, 31, dtype="int64")
    if n < 3:
        return steps
    gaps = pd.Series(np.diff(index.as_unit("ns").asi8) / 86_400e9)
    median = gaps.rolling(59, min_periods=1).median().to_numpy()
    steps[2:] = _step_of(median[1:])
    return steps


def freshness_each(spec: SeriesSpec, index: pd.DatetimeIndex) -> np.ndarray:
    """For each observation, how many days after its date it stays fresh."""
    if spec.fresh is not None:
        return np.full(len(index), duration_days(spec.fresh), dtype="int64")
    steps = step_days_each(index)
    lag = duration_days(spec.lag) if spec.lag else 0
    slack = np.array([SLACK_DAYS.get(int(step), 60) for step in (1, 7, 31, 92, 366)])
    kinds = np.searchsorted(np.array([1, 7, 31, 92, 366]), steps)
    return np.asarray(steps + lag + slack[kinds], dtype="int64")


def day_starts(dates: pd.DatetimeIndex, zone: str) -> np.ndarray:
    """The instant (UTC ns) each date begins in `zone`: when a date-stamped fact is known."""
    if not len(dates):
        return np.array([], dtype="int64")
    days = np.asarray(pd.DatetimeIndex(dates).as_unit("ns").asi8, dtype="int64") // DAY_NS
    first, table = _midnights(zone, int(days.min()), int(days.max()))
    found: np.ndarray = table[days - first]
    return found


_MIDNIGHTS: dict[str, tuple[int, np.ndarray]] = {}  # zone -> (first day, its midnights in UTC)
_MIDNIGHT_SPAN = 36_600  # days worked out at once around those asked for (a century)


def _midnights(zone: str, low: int, high: int) -> tuple[int, np.ndarray]:
    """Midnight in `zone` of every day from `low` to `high` at least (days since 1970), UTC
    ns: one time-zone conversion for a century of days, not one per evaluation."""
    found = _MIDNIGHTS.get(zone)
    if found is not None and found[0] <= low and high < found[0] + len(found[1]):
        return found
    if found is not None:
        low, high = min(low, found[0]), max(high, found[0] + len(found[1]) - 1)
    low, high = min(low, high - _MIDNIGHT_SPAN // 2), max(high, low + _MIDNIGHT_SPAN // 2)
    low, high = max(low, -106_000), min(high, 106_000)  # inside pandas' ns range
    days = pd.DatetimeIndex((np.arange(low, high + 1, dtype="int64") * DAY_NS).view("M8[ns]"))
    local = days.tz_localize(zone, ambiguous=False, nonexistent="shift_forward")
    table = np.asarray(local.tz_convert("UTC").as_unit("ns").asi8, dtype="int64")
    _MIDNIGHTS[zone] = (low, table)
    return low, table


@dataclass(frozen=True)
class Prepared:
    """One input as the rules see it: indexed by the date it became available, with a NaN
    row wherever it goes stale (so only what reads it becomes unknown), and the instant each
    real observation became known (its release, UTC ns)."""

    name: str
    values: pd.Series  # index: availability date; NaN rows where the input went stale
    observed: pd.DatetimeIndex  # observation dates of the real rows
    fresh_days: int  # the newest observation's freshness window
    series_id: str
    available: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))
    fresh_each: np.ndarray = field(default_factory=lambda: np.array([], dtype="int64"))
    known: np.ndarray = field(default_factory=lambda: np.array([], dtype="int64"))
    col: Col = field(default_factory=lambda: Col(np.array([], dtype="int64"), np.array([])))

    def position(self, clock: pd.DatetimeIndex) -> np.ndarray:
        """For each clock date, the newest real observation known then (-1: none yet)."""
        return np.asarray(self.available.searchsorted(clock, side="right") - 1)

    def known_at(self, clock: pd.DatetimeIndex) -> np.ndarray:
        """For each clock date, when its newest observation was released (UTC ns; the
        smallest int64 before the first)."""
        pos = self.position(clock)
        if not len(self.known):
            return np.full(len(clock), np.iinfo("int64").min, dtype="int64")
        picked = self.known[np.clip(pos, 0, len(self.known) - 1)]
        return np.where(pos >= 0, picked, np.iinfo("int64").min)

    def reason_at(self, at: pd.Timestamp) -> str | None:
        """Why this input says nothing at `at` (no data, not started, stale), or None: the one
        place staleness is decided for a date, so the words always match the decision."""
        pos = int(self.position(pd.DatetimeIndex([at]))[0]) if len(self.observed) else -1
        if pos < 0:  # nothing known yet; when it will start is not known at `at` either
            return f"no data for {self.name}"
        last = self.observed[pos]
        expiry = stale_from(self.observed, self.available, self.fresh_each)[pos]
        if at.as_unit("ns").value >= expiry:
            return (
                f"{self.series_id} stale: last {last.date().isoformat()}, "
                f"window {int(self.fresh_each[pos])}d"
            )
        return None


def stale_from(
    observed: pd.DatetimeIndex, available: pd.DatetimeIndex, fresh: np.ndarray
) -> np.ndarray:
    """For each observation, the first instant (ns) it is stale: the day after its freshness
    window ends, never before the day after it became available. The one rule: the NaN rows
    the rules see and the reason a person reads both come from here."""
    day = np.int64(86_400_000_000_000)
    return np.asarray(np.maximum(observed.as_unit("ns").asi8 + (fresh + 1) * day,
                                 available.as_unit("ns").asi8 + day), dtype="int64")


def _empty(name: str, spec: SeriesSpec) -> Prepared:
    empty = pd.Series([], index=pd.DatetimeIndex([], dtype="datetime64[ns]"), dtype="float64")
    return Prepared(name, empty, pd.DatetimeIndex([], dtype="datetime64[ns]"), 0, spec.id)


def _known_of(
    observed: pd.DatetimeIndex, available: pd.DatetimeIndex, known: pd.Series | None, zone: str
) -> np.ndarray:
    """Each observation's release instant: as given, else the start of its availability day."""
    if known is None or known.empty:
        return day_starts(available, zone)
    index = known.index
    if isinstance(index, pd.DatetimeIndex) and index.is_monotonic_increasing and index.is_unique:
        dates = np.asarray(index.as_unit("ns").asi8)
        wanted = np.asarray(observed.as_unit("ns").asi8)
        pos = np.minimum(np.searchsorted(dates, wanted), len(dates) - 1)
        # as floats, as a reindex gives them
        stamps = np.where(dates[pos] == wanted, known.to_numpy(dtype="float64")[pos], np.nan)
    else:
        given = known[~index.duplicated(keep="last")].reindex(observed)
        stamps = given.to_numpy(dtype="float64")
    missing = np.isnan(stamps)
    out: np.ndarray = np.nan_to_num(stamps).astype("int64")
    if missing.any():  # the start of the day: a time-zone conversion, only where needed
        out[missing] = day_starts(available[missing], zone)
    return out


def _numbers(name: str, spec: SeriesSpec, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The known values of a raw series by day (int64 ns, ascending, one per day: the later
    row for a day wins), from callers' floats or anything pandas reads as numbers."""
    index = raw.index
    if raw.dtype == "float64" and isinstance(index, pd.DatetimeIndex) and index.tz is None:
        vals = raw.to_numpy(dtype="float64")
        keep = ~np.isnan(vals)
        dates = np.asarray(index.as_unit("ns").asi8, dtype="int64")[keep]
        dates = dates - dates % DAY_NS
        if not len(dates) or (dates[0] != NAT and bool((np.diff(dates) > 0).all())):
            return dates, vals[keep]
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
    return (np.asarray(pd.DatetimeIndex(values.index).as_unit("ns").asi8, dtype="int64"),
            values.to_numpy(dtype="float64"))


@dataclass(frozen=True)
class _Rows:
    """An input's rows before any cut: observation dates, availability dates, release
    instants and freshness windows of the real rows; and the dates (stale ones added) and
    values the rules see."""

    dates: np.ndarray
    shifted: np.ndarray
    released: np.ndarray
    fresh: np.ndarray
    stamps: np.ndarray
    values: np.ndarray


def _rows(name: str, spec: SeriesSpec, raw: pd.Series, known: pd.Series | None,
          zone: str) -> _Rows | None:
    dates, numbers = _numbers(name, spec, raw)
    if not len(dates):
        return None
    shifted = minus_period(dates, spec.lag, sign=1) if spec.lag else dates
    observed = pd.DatetimeIndex(dates.view("M8[ns]"))
    available = pd.DatetimeIndex(shifted.view("M8[ns]"))
    released = _known_of(observed, available, known, zone)
    fresh = freshness_each(spec, observed)  # each row's from the rows before it
    expiry = stale_from(observed, available, fresh)
    following = np.append(shifted[1:], np.iinfo("int64").max)
    gap = expiry < following
    stamps = np.concatenate([shifted, expiry[gap]])
    values = np.concatenate([numbers, np.full(int(gap.sum()), np.nan)])
    order = np.argsort(stamps, kind="stable")
    return _Rows(dates, shifted, released, fresh, stamps[order], values[order])


ROWS_KEPT = 100  # inputs' rows kept for the next evaluation of the same data (any date)
_rows_kept: OrderedDict[tuple[object, ...], tuple[object, object, object, _Rows | None]] = (
    OrderedDict())


def _rows_of(name: str, spec: SeriesSpec, raw: pd.Series, known: pd.Series | None,
             zone: str) -> _Rows | None:
    """`_rows`, kept for the same Series objects: the live path reads the same stored series
    (and their release instants) day after day, at a later date each time."""
    key = (id(raw), len(raw), id(known), id(spec), name, zone)
    with _shared_lock:
        hit = _rows_kept.get(key)
        if hit is not None and hit[0] is raw and hit[1] is known and hit[2] is spec:
            _rows_kept.move_to_end(key)
            return hit[3]
    rows = _rows(name, spec, raw, known, zone)
    with _shared_lock:
        _rows_kept[key] = (raw, known, spec, rows)  # kept alive: their ids stay theirs
        while len(_rows_kept) > ROWS_KEPT:
            _rows_kept.popitem(last=False)
    return rows


def prepare_input(
    name: str, spec: SeriesSpec, raw: pd.Series | None, as_of: pd.Timestamp | None,
    known: pd.Series | None = None, zone: str = "UTC",
) -> Prepared:
    """Shift a raw series by its publication lag and cut it at `as_of` (what was known then);
    a NaN row at each date it went stale (mid-history gaps too, not only the end). `known`
    (UTC ns by observation date) says when each observation was released."""
    if raw is None or raw.empty:
        return _empty(name, spec)
    rows = _rows_of(name, spec, raw, known, zone)
    if rows is None:
        return _empty(name, spec)
    dates, shifted, released, fresh = rows.dates, rows.shifted, rows.released, rows.fresh
    stamps, values = rows.stamps, rows.values
    if as_of is not None:  # a row's freshness and stale row do not depend on later rows
        cut = pd.Timestamp(as_of).value
        keep, inside = shifted <= cut, stamps <= cut
        dates, shifted, released, fresh = dates[keep], shifted[keep], released[keep], fresh[keep]
        stamps, values = stamps[inside], values[inside]
    if not len(dates):
        return _empty(name, spec)
    series = pd.Series(values, index=pd.DatetimeIndex(stamps.view("M8[ns]")), name=name)
    return Prepared(name, series, pd.DatetimeIndex(dates.view("M8[ns]")), int(fresh[-1]),
                    spec.id, pd.DatetimeIndex(shifted.view("M8[ns]")), fresh, released,
                    Col(stamps, values))


class Inputs(Mapping[str, Prepared]):
    """Every input of a rule set as the rules see it (`prepare_input`), each prepared when
    first asked for: a rule reads a few of them."""

    def __init__(self, ruleset: RuleSet, data: Mapping[str, pd.Series],
                 as_of: pd.Timestamp | None, known: Mapping[str, pd.Series], zone: str) -> None:
        self.ruleset, self.data, self.as_of, self.known, self.zone = (
            ruleset, data, as_of, known, zone)
        self._prepared: dict[str, Prepared] = {}

    def __getitem__(self, name: str) -> Prepared:
        found = self._prepared.get(name)
        if found is None:
            spec = self.ruleset.series[name]  # KeyError: not an input
            found = prepare_input(name, spec, self.data.get(spec.id, self.data.get(name)),
                                  self.as_of, self.known.get(spec.id), self.zone)
            self._prepared[name] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.ruleset.series)

    def __len__(self) -> int:
        return len(self.ruleset.series)

    def __contains__(self, name: object) -> bool:
        return name in self.ruleset.series


class Evaluator:
    """Looks up names over whole histories, computing each metric or rule condition once."""

    def __init__(
        self, ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: pd.Timestamp | None = None,
        *, known: Mapping[str, pd.Series] | None = None, zone: str = "UTC",
    ) -> None:
        self.ruleset = ruleset
        self.as_of = as_of
        self.zone = zone
        self.inputs = Inputs(ruleset, data, as_of, known or {}, zone)
        self._memo: dict[str, Val] = {}
        self._shown: dict[str, Value] = {}
        self.calls: dict[str, Val] = {}  # each distinct function call's value (rules.expr)
        self._clock: np.ndarray | None = None
        self.traces: dict[str, tuple[Rule, Trace]] = {}  # by rule id (`trace_rule`)
        self.derived: dict[str, object] = {}  # what is worked out from all of it, once
        # One thread computes at a time (a shared evaluator: others wait, then find it done).
        self.lock = threading.RLock()
        # In a windowed evaluation, where each `settled` call must be exact (rules.window).
        self.carried: dict[str, tuple[int, int]] = {}

    def column(self, name: str) -> Val:
        """The value of a series, metric or rule condition over its history, as arrays."""
        with self.lock:
            if name not in self._memo:
                if name in self.inputs:
                    self._memo[name] = self.inputs[name].col
                else:
                    expr = self.ruleset.expression_of(name)
                    if expr is None:
                        raise KeyError(name)
                    self._memo[name] = expr.compute(self)
            return self._memo[name]

    def lookup(self, name: str) -> Value:
        """The value of a series, metric or rule condition over its history."""
        if name not in self._shown:
            found = self.inputs[name].values if name in self.inputs else None
            self._shown[name] = to_value(self.column(name)) if found is None else found
        return self._shown[name]

    def clock_dates(self) -> np.ndarray:
        """Every date (int64 ns) on which any input changes (a new value, or going stale)."""
        if self._clock is None:
            dates = np.array([], dtype="int64")
            for item in self.inputs.values():
                dates = union(dates, item.col.dates)
            self._clock = dates
        return self._clock

    def clock_index(self) -> pd.DatetimeIndex:
        """Every date on which any input changes (a new value, or going stale)."""
        return pd.DatetimeIndex(self.clock_dates().view("M8[ns]"))


    def missing(self, names: frozenset[str]) -> list[str]:
        """The inputs among `names` with no data at all."""
        return sorted(n for n in names if self.inputs[n].values.empty)

    def stale_reasons(self, names: frozenset[str], at: pd.Timestamp) -> list[str]:
        """Every reason an input among `names` says nothing at `at` (no data, not yet, stale);
        a source that has ended (`until:` before `at`) last, after the inputs awaited."""
        day = at.date()
        series = self.ruleset.series

        def ended(name: str) -> bool:
            until = series[name].until
            return until is not None and day > until

        found = (self.inputs[name].reason_at(at)
                 for name in sorted(names, key=lambda n: (ended(n), n)))
        return [reason for reason in found if reason]

    def stale_reason(self, names: frozenset[str], at: pd.Timestamp) -> str | None:
        """Why the inputs are not usable at `at` (the first input with no data, or too old)."""
        reasons = self.stale_reasons(names, at)
        return reasons[0] if reasons else None

    def announced(self, names: frozenset[str], clock: pd.DatetimeIndex) -> np.ndarray:
        """For each clock date, the instant (UTC ns) everything `names` say about it was
        public: its own day's start, or the newest input's release if later, never earlier
        than the point before (a state machine announces in order)."""
        out = day_starts(clock, self.zone)
        for name in names:
            out = np.maximum(out, self.inputs[name].known_at(clock))
        return np.maximum.accumulate(out) if len(out) else out

    def observed_dates(self, names: list[str], clock: pd.DatetimeIndex) -> np.ndarray:
        """For each clock date, the newest observation date (ns) among `names` known by then."""
        best = np.full(len(clock), -1, dtype="int64")
        for name in names:
            item = self.inputs[name]
            if not len(item.observed):
                continue
            observed = item.observed.as_unit("ns").asi8
            pos = item.position(clock)
            found = np.where(pos >= 0, observed[np.clip(pos, 0, len(observed) - 1)], -1)
            best = np.maximum(best, found)
        return best

    def clock(self, rule: Rule) -> pd.DatetimeIndex:
        """The dates on which the rule is evaluated: its `on` series, or all its inputs' dates."""
        names = [rule.spec.on] if rule.spec.on else sorted(rule.inputs)
        dates = np.array([], dtype="int64")
        for name in names:
            dates = union(dates, self.inputs[name].col.dates)
        return pd.DatetimeIndex(dates.view("M8[ns]"))


def on_clock(value: Value | Col, clock: pd.DatetimeIndex) -> np.ndarray:
    """A value carried forward onto the clock dates (as-of), as a float array."""
    if isinstance(value, Col):
        return np.array(asof(value, clock.as_unit("ns").asi8), dtype="float64", copy=True)
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
    announce: np.ndarray | None = None  # UTC ns: when each point was public (ordered)


def trace_rule(ev: Evaluator, rule: Rule) -> Trace:
    """Compute a rule over its whole history in one vectorized pass (once per evaluator)."""
    with ev.lock:
        found = ev.traces.get(rule.id)
        if found is None or found[0] is not rule:
            found = (rule, _trace(ev, rule))
            ev.traces[rule.id] = found
        return found[1]


def _trace(ev: Evaluator, rule: Rule) -> Trace:
    clock = ev.clock(rule)
    # Staleness is per input (a NaN row where it goes stale) and the logic is three-valued,
    # so only a condition that really depends on a stale input is unknown here.
    condition = on_clock(truth(rule.when.compute(ev)), clock)
    if rule.clear_when is not None:
        clearing = on_clock(truth(rule.clear_when.compute(ev)), clock)
        clearing[np.isnan(condition)] = np.nan
    else:
        clearing = 1.0 - condition
    threshold = rule.spec.threshold
    if rule.value is not None:
        value = on_clock(rule.value.compute(ev), clock)
    elif rule.when.comparison is not None:
        value = on_clock(rule.when.comparison[0](ev), clock)
        threshold = rule.when.comparison[1] if threshold is None else threshold
    else:
        value = np.full(len(clock), np.nan)
    extras = {name: on_clock(expr.compute(ev), clock) for name, expr in rule.values.items()}
    observed = ev.observed_dates([rule.spec.on] if rule.spec.on else sorted(rule.inputs), clock)
    announce = ev.announced(read_by(rule), clock)
    return Trace(clock, condition, clearing, value, threshold, extras, observed, announce)


def read_by(rule: Rule) -> frozenset[str]:
    """Every input a rule's points depend on: what it reads, and its `on` series."""
    return rule.inputs | {rule.spec.on} if rule.spec.on else rule.inputs


def to_date(stamp: pd.Timestamp) -> date:
    """A pandas timestamp as a plain date."""
    return date(stamp.year, stamp.month, stamp.day)


SHARED_EVALUATORS = 2  # each holds every metric over all history: tens of MB
_shared: OrderedDict[tuple[object, ...], tuple[Evaluator, object]] = OrderedDict()


def shared_evaluator(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: pd.Timestamp | None = None
) -> Evaluator:
    """The evaluator of (rule set, data, date), kept for the next caller: /regime asks for the
    regime, every rule's state, the last events and a chart of one date, and each would
    otherwise compute the same metrics again. The same data means the same mapping holding
    the same Series objects (a replaced or extended Series is new data)."""
    key = (id(ruleset), id(data), as_of,
           tuple((name, id(values), len(values)) for name, values in data.items()))
    with _shared_lock:
        if key in _shared:
            _shared.move_to_end(key)
            return _shared[key][0]
    ev = Evaluator(ruleset, data, as_of)
    with _shared_lock:
        _shared[key] = (ev, data)  # the data kept alive, so that no other mapping takes its id
        while len(_shared) > SHARED_EVALUATORS:
            _shared.popitem(last=False)
    return ev


__all__ = ["Evaluator", "Trace", "on_clock", "shared_evaluator", "trace_rule"]
