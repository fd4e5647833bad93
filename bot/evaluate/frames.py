"""The stored series the live rules read, kept between evaluations: only a series with rows
written since the last read (by the store's row ids, which only grow) is read again. And
when the newest observations were first fetched: what is in the store was known by then,
whatever the release calendar expected."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bot.store import Store
from bot.store.schema import observations

PUBLISHERS_ZONE = "America/New_York"  # the Fed's, BLS's and Treasury's release clocks


@dataclass(frozen=True)
class Seen:
    """What the store says of recent observations: first fetch instants (UTC ns) and the
    publisher's release days (ALFRED realtime starts), each by series id."""

    fetched: dict[str, pd.Series]
    published: dict[str, pd.Series]


_frames: WeakKeyDictionary[Store, StoredFrames] = WeakKeyDictionary()
_frames_lock = threading.Lock()


def frames_of(store: Store) -> StoredFrames:
    """The one StoredFrames of a store: the live evaluator, the chat's, the dashboard's and
    the briefings' answers read each series once (and, unchanged, see the same mapping)."""
    with _frames_lock:
        found = _frames.get(store)
        if found is None:
            found = _frames[store] = StoredFrames(store)
        return found


class StoredFrames:
    """The latest vintage of each wanted series, re-read only when it has new rows."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._kept: dict[str, pd.Series] = {}
        self._seen_id = 0
        self._lock = threading.RLock()  # shared by threads (frames_of)
        self._given: tuple[tuple[str, ...], dict[str, pd.Series]] | None = None
        self.reads = 0  # series read from the store (for tests and the bench)
        self.spliced = 0  # series with a few dates read again
        self._first = _FirstSeen()

    def frame(self, ids: Iterable[str]) -> dict[str, pd.Series]:
        """Every wanted series with rows, keyed by id (as `Store.frame` gives it). A series
        with new rows for a few dates has those dates read again (a weekday's new rows), one
        with many is read whole."""
        with self._lock:
            return self._frame(tuple(sorted(set(ids))))

    def _frame(self, wanted: tuple[str, ...]) -> dict[str, pd.Series]:
        kept = [s for s in wanted if s in self._kept]
        whole = [s for s in wanted if s not in self._kept]  # read whole: never read yet
        with self.store.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(observations.c.id))).scalar() or 0
            new = observations.c.id > self._seen_id
            counts: dict[str, int] = dict(conn.execute(
                sa.select(observations.c.series,
                          sa.func.count(sa.distinct(observations.c.obs_date)))
                .where(new, observations.c.series.in_(kept))
                .group_by(observations.c.series)).all()) if kept and newest > self._seen_id else {}
            for series_id, count in counts.items():
                if count > SPLICE_DAYS:
                    whole.append(series_id)
                    continue
                days = list(conn.execute(
                    sa.select(observations.c.obs_date).distinct()
                    .where(new, observations.c.series == series_id)).scalars())
                self._kept[series_id] = _spliced(conn, series_id, self._kept[series_id], days)
                self.spliced += 1
        for series_id in whole:
            self._kept[series_id] = self.store.series(series_id)
            self.reads += 1
        self._seen_id = max(self._seen_id, newest)
        given = {s: self._kept[s] for s in wanted if not self._kept[s].empty}
        last = self._given
        if last is not None and last[0] == wanted and len(last[1]) == len(given) and all(
                last[1].get(s) is series for s, series in given.items()):
            return last[1]  # nothing changed: the same mapping (evaluations of it are kept)
        self._given = (wanted, given)
        return given

    def kept(self, series_id: str) -> pd.Series | None:
        """The series as last read (the same object until the store has new rows for it)."""
        return self._kept.get(series_id)

    def first_seen(self, ids: Iterable[str], since: date) -> Seen:
        """For observations dated from `since`: when each was first fetched (UTC ns), and the
        publisher's date where a vintage gave one, by series id and observation date. Only
        rows stored since the last call are read (a first fetch only changes when a later
        row comes sooner, which rows only added cannot do)."""
        with self._lock:
            return self._first_seen(tuple(sorted(set(ids))), since)

    def _first_seen(self, wanted: tuple[str, ...], since: date) -> Seen:
        first = self._first
        if first.ids != wanted or first.since is None or since < first.since:
            self._first = first = _FirstSeen(wanted, since)
        with self.store.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(observations.c.id))).scalar() or 0
            if newest > first.upto:
                query = (
                    sa.select(observations.c.series, observations.c.obs_date,
                              sa.func.min(observations.c.fetched_at),
                              sa.func.min(observations.c.realtime_start))
                    .where(observations.c.id > first.upto, observations.c.obs_date >= first.since,
                           observations.c.series.in_(wanted))
                    .group_by(observations.c.series, observations.c.obs_date)
                )
                first.add(conn.execute(query).all())
                first.upto = newest
        return first.seen_since(since)


class _FirstSeen:
    """The earliest fetch and realtime start of each (series, date) among the rows read so
    far: for `ids`, dated from `since`, stored up to row id `upto`."""

    def __init__(self, ids: tuple[str, ...] = (), since: date | None = None) -> None:
        self.ids, self.since, self.upto = ids, since, 0
        # Typed even when empty: comparing an empty object column with a date raises.
        self.rows = pd.DataFrame({"series": [], "day": pd.to_datetime([]), "fetched": [],
                                  "start": pd.to_datetime([])})
        self._seen: tuple[date, Seen] | None = None
        self._last: Seen | None = None

    def add(self, rows: Sequence[Any]) -> None:
        """Rows stored since: a date's earliest fetch and start stay."""
        if not rows:
            return
        frame = pd.DataFrame(rows, columns=["series", "day", "fetched", "start"])
        frame["day"] = pd.to_datetime(frame["day"])
        fetched = pd.to_datetime(frame["fetched"], utc=True).dt.as_unit("ns")
        frame["fetched"] = fetched.astype("int64")
        frame["start"] = pd.to_datetime(frame["start"])
        if len(self.rows):
            frame = (pd.concat([self.rows, frame]).groupby(["series", "day"], as_index=False)
                     .min())
        self.rows = frame
        self._seen = None

    def seen_since(self, since: date) -> Seen:
        """What the rows say of the observations dated from `since` (the same objects while
        nothing changed)."""
        if self._seen is None or self._seen[0] != since:
            rows = self.rows[self.rows["day"] >= pd.Timestamp(since)]
            found = _seen_of(rows)
            if self._last is not None:  # a series whose rows did not change: the same object
                for new, old in ((found.fetched, self._last.fetched),
                                 (found.published, self._last.published)):
                    for key, times in new.items():
                        if key in old and old[key].equals(times):
                            new[key] = old[key]
            self._seen = (since, found)
            self._last = found
        return self._seen[1]


def _seen_of(frame: pd.DataFrame) -> Seen:
    seen = Seen({}, {})
    if frame.empty:
        return seen
    fetched = pd.to_datetime(frame["fetched"].to_numpy(dtype=np.int64), utc=True)
    # A realtime start before the day of the first fetch came from the publisher (a fetch
    # without vintages stores its own date there).
    given_all = (frame["start"].to_numpy() < fetched.tz_localize(None).normalize().to_numpy())
    for series_id, part in frame.assign(given=given_all).groupby("series"):
        key = str(series_id)
        days = pd.DatetimeIndex(part["day"])
        seen.fetched[key] = pd.Series(part["fetched"].to_numpy(dtype=np.int64), index=days)
        given = part["given"].to_numpy(dtype=bool)
        if given.any():
            seen.published[key] = pd.Series(part["start"].to_numpy()[given], index=days[given])
    return seen


SPLICE_DAYS = 400  # dates with new rows up to which a kept series is updated, not read again


def _spliced(conn: sa.Connection, series_id: str, kept: pd.Series,
             days: list[date]) -> pd.Series:
    """`kept` with the dates in `days` read again: each date's latest vintage (the newest
    realtime start; none where it has no value), as `Store.series` reads them all."""
    query = (
        sa.select(sa.type_coerce(observations.c.obs_date, sa.String), observations.c.value)
        .where(observations.c.series == series_id, observations.c.obs_date.in_(days))
        .order_by(observations.c.obs_date, observations.c.realtime_start)
    )
    rows = conn.execute(query).all()
    dates = pd.DatetimeIndex(pd.to_datetime(pd.Index([r[0] for r in rows], dtype=object)))
    stamps = dates.as_unit("s")
    values = np.array([r[1] for r in rows], dtype="float64")
    keep = np.r_[stamps[1:] != stamps[:-1], True] if len(rows) else np.array([], dtype=bool)
    keep &= ~np.isnan(values)
    again = pd.DatetimeIndex(pd.to_datetime(pd.Index([str(d) for d in days]))).as_unit("s")
    old = kept[~kept.index.isin(again)]
    fresh = pd.Series(values[keep], index=stamps[keep], name=series_id)
    merged = pd.concat([old, fresh]).sort_index(kind="stable") if len(fresh) else old
    merged.name = series_id
    return merged


def earliest(released: pd.Series, seen: pd.Series | None) -> pd.Series:
    """Each observation's release instant, or when it was first fetched if that was sooner."""
    if seen is None or seen.empty:
        return released
    fetched = seen.reindex(released.index).to_numpy(dtype="float64")
    own = released.to_numpy(dtype="float64")
    sooner = np.where(np.isnan(fetched), own, np.minimum(own, fetched))
    return pd.Series(sooner.astype("int64"), index=released.index)


def published_on(released: pd.Series, published: pd.Series | None) -> pd.Series:
    """Release instants with the publisher's own dates where it gave them (ALFRED's realtime
    start), at the release's time of day: a delayed release is known when it came out, not when
    the calendar expected it. `published` holds days (datetime64) by observation date."""
    if published is None or published.empty:
        return released
    days = published.reindex(released.index)
    given = days.notna().to_numpy()
    if not given.any():
        return released
    expected = pd.DatetimeIndex(pd.to_datetime(released.to_numpy()[given], utc=True))
    local = expected.tz_convert(PUBLISHERS_ZONE)
    clock = local - local.normalize()
    on_day = (pd.DatetimeIndex(days.to_numpy()[given]).normalize() + clock).tz_localize(
        PUBLISHERS_ZONE, ambiguous=False, nonexistent="shift_forward")
    out = released.to_numpy().copy()
    out[given] = on_day.tz_convert("UTC").as_unit("ns").asi8
    return pd.Series(out, index=released.index, dtype="int64")
