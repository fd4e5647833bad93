"""The plausibility guard: synthetic series (plainly labelled LEVELX, RATEX, ...), then every
real history of ../shared/data replayed through it year by year without one rejection."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.ingest.plausibility import implausible, suspect
from sources.files import FileSource

WEEKS = pd.date_range("2026-09-02", periods=6, freq="7D")  # ... 2026-09-30, 2026-10-07


def weekly(name: str, *values: float) -> pd.Series:
    """Synthetic weekly observations from 2026-09-02."""
    return pd.Series(values, index=WEEKS[: len(values)], dtype="float64", name=name)


LEVELX = weekly("LEVELX", 6_700_000, 6_720_000, 6_740_000, 6_747_560)  # through 2026-09-23


def plus(series: pd.Series, *values: float) -> pd.Series:
    """`series` followed by new weekly observations."""
    return weekly(str(series.name), *series.tolist(), *values)


def test_an_empty_store_accepts_anything_finite() -> None:
    assert implausible(weekly("LEVELX"), weekly("LEVELX", 0, 0, 5e12)) is None
    assert implausible(weekly("LEVELX"), weekly("LEVELX")) is None


def test_a_refetch_of_the_same_history_and_a_sane_new_week_pass() -> None:
    assert implausible(LEVELX, LEVELX) is None
    assert implausible(LEVELX, plus(LEVELX, 6_760_000)) is None
    assert implausible(LEVELX, plus(LEVELX, 6_747_560 * 0.02)) is None  # a crash, not a zero
    assert implausible(LEVELX, plus(LEVELX, 6_747_560 * 99)) is None


def test_missing_everywhere_is_rejected() -> None:
    assert implausible(LEVELX, weekly("LEVELX")) == "no observations (the store holds 4)"


def test_losing_most_of_the_history_is_rejected_unless_fetched_from_a_date() -> None:
    truncated = LEVELX.iloc[:1]
    assert implausible(LEVELX, truncated) == "1 observations where the store holds 4"
    assert implausible(LEVELX, LEVELX.iloc[1:]) is None  # 3 of 4 kept
    assert implausible(LEVELX, LEVELX.iloc[3:], since=date(2026, 9, 23)) is None


def test_a_zero_where_millions_belong_is_rejected() -> None:
    reason = implausible(LEVELX, plus(LEVELX, 0))
    assert reason == "0 on 2026-09-30 after 6,747,560"
    assert implausible(LEVELX, plus(LEVELX, 6_760_000, 0)) == "0 on 2026-10-07 after 6,760,000"
    assert implausible(LEVELX, plus(LEVELX, 67)) == "67 on 2026-09-30 after 6,747,560"


def test_an_explosion_of_a_level_is_rejected_a_sign_change_alone_is_not() -> None:
    exploded = implausible(LEVELX, plus(LEVELX, 6_747_560 * 1000))
    assert exploded == "6,747,560,000 on 2026-09-30 after 6,747,560"
    assert implausible(LEVELX, plus(LEVELX, -50)) == "-50 on 2026-09-30 after 6,747,560"
    assert implausible(LEVELX, plus(LEVELX, -6_000_000)) is None  # a surplus turned deficit


def test_a_revision_to_zero_is_rejected_and_a_normal_revision_passes() -> None:
    revised = LEVELX.copy()
    revised.iloc[-1] = 0
    assert implausible(LEVELX, revised) == "2026-09-23 revised from 6,747,560 to 0"
    revised.iloc[-1] = 6_747_060
    assert implausible(LEVELX, revised) is None


def test_non_finite_values_are_rejected() -> None:
    assert implausible(LEVELX, plus(LEVELX, float("inf"))) == "inf on 2026-09-30"


@pytest.mark.parametrize(
    ("stored", "new"),
    [
        (weekly("RATEX", 0.5, 0.25), 0.0),  # a rate: target range floor going to zero
        (weekly("SMALLX", 2_500.0, 900.0, 120.0), 0.5),  # billions draining below 1,000 first
        (weekly("DEFICITX", -250_000.0, -1_500.0), 5.0),  # a deficit turning to a surplus
        (weekly("DEFICITX", 300_000.0, -100.0, 2_000.0), 0.0),  # stored history changed sign
    ],
)
def test_rates_small_series_and_sign_changing_series_are_not_judged_by_magnitude(
    stored: pd.Series, new: float
) -> None:
    assert implausible(stored, plus(stored, new)) is None


def test_real_histories_never_trip_the_guard_when_replayed_in_order(history_dir: Path) -> None:
    """Every series of ../shared/data (FRED and Treasury) fed in yearly chunks, then its last
    30 observations one by one: no rejection (no false alarm on real data)."""
    source = FileSource(history_dir)
    checked = 0
    for series_id in source.series_ids():
        full = source.fetch(series_id).values
        year_of = pd.DatetimeIndex(full.index).year
        for year in sorted(set(year_of))[1:]:
            stored, fetched = full[year_of < year], full[year_of <= year]
            assert implausible(stored, fetched) is None, (series_id, year)
            checked += 1
        for end in range(max(1, len(full) - 30), len(full)):
            assert implausible(full.iloc[:end], full.iloc[: end + 1]) is None, (series_id, end)
    assert checked > 500
    assert {"WALCL", "MTSDS133FMS", "RRPONTSYD", "DFEDTARL", "mspd_bills"} <= set(
        source.series_ids()
    )


def test_real_histories_fit_their_nature_as_first_histories_and_step_by_step(
    history_dir: Path,
) -> None:
    """`suspect` (the per-series nature) on every real history: as a first history into an
    empty store, and its last 60 observations one by one: nothing held back."""
    source = FileSource(history_dir)
    for series_id in source.series_ids():
        full = source.fetch(series_id).values
        assert suspect(series_id, full.iloc[:0], full) is None, series_id
        for end in range(max(1, len(full) - 60), len(full)):
            assert suspect(series_id, full.iloc[:end], full.iloc[: end + 1]) is None, (
                series_id, end)


def test_the_nature_of_a_series_holds_back_jumps_rate_slips_and_negative_stocks() -> None:
    level = weekly("LEVELX", *[6_700_000 + 1_000 * i for i in range(5)])
    level = pd.concat([level, pd.Series(
        [6_706_000.0 + 900 * i for i in range(10)],
        index=pd.date_range("2026-10-07", periods=10, freq="7D"))])
    jump = pd.concat([level, pd.Series([level.iloc[-1] * 7], index=[level.index[-1]
                                                                     + pd.Timedelta(days=7)])])
    found = suspect("LEVELX", level, jump)
    assert found is not None and found.severe and "x7.00" in found.reason
    rates = pd.Series([5.5, 5.5, 5.25], index=WEEKS[:3])
    assert suspect("DFEDTARU", rates.iloc[:2], rates) is None  # a 25 bp cut is a rate's step
    slip = pd.Series([5.5, 5.5, 5.49], index=WEEKS[:3])
    assert "-1.0 bp" in getattr(suspect("DFEDTARU", slip.iloc[:2], slip), "reason", "")
    negative = pd.Series([7e6, 7.01e6, -7e6], index=WEEKS[:3])
    assert "negative" in getattr(suspect("WALCL", negative.iloc[:2], negative), "reason", "")
    assert suspect("LEVELX", LEVELX, plus(LEVELX, -6_000_000)) is None  # sign may change
