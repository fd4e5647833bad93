"""The parts `cyclewatch replay` puts around the service's pipeline: a simulated clock, a
source that shows only what was published by then, a store that keeps what it has read,
and a notifier wrapper that marks every message as a replay."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from bot.ingest.calendar import RELEASE_TIMES, ReleaseCalendar, eastern
from bot.notifiers.base import Message, Notifier, Sent
from bot.store import Store, Vintage
from rules import RuleSet
from rules.functions import period_offset
from rules.model import duration_days
from sources.base import Fetched, Source, SourceError

LAGGED_RELEASE = time(8, 30)  # most monthly statistics come out at 8:30 am Eastern


class SimClock:
    """The replay's clock: it moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        """The simulated now."""
        return self.now


def series_lags(ruleset: RuleSet) -> dict[str, str]:
    """Series id -> its publication lag as the rules declare it (the longest, if several)."""
    lags: dict[str, str] = {}
    for item in ruleset.inputs:
        lag = item.spec.lag
        if lag and (item.id not in lags or duration_days(lag) > duration_days(lags[item.id])):
            lags[item.id] = lag
    return lags


def published_at(index: pd.DatetimeIndex, lag: str | None,
                 calendar: ReleaseCalendar) -> list[datetime]:
    """When each observation became public (UTC): its date plus the declared lag; else by
    the release calendar, daily series on the day's release, weekly ones on the H.4.1 day
    (Wednesday levels come out on Thursday); other series on their observation date."""
    days = [ts.date() for ts in index]
    if lag:
        shifted = pd.DatetimeIndex(index) + period_offset(lag)
        return [eastern(ts.date(), LAGGED_RELEASE) for ts in shifted]
    nanos = np.asarray(pd.DatetimeIndex(index).as_unit("ns").asi8, dtype="int64")
    step = float(np.median(np.diff(nanos))) / 86_400e9 if len(index) > 2 else 31.0
    if step <= 3:
        kind = "daily"
    elif step <= 10:
        kind = "h41"
    else:
        return [eastern(day, time(0, 0)) for day in days]
    return [_next_release(calendar, kind, day) for day in days]


def _next_release(calendar: ReleaseCalendar, kind: str, day: date) -> datetime:
    found = calendar.days(kind, day, day + timedelta(days=10))
    return eastern(found[0] if found else day, RELEASE_TIMES[kind])


class RevealingSource:
    """Wraps a source so that a fetch returns only the observations published by the
    simulated now; each series is read once from the wrapped source."""

    def __init__(self, inner: Source, clock: SimClock, lags: Mapping[str, str],
                 calendar: ReleaseCalendar) -> None:
        self.inner = inner
        self.name = inner.name
        self.clock = clock
        self.lags = lags
        self.calendar = calendar
        self._read: dict[str, tuple[pd.Series, np.ndarray] | SourceError] = {}

    def _full(self, series_id: str) -> tuple[pd.Series, np.ndarray]:
        if series_id not in self._read:
            try:
                values = self.inner.fetch(series_id).values
                when = published_at(pd.DatetimeIndex(values.index), self.lags.get(series_id),
                                    self.calendar)
                stamps = np.array([w.timestamp() for w in when], dtype="float64")
                self._read[series_id] = (values, stamps)
            except SourceError as err:
                self._read[series_id] = err
        found = self._read[series_id]
        if isinstance(found, SourceError):
            raise found
        return found

    def publications(self, series_ids: Iterable[str], start: datetime,
                     end: datetime) -> dict[datetime, set[str]]:
        """Release instant -> the series published then, for instants in (start, end]."""
        out: dict[datetime, set[str]] = {}
        for series_id in series_ids:
            try:
                _values, stamps = self._full(series_id)
            except SourceError:
                continue
            inside = stamps[(stamps > start.timestamp()) & (stamps <= end.timestamp())]
            for stamp in np.unique(inside):
                out.setdefault(datetime.fromtimestamp(float(stamp), UTC), set()).add(series_id)
        return out

    def history(self, series_id: str) -> pd.Series | None:
        """What was published by now, or None when the source has no such series."""
        try:
            values, stamps = self._full(series_id)
        except SourceError:
            return None
        return values[stamps <= self.clock().timestamp()]

    def last_updated(self, series_id: str) -> datetime | None:
        """Unknown: the fetcher always asks, and the store keeps only what is new."""
        return None

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """The observations published by now (from `since`)."""
        values, stamps = self._full(series_id)
        shown = values[stamps <= self.clock().timestamp()]
        if since is not None:
            shown = shown[shown.index >= pd.Timestamp(since)]
        return Fetched(series_id, shown, realtime_start=self.clock().date())


class ReplayStore(Store):
    """A store whose history before the replay's start is held in memory (`seed`), with
    what is recorded during the replay merged into it. The replay evaluates over the whole
    history at every release; writing decades of rows first and reading them back at each
    step would take most of its time, so the database holds only the replayed window."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._cache: dict[str, pd.Series] = {}

    def seed(self, source: str, series_id: str, values: pd.Series, now: datetime) -> None:
        """What was known of `series_id` before the replay begins: in memory, and its newest
        observation in the database, so the fetches that follow are incremental."""
        seeded = values.astype("float64").sort_index()
        seeded.name = series_id
        if len(seeded):
            super().record(source, Fetched(series_id, seeded.iloc[-1:]), now)
        self._cache[series_id] = seeded

    def record(self, source: str, fetched: Fetched, now: datetime) -> int:
        """Record as the store does, and merge the new values into the kept series."""
        new_rows = super().record(source, fetched, now)
        cached = self._cache.get(fetched.series_id)
        if new_rows and cached is not None:
            merged = fetched.values.astype("float64").combine_first(cached).sort_index()
            merged.name = fetched.series_id
            self._cache[fetched.series_id] = merged
        return new_rows

    def series(self, series: str, *, as_of: date | None = None,
               vintage: Vintage = "latest") -> pd.Series:
        """The latest values from memory; other questions go to the database."""
        if as_of is not None or vintage != "latest":
            return super().series(series, as_of=as_of, vintage=vintage)
        if series not in self._cache:
            self._cache[series] = super().series(series)
        return self._cache[series]


class ReplayNotifier:
    """Marks every message as a replay of its (simulated) day before the real notifier."""

    def __init__(self, inner: Notifier, clock: SimClock, zone: str) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.clock = clock
        self.zone = zone
        self.sent: list[tuple[datetime, Message]] = []

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Send `message` with a replay mark and its simulated time in the title."""
        from zoneinfo import ZoneInfo

        when = self.clock().astimezone(ZoneInfo(self.zone))
        mark = f"[REPLAY {when:%Y-%m-%d %H:%M %Z}] "
        self.sent.append((self.clock(), message))
        return await self.inner.send(chat_id, dataclasses.replace(
            message, title=mark + message.title,
            body=message.body + "\n\n(a replay of history, not a live alert)"))
