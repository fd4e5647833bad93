"""FredSource against the fake FRED: real fredapi (key) and httpx (keyless) over HTTP."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from bot.store import Store
from sources.base import SourceError
from sources.files import read_fred_csv
from sources.fred import MAX_STUCK_CALLS, FredSource, realtime_windows
from tests.conftest import refused_url
from tests.fakes.fred import API_KEY, MAX_VINTAGES, FakeFred
from tests.sources.conftest import make_source

BOTH_PATHS = pytest.mark.parametrize("keyed", [True, False], ids=["api", "keyless"])
ROUTE = {True: "observations", False: "fredgraph"}


@pytest.mark.parametrize("series_id", ["WALCL", "RRPONTSYD", "CPIAUCSL"])
def test_key_and_keyless_paths_load_the_same_history(
    fred: FakeFred, http: httpx.Client, history_dir: Path, series_id: str
) -> None:
    keyed = make_source(fred, http, keyed=True, rate=50).fetch(series_id).values
    keyless = make_source(fred, http, keyed=False, rate=50).fetch(series_id).values
    on_disk = read_fred_csv(history_dir / "fred" / f"{series_id}.csv", series_id)
    pd.testing.assert_series_equal(keyed, keyless)
    pd.testing.assert_series_equal(keyed, on_disk)


@BOTH_PATHS
def test_since_asks_only_for_newer_observations(
    fred: FakeFred, http: httpx.Client, keyed: bool
) -> None:
    values = make_source(fred, http, keyed=keyed, rate=50).fetch("WALCL", date(2026, 9, 1)).values
    assert values.index.min() >= pd.Timestamp("2026-09-01")
    assert 0 < len(values) < 10


def test_missing_values_are_dropped_on_both_paths(fred: FakeFred, http: httpx.Client) -> None:
    fred.publish("WALCL", date(2026, 10, 14), None, on=date(2026, 10, 15))
    for keyed in (True, False):
        values = make_source(fred, http, keyed=keyed, rate=50).fetch("WALCL").values
        assert pd.Timestamp("2026-10-14") not in values.index
        assert values.notna().all()


def test_last_updated_is_utc_and_moves_on_publication(fred: FakeFred, http: httpx.Client) -> None:
    source = make_source(fred, http, keyed=True, rate=50)
    before = source.last_updated("WALCL")
    fred.publish("WALCL", date(2026, 10, 14), 6_700_000.0, on=date(2026, 10, 15))
    after = source.last_updated("WALCL")
    assert before is not None and after is not None
    assert after.utcoffset() == timedelta(0)
    assert after == datetime(2026, 10, 15, 20, 32, 11, tzinfo=UTC)  # 15:32:11 CDT
    assert after > before
    assert make_source(fred, http, keyed=False).last_updated("WALCL") is None


@pytest.mark.parametrize("key", ["abcdefghijklmnopqrstuvwxyz999999", "NOT-A-KEY"])
def test_bad_key_is_a_permanent_error_saying_what_to_do(
    fred: FakeFred, http: httpx.Client, key: str
) -> None:
    source = FredSource(api_key=key, api_url=f"{fred.url}/fred", http=http, timeout=5)
    with pytest.raises(SourceError) as caught:
        source.fetch("WALCL")
    assert not caught.value.retryable
    assert "api_key" in caught.value.message
    assert "check FRED_API_KEY" in caught.value.message
    assert fred.count("observations") == 1  # not retried


@BOTH_PATHS
def test_unknown_series_is_a_permanent_error_naming_rules_yaml(
    fred: FakeFred, http: httpx.Client, keyed: bool
) -> None:
    with pytest.raises(SourceError) as caught:
        make_source(fred, http, keyed=keyed).fetch("NOSUCHSERIES")
    assert not caught.value.retryable
    assert "check the series id in rules.yaml" in caught.value.message
    assert fred.count(ROUTE[keyed]) == 1


@BOTH_PATHS
def test_a_429_storm_is_ridden_out_within_the_rate_limit(
    fred: FakeFred, http: httpx.Client, keyed: bool
) -> None:
    fred.max_rate = 2  # the fake also answers 429 to anything faster than 2/s
    fred.fail(ROUTE[keyed], "429", times=4)
    source = make_source(fred, http, keyed=keyed, rate=2.0, attempts=6)
    values = source.fetch("WALCL").values
    assert len(values) == len(fred.latest("WALCL"))
    arrivals = fred.times()
    assert len(arrivals) == 5
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) > 0.35, gaps  # spaced at 0.5 s; the slack is scheduling jitter
    assert arrivals[-1] - arrivals[0] > 1.9  # 5 requests at 2/s, never a burst


@pytest.mark.parametrize(
    ("keyed", "kind"),
    [(True, "500"), (False, "500"), (True, "garbage")],
    ids=["api-500", "keyless-500", "api-cut-off-xml"],
)
def test_server_errors_and_broken_bodies_are_retried(
    fred: FakeFred, http: httpx.Client, keyed: bool, kind: str
) -> None:
    fred.fail(ROUTE[keyed], kind, times=2)
    values = make_source(fred, http, keyed=keyed, rate=50).fetch("WALCL").values
    assert len(values) == len(fred.latest("WALCL"))
    assert fred.count(ROUTE[keyed]) == 3


def test_a_body_that_is_not_csv_is_a_clear_error(fred: FakeFred, http: httpx.Client) -> None:
    fred.fail("fredgraph", "garbage")
    with pytest.raises(SourceError, match="not a FRED-format CSV"):
        make_source(fred, http, keyed=False).fetch("WALCL")


@BOTH_PATHS
def test_retries_are_bounded(fred: FakeFred, http: httpx.Client, keyed: bool) -> None:
    fred.fail(ROUTE[keyed], "500", times=50)
    with pytest.raises(SourceError) as caught:
        make_source(fred, http, keyed=keyed, rate=50, attempts=3).fetch("WALCL")
    assert caught.value.retryable
    assert fred.count(ROUTE[keyed]) == 3


@BOTH_PATHS
def test_a_hung_server_does_not_hang_the_call(
    fred: FakeFred, http: httpx.Client, keyed: bool
) -> None:
    fred.fail(ROUTE[keyed], "hang", times=10)
    source = make_source(fred, http, keyed=keyed, rate=50, timeout=0.3, attempts=2)
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        source.fetch("WALCL")
    assert time.monotonic() - started < 3.0
    assert caught.value.retryable
    assert "no answer within 0.3s" in caught.value.message


@BOTH_PATHS
def test_a_slow_answer_within_the_timeout_is_accepted(
    fred: FakeFred, http: httpx.Client, keyed: bool
) -> None:
    fred.fail(ROUTE[keyed], "slow", delay=0.4)
    values = make_source(fred, http, keyed=keyed, rate=50, timeout=3.0).fetch("WALCL").values
    assert len(values) == len(fred.latest("WALCL"))
    assert fred.count(ROUTE[keyed]) == 1


@BOTH_PATHS
def test_connection_refused_is_retryable(http: httpx.Client, keyed: bool) -> None:
    url = refused_url()
    source = FredSource(
        api_key=API_KEY if keyed else None, api_url=f"{url}/fred",
        graph_url=f"{url}/graph/fredgraph.csv", http=http, attempts=2, backoff=0.01,
        max_backoff=0.02,
    )  # fmt: skip
    with pytest.raises(SourceError) as caught:
        source.fetch("WALCL")
    assert caught.value.retryable
    assert "cannot reach FRED" in caught.value.message


def test_abandoned_calls_do_not_pile_up_behind_a_hung_server(
    fred: FakeFred, http: httpx.Client
) -> None:
    fred.fail("observations", "hang", times=100)
    source = make_source(fred, http, keyed=True, rate=50, timeout=0.2, attempts=2)
    for _ in range(3):
        with pytest.raises(SourceError):
            source.fetch("WALCL")
    assert fred.count("observations") == MAX_STUCK_CALLS  # later calls were not even sent
    with pytest.raises(SourceError, match="earlier requests are still unanswered"):
        source.fetch("WALCL")


def test_vintage_requests_stay_under_the_cap(fred: FakeFred, http: httpx.Client) -> None:
    fake_series = fred.get("RRPONTSYD")
    assert fake_series is not None
    published = fake_series.vintage_dates()
    assert len(published) > MAX_VINTAGES  # a daily series needs several windows
    fetched = make_source(fred, http, keyed=True, rate=50).fetch_vintages("RRPONTSYD")
    windows = [
        (date.fromisoformat(p["realtime_start"]), date.fromisoformat(p["realtime_end"]))
        for p in fred.params("observations")
    ]
    assert len(windows) == -(-len(published) // MAX_VINTAGES)
    for start, end in windows:
        assert sum(start <= d <= end for d in published) <= MAX_VINTAGES
    assert [v.realtime_start for v in fetched.vintages] == published
    latest = pd.Series(fred.latest("RRPONTSYD"), dtype="float64")
    assert fetched.values.to_numpy().tolist() == latest.sort_index().to_numpy().tolist()


def test_a_revision_is_a_new_vintage_and_as_of_sees_the_old_value(
    fred: FakeFred, http: httpx.Client, sqlite_url: str
) -> None:
    day, revised_on = date(2026, 9, 30), date(2026, 10, 20)
    original = fred.latest("WALCL")[day]
    assert original is not None
    fred.revise("WALCL", day, original + 1234.0, on=revised_on)
    store = Store(sqlite_url)
    fetched = make_source(fred, http, keyed=True, rate=50).fetch_vintages("WALCL")
    store.record("fred", fetched, datetime(2026, 11, 20, tzinfo=UTC))
    before = store.series("WALCL", as_of=revised_on - timedelta(days=1))
    after = store.series("WALCL", as_of=revised_on)
    first = store.series("WALCL", vintage="first")
    store.close()
    assert before[pd.Timestamp(day)] == original
    assert after[pd.Timestamp(day)] == original + 1234.0
    assert first[pd.Timestamp(day)] == original


def test_realtime_windows_are_contiguous_and_capped() -> None:
    dates = [date(2000, 1, 3) + timedelta(days=i) for i in range(4500)]
    windows = realtime_windows(dates, per_request=2000)
    assert len(windows) == 3
    assert windows[0][0] == "2000-01-03" and windows[-1][1] == "9999-12-31"
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert date.fromisoformat(end) + timedelta(days=1) == date.fromisoformat(start)
    for start, end in windows:
        inside = [d for d in dates if start <= d.isoformat() <= end]
        assert len(inside) <= 2000


def test_vintages_need_a_key(fred: FakeFred, http: httpx.Client) -> None:
    with pytest.raises(SourceError, match="FRED_API_KEY"):
        make_source(fred, http, keyed=False).fetch_vintages("WALCL")
