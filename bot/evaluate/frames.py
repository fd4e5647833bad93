"""The stored series the live rules read, kept between evaluations: only a series with rows
written since the last read (by the store's row ids, which only grow) is read again. And
when the newest observations were first fetched: what is in the store was known by then,
whatever the release calendar expected."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bot.store import Store
from bot.store.schema import observations


class StoredFrames:
    """The latest vintage of each wanted series, re-read only when it has new rows."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._kept: dict[str, pd.Series] = {}
        self._seen_id = 0
        self.reads = 0  # series read from the store (for tests and the bench)

    def frame(self, ids: Iterable[str]) -> dict[str, pd.Series]:
        """Every wanted series with rows, keyed by id (as `Store.frame` gives it)."""
        wanted = sorted(set(ids))
        with self.store.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(observations.c.id))).scalar() or 0
            changed = set(conn.execute(
                sa.select(observations.c.series).distinct()
                .where(observations.c.id > self._seen_id, observations.c.series.in_(wanted))
            ).scalars()) if newest > self._seen_id else set()
        for series_id in wanted:
            if series_id in changed or series_id not in self._kept:
                self._kept[series_id] = self.store.series(series_id)
                self.reads += 1
        self._seen_id = max(self._seen_id, newest)
        return {s: self._kept[s] for s in wanted if not self._kept[s].empty}

    def first_seen(self, ids: Iterable[str], since: date) -> dict[str, pd.Series]:
        """For observations dated from `since`: when each was first fetched (UTC ns by
        observation date), by series id."""
        query = (
            sa.select(observations.c.series, observations.c.obs_date,
                      sa.func.min(observations.c.fetched_at))
            .where(observations.c.obs_date >= since,
                   observations.c.series.in_(sorted(set(ids))))
            .group_by(observations.c.series, observations.c.obs_date)
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        found: dict[str, pd.Series] = {}
        if not rows:
            return found
        frame = pd.DataFrame(rows, columns=["series", "day", "fetched"])
        frame["day"] = pd.to_datetime(frame["day"])
        fetched = pd.to_datetime(frame["fetched"], utc=True).dt.as_unit("ns")
        frame["fetched"] = fetched.astype("int64")
        for series_id, part in frame.groupby("series"):
            found[str(series_id)] = pd.Series(part["fetched"].to_numpy(dtype=np.int64),
                                              index=pd.DatetimeIndex(part["day"]))
        return found


def earliest(released: pd.Series, seen: pd.Series | None) -> pd.Series:
    """Each observation's release instant, or when it was first fetched if that was sooner."""
    if seen is None or seen.empty:
        return released
    fetched = seen.reindex(released.index).to_numpy(dtype="float64")
    own = released.to_numpy(dtype="float64")
    sooner = np.where(np.isnan(fetched), own, np.minimum(own, fetched))
    return pd.Series(sooner.astype("int64"), index=released.index)
