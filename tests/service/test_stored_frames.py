"""The live evaluator's kept series: after new rows (a new date, a revision, an older vintage
found later) the few dates touched are read again, and the kept series is what the store
reads whole."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.evaluate.frames import StoredFrames
from bot.store import Store
from sources.base import Fetched, Vintage


def days(values: list[float], start: str = "2025-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"),
                     dtype="float64")


def test_a_few_new_rows_update_the_kept_series_as_a_whole_read_would(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'frames.db'}")
    first = datetime(2025, 2, 1, tzinfo=UTC)
    store.record("files", Fetched("D", days(list(np.arange(30.0)))), first)
    store.record("files", Fetched("W", days([1.0, 2.0, 3.0])), first)
    frames = StoredFrames(store)
    assert frames.frame(["D", "W"])["D"].equals(store.series("D"))
    # a new day, a revised day, and an earlier vintage of a third (found later: not the latest)
    grown = days([*np.arange(29.0), 99.0, 30.0])
    grown.iloc[3] = 33.0
    older = Vintage(date(2025, 1, 11), days([7.0], "2025-01-10"))
    store.record("files", Fetched("D", grown, vintages=(older,)), datetime(2025, 2, 2, tzinfo=UTC))
    kept = frames.frame(["D", "W"])
    assert frames.reads == 2 and frames.spliced == 1  # W had no new rows: not read again
    assert kept["D"].equals(store.series("D"))
    assert kept["D"]["2025-01-30"] == 99.0 and kept["D"]["2025-01-04"] == 33.0
    assert kept["W"] is frames.kept("W")
    store.close()
