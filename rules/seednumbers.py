"""The seed's numbers, computed from the input series as known on a date (pure: pandas in).

How much the Fed added since QT ended (Treasuries, reserves), the pace of rate moves, the
Fed's share of net marketable Treasury issuance, gold's 12-month return against the 10-year
yield and CPI inflation; and, for a one-off milestone (a cut, a hike), the policy move behind
its last event. Amounts are in $ millions (H.4.1, MSPD), rates in %, changes in pp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from rules.functions import period_offset
from rules.model import RuleSpec

TARGET_UPPER, TARGET_OLD = "DFEDTARU", "DFEDTAR"  # the range's upper bound; the target to 2008
TREASURIES, RESERVES, MARKETABLE = "TREAST", "WRESBAL", "mspd_marketable"
GOLD, YIELD_10Y, CPI = "GOLD", "DGS10", "CPIAUCSL"
FOMC = "fomc_decision"  # the statements: -1 cut, 0 hold, +1 hike, dated the decision day
# Publication lags of series the rules may not declare (a declared `lag:` wins).
DEFAULT_LAGS = {MARKETABLE: "7d", GOLD: "1m", CPI: "45d"}
MOVE_BEFORE, MOVE_AFTER = 14, 1  # days a rule's event may trail (2-week change) or lead a move
TROUGH_WEEKS = 13  # QT ended at the low of the Fed's Treasuries in the quarter before the turn


def is_one_off(spec: RuleSpec) -> bool:
    """Whether a rule's firing is an event (a cut, a hike, a cycle's start), not a state that
    holds: rules.yaml says so with `announce_resolved: false` (nobody is told it "ended")."""
    return not spec.announce_resolved


def known(data: Mapping[str, pd.Series], series_id: str, as_of: date,
          lags: Mapping[str, str | None] | None = None) -> pd.Series:
    """The series' observations published by `as_of` (observation date + its lag), by date."""
    raw = data.get(series_id)
    if raw is None or raw.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
    values = pd.to_numeric(raw, errors="coerce").astype("float64").dropna().sort_index()
    values.index = pd.DatetimeIndex(values.index).normalize()
    lag = (lags or {}).get(series_id) or DEFAULT_LAGS.get(series_id)
    available = values.index + period_offset(lag) if lag else values.index
    return values[available <= pd.Timestamp(as_of)]


def _at(series: pd.Series, day: date) -> tuple[date, float] | None:
    """The newest observation on or before `day`."""
    found = series[series.index <= pd.Timestamp(day)]
    return (found.index[-1].date(), float(found.iloc[-1])) if len(found) else None


@dataclass(frozen=True)
class Move:
    """A change of the policy target: its date, size (pp) and the level after it (%)."""

    date: date
    change: float
    level: float


@dataclass(frozen=True)
class Pace:
    """The policy target's net change over `months` up to `end`, and the moves in between."""

    months: int
    change: float  # pp (shown in bp)
    cuts: int
    hikes: int
    level: float
    end: date


def policy_target(data: Mapping[str, pd.Series], as_of: date) -> pd.Series:
    """The fed funds target: the range's upper bound (DFEDTARU, from 2008-12-16), the single
    target (DFEDTAR) before it."""
    upper, old = known(data, TARGET_UPPER, as_of), known(data, TARGET_OLD, as_of)
    if not upper.empty:
        old = old[old.index < upper.index[0]]
    joined: pd.Series = pd.concat([old, upper]).sort_index()
    return joined


def moves(target: pd.Series) -> list[Move]:
    """Every change of the target, in date order."""
    steps = target.diff().to_numpy()
    days, levels = pd.DatetimeIndex(target.index), target.to_numpy(dtype="float64")
    return [Move(days[i].date(), round(float(steps[i]), 4), float(levels[i]))
            for i in range(1, len(levels)) if abs(steps[i]) > 1e-9]


def move_near(found: list[Move], day: date, statement: bool = False) -> Move | None:
    """The move behind an event on `day`: the latest within the two weeks before (a 2-week
    change fires after it), or the day after when an FOMC statement on `day` announced it
    (FRED dates the target at its effective day)."""
    after = day + timedelta(days=MOVE_AFTER if statement else 0)
    near = [m for m in found if day - timedelta(days=MOVE_BEFORE) <= m.date <= after]
    return near[-1] if near else None


def pace(target: pd.Series, as_of: date, months: int) -> Pace | None:
    """The target's change over the `months` to `as_of` (None without a level at the start)."""
    start = (pd.Timestamp(as_of) - pd.DateOffset(months=months)).date()
    first, last = _at(target, start), _at(target, as_of)
    if first is None or last is None:
        return None
    inside = [m for m in moves(target[target.index <= pd.Timestamp(as_of)])
              if start < m.date <= as_of]
    return Pace(months, round(last[1] - first[1], 4), sum(m.change < 0 for m in inside),
                sum(m.change > 0 for m in inside), last[1], last[0])


@dataclass(frozen=True)
class SinceQt:
    """What the Fed added from the low of its Treasuries when QT ended to the newest week."""

    ended: date  # when the rules saw QT end (qt_ends fired)
    base: date  # the week of the low
    treasuries: float  # $ mn added
    treasuries_to: date
    reserves: float | None  # $ mn added (None: no reserves data)
    reserves_to: date | None


def since_qt_end(data: Mapping[str, pd.Series], ended: date, as_of: date) -> SinceQt | None:
    """Treasuries and reserves added since QT ended on `ended` (None without the data)."""
    held = known(data, TREASURIES, as_of)
    window = held[(held.index <= pd.Timestamp(ended))
                  & (held.index >= pd.Timestamp(ended) - pd.Timedelta(weeks=TROUGH_WEEKS))]
    if window.empty:
        return None
    base = pd.DatetimeIndex(window.index)[int(window.to_numpy().argmin())]
    last_held = _at(held, as_of)
    assert last_held is not None
    reserves = known(data, RESERVES, as_of)
    start, last = _at(reserves, base.date()), _at(reserves, as_of)
    added = None if start is None or last is None else last[1] - start[1]
    return SinceQt(ended, base.date(), last_held[1] - float(window.min()), last_held[0],
                   added, last[0] if last else None)


@dataclass(frozen=True)
class IssuanceShare:
    """The Fed's Treasury purchases over the net marketable debt issued, month-end to month-end."""

    start: date
    end: date
    fed: float  # $ mn
    issued: float  # $ mn
    share: float | None  # % (None when nothing net was issued)


def issuance_share(data: Mapping[str, pd.Series], since: date, as_of: date,
                   lags: Mapping[str, str | None] | None = None) -> IssuanceShare | None:
    """The share from the month-end before `since` to the newest month-end known on `as_of`
    (None without marketable debt from the Treasury's MSPD, or less than a month of it)."""
    debt = known(data, MARKETABLE, as_of, lags)
    held = known(data, TREASURIES, as_of, lags)
    first, last = _at(debt, since), _at(debt, as_of)
    if first is None or last is None or last[0] <= first[0]:
        return None
    fed_first, fed_last = _at(held, first[0]), _at(held, last[0])
    if fed_first is None or fed_last is None:
        return None
    fed, issued = fed_last[1] - fed_first[1], last[1] - first[1]
    share = fed / issued * 100 if issued > 0 else None
    return IssuanceShare(first[0], last[0], fed, issued, share)


@dataclass(frozen=True)
class GoldVsBonds:
    """Gold's 12-month return beside what bonds paid and inflation, each as last published."""

    gold_return: float  # %
    gold_month: date
    gold_price: float  # $ per oz
    yield_10y: float | None  # %
    yield_date: date | None
    inflation: float | None  # % over 12 months
    cpi_month: date | None


def _yoy(series: pd.Series) -> tuple[date, float] | None:
    if series.empty:
        return None
    end = series.index[-1]
    before = series[series.index <= end - pd.DateOffset(years=1)]
    if before.empty or before.index[-1] < end - pd.DateOffset(years=1, days=7):
        return None
    return end.date(), (float(series.iloc[-1]) / float(before.iloc[-1]) - 1) * 100


def gold_vs_bonds(data: Mapping[str, pd.Series], as_of: date,
                  lags: Mapping[str, str | None] | None = None) -> GoldVsBonds | None:
    """Gold against the 10-year yield and CPI inflation on `as_of` (None without gold)."""
    gold = known(data, GOLD, as_of, lags)
    found = _yoy(gold)
    if found is None:
        return None
    bond = _at(known(data, YIELD_10Y, as_of, lags), as_of)
    cpi = _yoy(known(data, CPI, as_of, lags))
    return GoldVsBonds(found[1], found[0], float(gold.iloc[-1]),
                       bond[1] if bond else None, bond[0] if bond else None,
                       cpi[1] if cpi else None, cpi[0] if cpi else None)


@dataclass(frozen=True)
class SeedNumbers:
    """Every number the seed watches, on `as_of`; None where the data cannot give it."""

    as_of: date
    since_qt: SinceQt | None
    pace_6m: Pace | None
    pace_12m: Pace | None
    issuance: IssuanceShare | None
    issuance_missing: tuple[str, ...]  # series ids the share needs that the data lack
    gold: GoldVsBonds | None
    qt_over: tuple[date, date] | None = None  # (QT ended, that gave way): nothing to count
    issuance_since: date | None = None  # where the share's window starts


def seed_numbers(data: Mapping[str, pd.Series], as_of: date, qt_ended: date | None,
                 lags: Mapping[str, str | None] | None = None,
                 qt_over: tuple[date, date] | None = None) -> SeedNumbers:
    """The seed's numbers on `as_of`; `qt_ended` is when QT last ended (None: it has not, or
    that end gave way, `qt_over`: to QE or to QT again), and the issuance share runs from then
    (else over the last 12 months)."""
    target = policy_target(data, as_of)
    since = qt_ended or (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    missing = tuple(s for s in (MARKETABLE, TREASURIES) if data.get(s) is None)
    return SeedNumbers(
        as_of,
        since_qt_end(data, qt_ended, as_of) if qt_ended else None,
        pace(target, as_of, 6), pace(target, as_of, 12),
        None if missing else issuance_share(data, since, as_of, lags), missing,
        gold_vs_bonds(data, as_of, lags), None if qt_ended else qt_over, since,
    )


@dataclass(frozen=True)
class EventMove:
    """The policy move behind a one-off milestone's event, and the pace around it."""

    move: Move
    latest: bool  # no later move in the same direction by `as_of`
    pace: Pace | None  # over the 6 months to `as_of`


def event_move(data: Mapping[str, pd.Series], day: date, as_of: date) -> EventMove | None:
    """The move behind an event on `day` (None when the target did not move then: a QT
    start, or a statement FRED does not show yet)."""
    target = policy_target(data, as_of)
    found = moves(target)
    decisions = known(data, FOMC, as_of)
    stated = decisions[decisions.index == pd.Timestamp(day)]
    move = move_near(found, day, statement=bool((stated != 0).any()))
    if move is None:
        return None
    later = any(m.date > move.date and (m.change > 0) == (move.change > 0) for m in found)
    return EventMove(move, not later, pace(target, as_of, 6))
