"""The store's read of a series on PostgreSQL: the driver's own tuples (dates come as `date`
objects there, ISO text on SQLite) make the same Series, the latest vintage of each date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from bot.store import Store
from sources.base import Fetched, Vintage


@pytest.mark.slow
@pytest.mark.postgres
def test_a_series_reads_back_with_its_latest_vintages(pg_url: str) -> None:
    store = Store(pg_url)
    days = pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03"])
    first = pd.Series([1.0, 2.0, 3.0], index=days)
    revised = pd.Series([1.0, 2.5, 3.0], index=days)
    store.record("fred", Fetched("X", revised, realtime_start=date(2020, 2, 1),
                                 vintages=(Vintage(date(2020, 1, 5), first),)),
                 datetime(2026, 1, 1, tzinfo=UTC))
    latest, released = store.series("X"), store.series("X", vintage="first")
    store.close()
    assert list(pd.DatetimeIndex(latest.index).date) == list(days.date)
    assert list(latest.to_numpy()) == [1.0, 2.5, 3.0]
    assert list(released.to_numpy()) == [1.0, 2.0, 3.0]
