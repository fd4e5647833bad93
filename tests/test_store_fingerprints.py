"""The store's part of start-up (issue 20, item 4), on SQLite and PostgreSQL: file
fingerprints kept across store instances, and series read back exactly as recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from bot.store import Store
from sources.base import Fetched
from sources.files import Fingerprint, Stat

# Plainly synthetic values: bookkeeping, not history.
DATES = pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"])


def test_a_fingerprint_is_kept_and_replaced(db_url: str, now: datetime) -> None:
    store = Store(db_url)
    assert store.file_fingerprint("files", "SYNTH") is None
    first = Fingerprint(Stat(1234, 1_700_000_000_123_456_789), "ab" * 32)
    store.keep_fingerprint("files", "SYNTH", first, now)
    store.close()
    store = Store(db_url)  # a restart reads what the last run kept
    assert store.file_fingerprint("files", "SYNTH") == first
    assert store.file_fingerprint("csv", "SYNTH") is None  # per source
    later = Fingerprint(Stat(1300, 1_800_000_000_000_000_001), "cd" * 32, "ef" * 32)
    store.keep_fingerprint("files", "SYNTH", later, now)
    assert store.file_fingerprint("files", "SYNTH") == later
    store.close()


def test_a_series_reads_back_as_recorded_missing_values_left_out(
    store: Store, now: datetime
) -> None:
    values = pd.Series([1.5, np.nan, -2.25, 1e12], index=DATES)
    assert store.record("test", Fetched("SYNTH", values, realtime_start=date(2020, 5, 1)),
                        now) == 3  # a date first seen without a value adds no row
    got = store.series("SYNTH")
    assert got.name == "SYNTH" and got.dtype == "float64"
    assert got.index.tolist() == [DATES[0], DATES[2], DATES[3]]
    assert got.tolist() == [1.5, -2.25, 1e12]
    revised = pd.Series([1.5, 3.0, -2.5, 1e12], index=DATES)  # a new date and a revision
    later = datetime(2026, 12, 1, tzinfo=UTC)
    assert store.record("test", Fetched("SYNTH", revised, realtime_start=date(2020, 6, 1)),
                        later) == 2
    assert store.series("SYNTH").tolist() == [1.5, 3.0, -2.5, 1e12]
    assert store.series("SYNTH", vintage="first").tolist() == [1.5, 3.0, -2.25, 1e12]
    assert store.series("SYNTH", as_of=date(2020, 5, 31)).tolist() == [1.5, -2.25, 1e12]
    assert store.series("NOSUCH").empty
    assert store.frame(["SYNTH", "NOSUCH"]).keys() == {"SYNTH"}
