"""Known-at: the instant each observation became public, and what was known at an instant.

An observation is known at its vintage's realtime start where the source gives one (ALFRED),
else at its date plus the series' `lag:` (the 8:30 am ET statistics release), else by the
release calendar: a daily series on the Fed business day's 4:30 pm ET release, a weekly one on
the H.4.1 (Wednesday levels on Thursday 4:30 pm ET, later after a holiday), any other at the
start of its date (ET). Instants are UTC nanoseconds, the form `rules` takes them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time

import holidays
import numpy as np
import pandas as pd

from bot.ingest.calendar import EASTERN, RELEASE_TIMES, ReleaseCalendar, is_fed_business_day
from rules import RuleSet
from rules.functions import period_offset
from rules.window import longest_lags

LAGGED_RELEASE = time(8, 30)  # most monthly statistics come out at 8:30 am Eastern
Known = dict[str, pd.Series]  # series id -> release instant (UTC ns) by observation date


def _at(days: pd.DatetimeIndex, at: time) -> np.ndarray:
    """Wall-clock `at` in New York on each day, as UTC nanoseconds."""
    local = (days.normalize() + pd.Timedelta(hours=at.hour, minutes=at.minute)).tz_localize(
        EASTERN, ambiguous=False, nonexistent="shift_forward")
    return np.asarray(local.tz_convert("UTC").as_unit("ns").asi8, dtype="int64")


def _kind(index: pd.DatetimeIndex) -> str | None:
    """'daily' or 'h41' from the median spacing; None for monthly and slower series."""
    if len(index) <= 2:
        return None
    step = float(np.median(np.diff(index.as_unit("ns").asi8))) / 86_400e9
    return "daily" if step <= 3 else "h41" if step <= 10 else None


_YEARS: dict[tuple[str, int], list[date]] = {}  # h41 and daily days depend on holidays only


def _fed_business_days(year: int) -> list[date]:
    """The Fed's business days of `year`: weekdays but the holidays the Fed closes on (the
    calendar's own rule decides each holiday; every other weekday is a business day)."""
    closed = {day for day in holidays.country_holidays("US", years=year, observed=True)
              if not is_fed_business_day(day)}
    weekdays = pd.bdate_range(date(year, 1, 1), date(year, 12, 31))
    return [day for day in weekdays.date if day not in closed]


def _release_days(calendar: ReleaseCalendar, kind: str, first: int, last: int) -> pd.DatetimeIndex:
    """The release days of `kind` in whole years [first, last], each year computed once."""
    days: list[date] = []
    for year in range(first, last + 1):
        if (kind, year) not in _YEARS:
            _YEARS[(kind, year)] = (
                _fed_business_days(year) if kind == "daily"
                else calendar.days(kind, date(year, 1, 1), date(year, 12, 31)))
        days += _YEARS[(kind, year)]
    return pd.DatetimeIndex(days).as_unit("ns")


def release_instants(index: pd.DatetimeIndex, lag: str | None,
                     calendar: ReleaseCalendar) -> np.ndarray:
    """When each observation dated `index` became public (UTC ns), by the rules above."""
    index = pd.DatetimeIndex(index).as_unit("ns")
    if not len(index):
        return np.array([], dtype="int64")
    if lag:
        return _at(pd.DatetimeIndex(index + period_offset(lag)), LAGGED_RELEASE)
    kind = _kind(index)
    if kind is None:
        return _at(index, time(0, 0))
    days = _release_days(calendar, kind, index[0].year, (index[-1] + pd.Timedelta(days=10)).year)
    pos = days.searchsorted(index.normalize())
    inside = pos < len(days)
    picked = days.asi8[np.minimum(pos, max(len(days) - 1, 0))] if len(days) else index.asi8
    on = pd.DatetimeIndex(np.where(inside, picked, index.asi8).view("M8[ns]"))
    return _at(on, RELEASE_TIMES[kind])


def known_at(ruleset: RuleSet, data: Mapping[str, pd.Series],
             calendar: ReleaseCalendar) -> Known:
    """The release instant of every observation in `data`, by series id."""
    lags = longest_lags(ruleset)
    out: Known = {}
    for series_id, values in data.items():
        index = pd.DatetimeIndex(values.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        index = index[~index.duplicated(keep="last")].sort_values()
        out[series_id] = pd.Series(release_instants(index, lags.get(series_id), calendar),
                                   index=index, dtype="int64")
    return out


def known_by(data: Mapping[str, pd.Series], known: Mapping[str, pd.Series],
             instant: pd.Timestamp) -> dict[str, pd.Series]:
    """What was known at `instant`: each series cut to the observations released by then."""
    stamp = instant.tz_convert("UTC") if instant.tz is not None else instant.tz_localize("UTC")
    cut = stamp.as_unit("ns").value
    out: dict[str, pd.Series] = {}
    for series_id, values in data.items():
        released = known.get(series_id)
        if released is None:
            out[series_id] = values
            continue
        public = released.index[released.to_numpy() <= cut]
        out[series_id] = values[values.index.isin(public)]
    return out
