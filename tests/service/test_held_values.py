"""Data sanity beyond the band (issue 13 item 5): a 7x WALCL jump for two weeks, one bogus
DFEDTARU row and a negative WALCL are held back, named on /healthz, and fire no alert; a
held value is accepted when a later fetch confirms it; an empty store judges a first history.

The series are synthetic copies of the real WALCL and DFEDTARU histories of ../shared/data
(cut at 2026-06-24), served by a plain in-test source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.app.health import HealthLimits, ServiceState, check_health
from bot.ingest.fetcher import Fetcher
from bot.ingest.held import CONFIRM_AFTER, held_back
from bot.store import Store
from rules import backtest, load_rules
from sources.base import Fetched
from sources.files import FileSource

RULES = """\
series:
  assets: {id: WALCL}
  target: {id: DFEDTARU}
rules:
  - id: assets_surge
    title: Balance sheet surges
    when: "pct_change(assets, 1) > 20"
  - id: rate_cut
    title: Rate cut
    when: "change(target, 1) < 0"
"""
CUT = pd.Timestamp("2026-06-24")


class Copies:
    """A source serving synthetic copies of real series, editable between polls."""

    name = "fred"

    def __init__(self, series: dict[str, pd.Series]) -> None:
        self.series = series

    def last_updated(self, series_id: str) -> datetime | None:
        return None

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        values = self.series[series_id]
        if since is not None:
            values = values[values.index >= pd.Timestamp(since)]
        return Fetched(series_id, values)


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 25, 17, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def setup(history_dir: Path, sqlite_url: str) -> Iterator[tuple[Store, Copies, Fetcher, Clock]]:
    files = FileSource(history_dir)
    real = {sid: files.fetch(sid).values for sid in ("WALCL", "DFEDTARU")}
    copies = Copies({sid: s[s.index <= CUT].copy() for sid, s in real.items()})
    store, clock = Store(sqlite_url), Clock()
    fetcher = Fetcher(store, copies, clock=clock, overlap=timedelta(days=30))
    try:
        yield store, copies, fetcher, clock
    finally:
        fetcher.held.held.clear()
        store.close()


def _add(copies: Copies, series_id: str, day: str, value: float) -> None:
    copies.series[series_id] = pd.concat(
        [copies.series[series_id], pd.Series([value], index=pd.DatetimeIndex([day]))])


def _alerts(store: Store, since: str) -> list[str]:
    ruleset = load_rules(RULES)
    data = store.frame(["WALCL", "DFEDTARU"])
    return [e.rule_id for e in backtest(ruleset, data, since=pd.Timestamp(since).date())]


def test_a_7x_jump_a_bogus_rate_row_and_a_negative_level_are_held_with_no_alert(
    setup: tuple[Store, Copies, Fetcher, Clock],
) -> None:
    store, copies, fetcher, clock = setup
    assert fetcher.fetch_one("WALCL").outcome == "updated"  # a real first history passes
    assert fetcher.fetch_one("DFEDTARU").outcome == "updated"
    last = float(copies.series["WALCL"].iloc[-1])
    for week, day in enumerate(("2026-07-01", "2026-07-08")):  # 7x for two weeks
        clock.now += timedelta(days=7)
        _add(copies, "WALCL", day, last * 7 + week)
        result = fetcher.fetch_one("WALCL")
        assert result.outcome == "failed" and result.retryable
        assert "held back" in (result.error or "") and "x7.00" in (result.error or "")
    _add(copies, "DFEDTARU", "2026-07-09", 0.55)  # a decimal slip: 5.50 -> 0.55
    assert "policy-rate move" in (fetcher.fetch_one("DFEDTARU").error or "")
    health = check_health(store, ServiceState(started_at=clock.now, leader=False),
                          HealthLimits(), clock.now)
    assert not health.ok and set(health.body["held_back"]) == {"WALCL", "DFEDTARU"}
    assert any(p.startswith("series WALCL held back: 2026-07-01") for p in health.body["problems"])
    assert _alerts(store, "2026-06-01") == []  # no false alert: nothing of it was recorded
    # The publisher corrects WALCL; then it sends a negative level: held again.
    copies.series["WALCL"] = pd.concat([copies.series["WALCL"].iloc[:-2], pd.Series(
        [last + 1_000, last + 2_000], index=pd.DatetimeIndex(["2026-07-01", "2026-07-08"]))])
    assert fetcher.fetch_one("WALCL").outcome == "updated"
    assert "WALCL" not in held_back()
    _add(copies, "WALCL", "2026-07-15", -last)
    assert "negative value where none can be" in (fetcher.fetch_one("WALCL").error or "")
    assert _alerts(store, "2026-06-01") == []


def test_a_held_value_is_accepted_when_a_later_fetch_confirms_it(
    setup: tuple[Store, Copies, Fetcher, Clock],
) -> None:
    store, copies, fetcher, clock = setup
    fetcher.fetch_one("WALCL")
    last = float(copies.series["WALCL"].iloc[-1])
    _add(copies, "WALCL", "2026-07-01", last * 4.5)  # implausible, not severe (< x5)
    clock.now += timedelta(days=7)
    assert fetcher.fetch_one("WALCL").outcome == "failed"
    clock.now += timedelta(minutes=10)  # a re-poll minutes later is not a confirmation
    assert fetcher.fetch_one("WALCL").outcome == "failed"
    clock.now += CONFIRM_AFTER
    assert fetcher.fetch_one("WALCL").outcome == "updated"
    assert store.series("WALCL").iloc[-1] == last * 4.5 and "WALCL" not in held_back()
    _add(copies, "WALCL", "2026-07-08", last * 4.5 + 100)  # the new level goes on: no doubt
    clock.now += timedelta(days=7)
    assert fetcher.fetch_one("WALCL").outcome == "updated"


def test_an_empty_store_judges_a_first_history_against_itself(
    setup: tuple[Store, Copies, Fetcher, Clock],
) -> None:
    store, copies, fetcher, _clock = setup
    rates = copies.series["DFEDTARU"]
    copies.series["DFEDTARU"] = rates.where(rates.index != rates.index[-40], rates.iloc[-40] + 0.01)
    result = fetcher.fetch_one("DFEDTARU")
    assert result.outcome == "failed" and "+1.0 bp" in (result.error or "")
    assert store.series("DFEDTARU").empty
