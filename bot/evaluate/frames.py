"""The stored series the live rules read, kept between evaluations: only a series with rows
written since the last read (by the store's row ids, which only grow) is read again."""

from __future__ import annotations

from collections.abc import Iterable

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
