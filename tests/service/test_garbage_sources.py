"""Garbage from FRED over HTTP (keyless fredgraph.csv from the fake): a zero where millions
belong, `.` everywhere, truncated and HTML bodies are refused with a clear error and lose
nothing; polling heals on its own when the source does; a renamed value column still parses.
The running service, fed the zero, fires no alert."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from bot.app.service import Service
from bot.config import load_settings
from bot.ingest.calendar import EASTERN
from bot.ingest.fetcher import Fetcher
from bot.runtime.scheduler import Timing
from bot.store import Store
from tests.fakes.fred import FakeFred
from tests.sources.conftest import make_source

LAST = date(2026, 10, 7)  # WALCL's newest week in the history: 6,747,560
NEXT = LAST + timedelta(days=7)


@pytest.fixture
def fred(history_dir: Path) -> Iterator[FakeFred]:
    with FakeFred(history_dir, today=date(2026, 11, 20)).running() as fake:
        yield fake


@pytest.fixture
def loaded(fred: FakeFred, sqlite_url: str) -> Iterator[tuple[Fetcher, Store]]:
    """A keyless Fetcher against the fake whose store already holds WALCL and TREAST."""
    with httpx.Client(timeout=5.0) as http:
        store = Store(sqlite_url)

        def clock() -> datetime:
            return datetime(2026, 10, 15, 21, 0, tzinfo=UTC)

        fetcher = Fetcher(store, make_source(fred, http, keyed=False, rate=100), clock=clock)
        assert fetcher.poll(["WALCL", "TREAST"]).ok
        yield fetcher, store
        store.close()


def csv_of(fred: FakeFred, series_id: str, header: str | None = None) -> str:
    """The fake's current fredgraph.csv body for `series_id`, with another header if given."""
    rows = "".join(
        f"{d.isoformat()},{v:.10g}\n"
        for d, v in sorted(fred.latest(series_id).items())
        if v is not None
    )
    return (header or f"observation_date,{series_id}") + "\n" + rows


def last_error(store: Store, series_id: str) -> str | None:
    return {s.series: s for s in store.status()}[series_id].last_error


def test_a_zero_is_refused_then_the_healed_value_is_stored(
    fred: FakeFred, loaded: tuple[Fetcher, Store], caplog: pytest.LogCaptureFixture
) -> None:
    fetcher, store = loaded
    before = store.series("WALCL")
    fred.publish("WALCL", NEXT, 0.0, on=NEXT + timedelta(days=1))
    for _ in range(2):
        result = fetcher.poll(["WALCL", "TREAST"])
        walcl, treast = result.results
        assert walcl.outcome == "failed" and walcl.retryable and not result.ok
        assert walcl.error == (
            "implausible data from fredgraph: 0 on 2026-10-14 after 6,747,560 "
            "(kept the previous values)"
        )
        assert treast.outcome == "updated"  # the other series are still fetched
        pd.testing.assert_series_equal(store.series("WALCL"), before)
        assert last_error(store, "WALCL") == walcl.error
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"WALCL: {walcl.error}"]  # once, not on every poll

    fred.revise("WALCL", NEXT, 6_760_000.0, on=NEXT + timedelta(days=2))
    healed = fetcher.poll(["WALCL"])
    assert healed.ok and healed.results[0].outcome == "updated"
    assert healed.new_rows == 1 and healed.results[0].last_obs == NEXT
    assert store.series("WALCL")[pd.Timestamp(NEXT)] == 6_760_000.0
    assert last_error(store, "WALCL") is None
    assert "WALCL: plausible data from fredgraph again" in caplog.text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            lambda csv: (
                "observation_date,WALCL\n"
                + "".join(f"{line.split(',')[0]},.\n" for line in csv.splitlines()[1:])
            ),
            "no observations",
        ),
        (
            lambda csv: "\n".join(csv.splitlines()[:400]),
            "399 observations where the store holds 1,243",
        ),
        (lambda csv: csv.rstrip()[:-5], "2026-10-07 revised from 6,747,560 to 67"),  # "…,67"
        (lambda csv: csv.rstrip()[:-12], ":1244: 1 fields where the header has 2"),  # "2026-1"
        (lambda csv: "<!DOCTYPE html><html><body>Maintenance</body></html>", "not a FRED-format"),
    ],
    ids=["dots-everywhere", "truncated-history", "truncated-value", "truncated-row", "html"],
)
def test_garbage_bodies_get_a_clear_error_and_lose_nothing(
    fred: FakeFred, loaded: tuple[Fetcher, Store], body: Callable[[str], str], says: str
) -> None:
    fetcher, store = loaded
    before = store.series("WALCL")
    fred.serve_csv("WALCL", body(csv_of(fred, "WALCL")))
    result = fetcher.poll(["WALCL"]).results[0]
    assert result.outcome == "failed" and result.error is not None and says in result.error
    pd.testing.assert_series_equal(store.series("WALCL"), before)
    assert last_error(store, "WALCL") == result.error
    fred.serve_csv("WALCL", None)
    assert fetcher.poll(["WALCL"]).results[0].outcome == "updated"
    assert last_error(store, "WALCL") is None


@pytest.mark.parametrize("header", ["DATE,WALCL", "observation_date,VALUE", "date,value"])
def test_a_renamed_header_still_parses_by_position(
    fred: FakeFred, loaded: tuple[Fetcher, Store], header: str
) -> None:
    fetcher, _store = loaded
    expected = fetcher.source.fetch("WALCL").values
    fred.serve_csv("WALCL", csv_of(fred, "WALCL", header))
    pd.testing.assert_series_equal(fetcher.source.fetch("WALCL").values, expected)
    assert fetcher.poll(["WALCL"]).results[0].outcome == "updated"


RULES = """\
series:
  total_assets: {source: fred, id: WALCL, fresh: 100y}
rules:
  - id: assets_collapsed
    title: Fed total assets below one trillion
    when: "total_assets < 1000000"
"""


async def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_service_fires_no_alert_on_a_zero(fred: FakeFred, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    closed = "http://127.0.0.1:9"
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        FRED_GRAPH_URL=f"{fred.url}/graph/fredgraph.csv",
        FRED_RATE_PER_SECOND=50,
        FISCALDATA_URL=closed,
        FED_FEEDS_URL=closed,
        TREASURY_PRESS_URL=closed,
    )
    timing = Timing.model_validate(
        {
            "CYCLEWATCH_RETRY_MIN_SECONDS": 0.1,
            "CYCLEWATCH_RETRY_MAX_SECONDS": 0.3,
            "CYCLEWATCH_RELEASE_POLL_SECONDS": 0.2,
            "CYCLEWATCH_POLL_SECONDS": 0.2,
        }
    )
    # One minute after the H.4.1 release of 2026-10-08 (history up to there is silent), then
    # of 2026-10-15, so FRED is polled fast and the week of 2026-10-14 is due.
    began, at = time.monotonic(), [datetime(2026, 10, 8, 16, 31, tzinfo=EASTERN)]

    def clock() -> datetime:
        return (at[0] + timedelta(seconds=time.monotonic() - began)).astimezone(UTC)

    service = Service(settings, timing, rules_path=rules, clock=clock)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 30)
        poll = service.state.polls["fred"]
        await until(lambda: service.state.evaluations > 0, "an evaluation of the history")
        fred.publish("WALCL", NEXT, 0.0, on=NEXT)
        at[0] += timedelta(days=7)
        await until(
            lambda: poll.last_error is not None and "implausible" in poll.last_error,
            "the zero refused",
        )
        seen = service.state.evaluations
        await until(lambda: service.state.evaluations > seen + 1, "evaluations after it")
        fred.revise("WALCL", NEXT, 6_760_000.0, on=NEXT + timedelta(days=1))
        await until(lambda: poll.last_error is None and poll.failures == 0, "healing")
        samples = {
            (s.name, s.labels.get("state")): s.value
            for m in service.metrics.registry.collect()
            for s in m.samples
        }
        assert samples.get(("cyclewatch_events_total", "firing"), 0) == 0  # no false alert
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, 30) == 0
