"""Fetcher against the fake FRED: skip unchanged, revisions, failures noted, one-line log latch."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pandas as pd
import pytest
from rich.console import Console

from bot.cli.fetch import poll_with_progress
from bot.ingest.fetcher import Fetcher
from bot.store import Store
from sources.fred import FredSource
from tests.fakes.fred import FakeFred
from tests.sources.conftest import make_source

H41 = ["WALCL", "TREAST", "WRESBAL"]


class Clock:
    """A settable clock for the store's fetch stamps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 10, 9, 21, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


def test_nothing_new_means_no_observation_requests_and_a_revision_is_kept(
    fred: FakeFred, http: httpx.Client, store: Store, clock: Clock
) -> None:
    fetcher = Fetcher(store, make_source(fred, http, keyed=True, rate=50), clock=clock)
    first = fetcher.poll(H41)
    assert [r.outcome for r in first.results] == ["updated"] * 3
    assert first.new_rows == sum(len(fred.latest(s)) for s in H41)
    requests = fred.count("observations")

    again = fetcher.poll(H41)
    assert [r.outcome for r in again.results] == ["unchanged"] * 3
    assert fred.count("observations") == requests  # only /fred/series was asked

    day, revised_on = date(2026, 10, 7), date(2026, 10, 22)
    old = fred.latest("WALCL")[day]
    assert old is not None
    fred.revise("WALCL", day, old - 500.0, on=revised_on)
    clock.now = datetime(2026, 10, 22, 21, 0, tzinfo=UTC)
    third = fetcher.poll(H41)
    assert [r.outcome for r in third.results] == ["updated", "unchanged", "unchanged"]
    assert third.new_rows == 1
    assert fred.count("observations") == requests + 1

    known_before = store.series("WALCL", as_of=revised_on - timedelta(days=1))
    assert known_before[pd.Timestamp(day)] == old
    assert store.series("WALCL")[pd.Timestamp(day)] == old - 500.0
    assert store.has_vintages("WALCL")


def test_unreachable_is_logged_once_and_recovery_once_without_traceback(
    fred: FakeFred,
    http: httpx.Client,
    sqlite_store: Store,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = make_source(fred, http, keyed=True, rate=50, attempts=2)
    fetcher = Fetcher(sqlite_store, source, clock=clock)
    fred.fail("series", "500", times=4)  # two polls' worth of failed attempts
    caplog.set_level(logging.INFO, logger="cyclewatch.fetch")

    down = fetcher.poll(H41)
    assert not down.ok
    assert [r.outcome for r in down.results] == ["failed", "skipped", "skipped"]
    assert fred.count("series") == 2  # the rest of the poll was not tried
    still_down = fetcher.poll(H41)
    assert not still_down.ok
    back = fetcher.poll(H41)
    assert back.ok
    assert [r.outcome for r in back.results] == ["updated"] * 3

    lines = [r.getMessage() for r in caplog.records]
    unreachable = [m for m in lines if "unreachable" in m]
    assert len(unreachable) == 1
    assert unreachable[0].startswith("FRED unreachable: ")
    assert unreachable[0].endswith("; retrying with backoff")
    assert lines.count("FRED reachable again") == 1
    assert all(r.exc_info is None and "Traceback" not in r.getMessage() for r in caplog.records)


def test_failures_are_noted_in_the_store_and_cleared_by_success(
    fred: FakeFred, http: httpx.Client, sqlite_store: Store, clock: Clock
) -> None:
    fetcher = Fetcher(sqlite_store, make_source(fred, http, keyed=True, rate=50), clock=clock)
    fetcher.poll(["WALCL"])
    fred.fail("series", "500", times=10)
    fetcher.poll(["WALCL"])
    status = {s.series: s for s in sqlite_store.status()}
    assert status["WALCL"].last_error is not None
    assert "error page" in status["WALCL"].last_error
    assert status["WALCL"].rows == len(fred.latest("WALCL"))  # nothing lost
    fred.faults.clear()
    fetcher.poll(["WALCL"])
    assert {s.series: s for s in sqlite_store.status()}["WALCL"].last_error is None


def test_a_permanent_error_is_logged_once_and_does_not_stop_the_poll(
    fred: FakeFred,
    http: httpx.Client,
    sqlite_store: Store,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetcher = Fetcher(sqlite_store, make_source(fred, http, keyed=True, rate=50), clock=clock)
    for _ in range(2):
        result = fetcher.poll(["NOSUCHSERIES", "WALCL"])
        assert result.ok  # waiting would not help; a person must fix rules.yaml
        assert result.results[0].outcome == "failed"
        assert result.results[1].outcome in ("updated", "unchanged")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "check the series id in rules.yaml" in errors[0]


async def test_run_once_polls_off_the_event_loop(
    fred: FakeFred, http: httpx.Client, sqlite_store: Store, clock: Clock
) -> None:
    fetcher = Fetcher(sqlite_store, make_source(fred, http, keyed=False, rate=50), clock=clock)
    assert await fetcher.run_once(["WALCL"]) is True
    assert len(sqlite_store.series("WALCL")) == len(fred.latest("WALCL"))
    fred.fail("fredgraph", "500", times=10)
    assert await fetcher.run_once(["WALCL"]) is False


def test_a_bad_key_is_logged_once_for_all_series(
    fred: FakeFred,
    http: httpx.Client,
    sqlite_store: Store,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FredSource(api_key="q" * 32, api_url=f"{fred.url}/fred", http=http, rate=50)
    fetcher = Fetcher(sqlite_store, source, clock=clock)
    result = fetcher.poll([*H41, "NOSUCHSERIES"])
    assert [r.outcome for r in result.results] == ["failed"] * 4
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "check FRED_API_KEY" in errors[0]
    fred.api_keys.add("q" * 32)
    fetcher.poll(["NOSUCHSERIES", "NOSUCHSERIES2"])
    unknown = [r.getMessage() for r in caplog.records if "rules.yaml" in r.getMessage()]
    assert len(unknown) == 2  # one line per unknown series


@pytest.mark.parametrize("terminal", [True, False], ids=["progress-bar", "plain-lines"])
def test_progress_output(
    fred: FakeFred, http: httpx.Client, sqlite_store: Store, clock: Clock, terminal: bool
) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100)
    fetcher = Fetcher(sqlite_store, make_source(fred, http, keyed=False, rate=50), clock=clock)
    result = poll_with_progress(fetcher, [*H41, "NOSUCHSERIES"], console)
    assert result.count("updated") == 3
    text = out.getvalue()
    assert "NOSUCHSERIES" in text and "check the series id in rules.yaml" in text
    if terminal:
        assert "4/4" in text
    else:
        assert [line.split()[0] for line in text.splitlines()] == [*H41, "NOSUCHSERIES"]
