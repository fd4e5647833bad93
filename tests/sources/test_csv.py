"""`source: csv`: the real gold and Shiller files, over a real HTTP client against the fake
web server and from disk; retries, timeouts, garbage, and the fetcher's guards."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from bot.ingest.fetcher import Fetcher
from bot.store import Store
from sources.base import Source, SourceError
from sources.csv import CsvSource
from tests.fakes.csvweb import CsvWebFake

GOLD = {"date": "Date", "value": "Price"}
NOW = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def gold_text(history_dir: Path) -> bytes:
    """The real monthly gold file (read from ../shared/data, never copied here)."""
    return (history_dir / "other" / "gold_monthly.csv").read_bytes()


@pytest.fixture
def web() -> Iterator[CsvWebFake]:
    fake = CsvWebFake()
    with fake.server.running():
        yield fake


def source(options: Mapping[str, Mapping[str, Any]], http: httpx.Client, *,
           base_dir: Path | None = None, slept: list[float] | None = None,
           **kwargs: Any) -> CsvSource:
    """A CsvSource whose rules options are `options` (series id -> options)."""
    pauses = slept if slept is not None else []
    return CsvSource(http, lambda sid: options.get(sid, {}), base_dir=base_dir,
                     sleep=pauses.append, retry_wait=0.01, **kwargs)


def test_the_real_gold_file_from_the_data_directory(history_dir: Path,
                                                    http: httpx.Client) -> None:
    gold = source({"GOLD": {"url": "other/gold_monthly.csv", **GOLD}}, http,
                  base_dir=history_dir)
    assert isinstance(gold, Source)
    values = gold.fetch("GOLD").values
    assert len(values) == 2322  # every row of the file (PROVENANCE.md)
    assert values.index[0] == pd.Timestamp("1833-01-01")  # YYYY-MM: the month's first day
    assert (values.index[-1], values.iloc[-1]) == (pd.Timestamp("2026-06-01"), 4228.0)
    assert values.index.is_monotonic_increasing and values.dtype == "float64"
    recent = gold.fetch("GOLD", since=date(2026, 1, 1)).values
    assert list(recent.index.month) == [1, 2, 3, 4, 5, 6]


def test_shiller_zero_means_missing(history_dir: Path, http: httpx.Client) -> None:
    path = history_dir / "other" / "shiller_sp500_monthly.csv"
    options = {
        "CAPE": {"url": path.as_uri(), "date": "Date", "value": "PE10", "missing": ["0.0"]},
        "CAPE_RAW": {"url": str(path), "date": "Date", "value": "PE10"},
        "SPX": {"url": str(path), "date": "Date", "value": "SP500", "missing": ["0.0"]},
    }
    shiller = source(options, http, base_dir=history_dir)
    cape = shiller.fetch("CAPE").values
    assert cape.index[-1] == pd.Timestamp("2023-09-01") and cape.iloc[-1] == 30.81
    assert (cape > 0).all()
    assert cape["2000-01-01"] > 40  # the dot-com peak, ~44
    raw = shiller.fetch("CAPE_RAW").values
    assert len(raw) > len(cape) and (raw == 0).sum() == len(raw) - len(cape)
    assert shiller.fetch("SPX").values.index[-1] == pd.Timestamp("2026-06-01")


def test_over_http_it_is_the_same_series(web: CsvWebFake, gold_text: bytes,
                                         history_dir: Path, http: httpx.Client) -> None:
    url = web.serve_csv("data/gold.csv", gold_text)
    over_http = source({"GOLD": {"url": url, **GOLD}}, http).fetch("GOLD")
    from_file = source({"GOLD": {"url": "other/gold_monthly.csv", **GOLD}}, http,
                       base_dir=history_dir).fetch("GOLD")
    pd.testing.assert_series_equal(over_http.values, from_file.values)
    assert over_http.last_updated is None and from_file.last_updated is not None


def test_json_with_a_declared_path(web: CsvWebFake, http: httpx.Client) -> None:
    document = {"meta": {"units": "USD"}, "data": {"observations": [
        {"date": "2024-01-31", "value": "2039.5"},
        {"date": "2024-02-29", "value": "."},
        {"date": "2024-03-31", "value": 2158.2},
        {"date": "2024-04-30T00:00:00Z", "value": None},
    ]}}
    url = web.serve_json("api/gold.json", document)
    options = {"url": url, "format": "json", "path": "data.observations",
               "date": "date", "value": "value"}
    values = source({"G": options}, http).fetch("G").values
    assert values.to_dict() == {pd.Timestamp("2024-01-31"): 2039.5,
                                pd.Timestamp("2024-03-31"): 2158.2}


def test_a_500_is_retried_then_served(web: CsvWebFake, gold_text: bytes,
                                      http: httpx.Client) -> None:
    url = web.serve_csv("gold.csv", gold_text)
    web.server.inject("500", times=2)
    slept: list[float] = []
    values = source({"GOLD": {"url": url, **GOLD}}, http, slept=slept).fetch("GOLD").values
    assert len(values) == 2322
    assert web.count("gold.csv") == 3 and len(slept) == 2


def test_a_lasting_500_is_one_retryable_error(web: CsvWebFake, http: httpx.Client) -> None:
    url = web.serve_csv("gold.csv", "Date,Price\n2020-01,1\n")
    web.server.inject("500", times=10)
    with pytest.raises(SourceError) as caught:
        source({"GOLD": {"url": url, **GOLD}}, http, attempts=3).fetch("GOLD")
    assert caught.value.retryable and "HTTP 500" in caught.value.message
    assert web.count("gold.csv") == 3


def test_a_hanging_server_times_out(web: CsvWebFake, http: httpx.Client) -> None:
    url = web.serve_csv("slow.csv", "Date,Price\n2020-01,1\n")
    web.hang("slow.csv", 3.0)
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        source({"S": {"url": url, **GOLD}}, http, timeout=0.3, attempts=2).fetch("S")
    assert time.monotonic() - started < 2.5  # two bounded attempts, not two 3 s waits
    assert caught.value.retryable and "timed out" in caught.value.message


@pytest.mark.parametrize(("body", "fmt", "message"), [
    (b"<html><body>Maintenance</body></html>", "csv", "no column 'Date'"),
    (b"Date,Price\n2020-01,12.5\n2020-02,n/a?\n", "csv", "gold.csv:3: Price = 'n/a?'"),
    (b"Date,Price\n2020-13,12.5\n", "csv", "gold.csv:2: Date = '2020-13' is not an ISO"),
    (b"Date,Price\n", "csv", "no observations in column 'Price'"),
    (b"\xff\xfe\x00garbage", "csv", "not UTF-8"),
    (b"<html>oops</html>", "json", "not JSON"),
    (b'{"data": {"obs": []}}', "json", "no 'data.observations' in the JSON"),
    (b'{"data": {"observations": [{"day": 1}]}}', "json", "record 1: not an object with"),
])
def test_garbage_is_a_clear_error(web: CsvWebFake, http: httpx.Client, body: bytes, fmt: str,
                                  message: str) -> None:
    url = web.serve_raw("gold.csv", body)
    options: dict[str, Any] = {"url": url, "format": fmt, **GOLD}
    if fmt == "json":
        options |= {"path": "data.observations"}
    with pytest.raises(SourceError) as caught:
        source({"GOLD": options}, http).fetch("GOLD")
    assert message in caught.value.message
    assert not caught.value.retryable


def test_a_series_the_rules_do_not_declare(http: httpx.Client) -> None:
    with pytest.raises(SourceError, match="no `source: csv` series has this id"):
        source({}, http).fetch("GOLD")


def test_through_the_fetcher_garbage_stores_nothing_and_a_jump_is_refused(
    web: CsvWebFake, gold_text: bytes, http: httpx.Client, sqlite_url: str
) -> None:
    url = web.serve_raw("gold.csv", b"<html>Service temporarily unavailable</html>")
    store = Store(sqlite_url)
    try:
        fetcher = Fetcher(store, source({"GOLD": {"url": url, **GOLD}}, http), clock=lambda: NOW)
        [failed] = fetcher.poll(["GOLD"]).results
        assert failed.outcome == "failed" and "no column 'Date'" in (failed.error or "")
        assert store.series("GOLD").empty
        [status] = store.status()
        assert (status.series, status.source) == ("GOLD", "csv") and status.last_error

        web.serve_csv("gold.csv", gold_text)
        [ok] = fetcher.poll(["GOLD"]).results
        assert (ok.outcome, ok.new_rows, ok.last_obs) == ("updated", 2322, date(2026, 6, 1))

        # A publisher's unit slip (ounces to grams, x1000...) is held back by the guard.
        slipped = gold_text.decode().rstrip("\n") + "\n2026-07,4250000.0\n"
        web.serve_csv("gold.csv", slipped)
        [refused] = fetcher.poll(["GOLD"]).results
        assert refused.outcome == "failed" and "implausible" in (refused.error or "")
        assert store.series("GOLD").index[-1] == pd.Timestamp("2026-06-01")
    finally:
        store.close()


def test_a_json_body_is_served_as_json(web: CsvWebFake, http: httpx.Client) -> None:
    url = web.serve_json("plain.json", [{"d": "2021", "v": 1}, {"d": "2022", "v": 2}])
    values = source({"P": {"url": url, "format": "json", "date": "d", "value": "v"}},
                    http).fetch("P").values
    assert list(values) == [1.0, 2.0] and values.index[0] == pd.Timestamp("2021-01-01")
    assert json.loads(web.documents["/plain.json"].body)[0]["d"] == "2021"
