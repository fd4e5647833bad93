"""Polls through the registry's fetchers: Treasury incremental (a `since` filter, whole months),
and the FOMC and refunding feeds as ordinary sources that still write the `releases` table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from bot.app.sources import fetcher_for, planned_sources, source_context
from bot.config import load_settings
from bot.ingest.releases import stored_releases
from bot.store import Store
from sources.base import Source
from sources.files import FileSource
from sources.fomc import FomcSource
from sources.refunding import RefundingSource
from sources.registry import SourceContext, entry
from tests.fakes.fedrss import FedFeedsFake
from tests.fakes.fiscaldata import FiscalDataFake
from tests.releases.test_fomc import DEC_2025, SEP_2026, WHEN

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
REFUNDING = ["The Treasury anticipates maintaining nominal coupon and FRN new issue auction "
             "sizes for at least the next several quarters."]


class Metered:
    """An httpx client that keeps the size of every response body it received."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.client = httpx.Client(timeout=5.0, event_hooks={"response": [self._seen]})

    def _seen(self, response: httpx.Response) -> None:
        response.read()
        self.sizes.append(len(response.content))


@pytest.fixture
def metered() -> Iterator[Metered]:
    meter = Metered()
    with meter.client:
        yield meter


def test_a_treasury_poll_after_the_first_asks_only_for_recent_whole_months(
    fiscal_fake: FiscalDataFake, metered: Metered, sqlite_url: str,
    mspd_csv_rows: list[dict[str, str]],
) -> None:
    treasury = entry("treasury")
    ctx = SourceContext(http=metered.client, fiscaldata_url=fiscal_fake.url, retry_wait=0)
    store = Store(sqlite_url)
    try:
        fetcher = fetcher_for(treasury, ctx, store, lambda: NOW)
        [first] = fetcher.poll(["bill_share"]).results
        full_bytes, full_requests = sum(metered.sizes), len(fiscal_fake.server.requests)
        assert first.outcome == "updated" and first.last_obs == date(2026, 5, 31)
        assert "filter" not in fiscal_fake.server.requests[0]
        metered.sizes.clear()
        [second] = fetcher.poll(["bill_share"]).results
        assert second.outcome == "updated" and second.new_rows == 0
        asked = fiscal_fake.server.requests[full_requests:]
        # newest 2026-05-31 minus 62 days is 2026-03-30, moved back to the first of March
        assert len(asked) == 1 and "filter=record_date%3Agte%3A2026-03-01" in asked[0]
        incremental_bytes = sum(metered.sizes)
        march_on = [r for r in mspd_csv_rows if r["Record Date"] >= "2026-03-01"]
        assert 0 < len(march_on) < len(mspd_csv_rows) / 50
        assert incremental_bytes * 50 < full_bytes, (incremental_bytes, full_bytes)
        share = store.series("bill_share")
        assert len(share) == len({r["Record Date"] for r in mspd_csv_rows})
    finally:
        store.close()


def test_fomc_and_refunding_are_sources_whose_polls_record_releases(
    sqlite_url: str, history_dir: Path
) -> None:
    fed = FedFeedsFake()
    fed.add_fomc_statement(WHEN, DEC_2025)
    refunding_url = fed.add_treasury("Quarterly Refunding Statement of Assistant Secretary",
                                     datetime(2026, 5, 6, 12, 30, tzinfo=UTC), REFUNDING)
    store = Store(sqlite_url)
    with fed.server.running(), httpx.Client(timeout=5.0) as http:
        ctx = SourceContext(http=http, fed_feeds_url=fed.feeds_url,
                            treasury_press_url=fed.treasury_press_url)
        fomc, refunding = entry("fomc").build(ctx), entry("refunding").build(ctx)
        assert isinstance(fomc, FomcSource) and isinstance(refunding, RefundingSource)
        assert isinstance(fomc, Source) and isinstance(refunding, Source)
        fomc_fetcher = fetcher_for(entry("fomc"), ctx, store, lambda: NOW)
        result = fomc_fetcher.poll(entry("fomc").offers)
        assert result.count("updated") == 3
        feed_reads = sum("press_monetary" in r for r in fed.server.requests)
        assert feed_reads == 1  # one poll of three series reads the feed once
        day = pd.Timestamp("2025-12-10")
        assert store.series("fomc_target_upper")[day] == 3.75
        assert store.series("fomc_target_lower")[day] == 3.5
        assert store.series("fomc_decision")[day] == -1.0
        [record] = stored_releases(store.engine, "fomc_statement")
        assert record.data["decision"] == "cut"

        fed.add_fomc_statement(datetime(2026, 9, 16, 18, 0, tzinfo=UTC), SEP_2026)
        fomc_fetcher.source = entry("fomc").build(ctx)  # past the feed's reuse window
        assert fomc_fetcher.poll(["fomc_decision"]).new_rows == 1
        assert store.series("fomc_decision")[pd.Timestamp("2026-09-16")] == 1.0
        assert len(stored_releases(store.engine, "fomc_statement")) == 2

        sizes = fetcher_for(entry("refunding"), ctx, store, lambda: NOW)
        assert sizes.poll(["refunding_coupon_sizes"]).new_rows == 1
        assert store.series("refunding_coupon_sizes").to_dict() == {
            pd.Timestamp("2026-05-06"): 0.0}
        [statement] = stored_releases(store.engine, "refunding_statement")
        assert (statement.key, statement.data["coupon_sizes"]) == (refunding_url, "kept")
    store.close()


def test_the_service_fomc_poll_confirms_a_decision_against_the_stored_fred_range(
    sqlite_url: str, history_dir: Path
) -> None:
    fed = FedFeedsFake()
    fed.add_fomc_statement(WHEN, DEC_2025)
    store = Store(sqlite_url)
    closed = "http://127.0.0.1:9"
    settings = load_settings(CYCLEWATCH_DB_URL=sqlite_url, FED_FEEDS_URL=fed.feeds_url,
                             FRED_GRAPH_URL=closed, FISCALDATA_URL=closed,
                             TREASURY_PRESS_URL=closed)
    files = FileSource(history_dir)
    for series_id in ("DFEDTARU", "DFEDTARL"):  # FRED shows 3.50-3.75 from 2025-12-11
        store.record("fred", files.fetch(series_id), NOW)
    with fed.server.running(), httpx.Client(timeout=5.0) as http:
        ctx = source_context(settings, http, data_dir=None, options=lambda _s, _i: {},
                             attempts=1)
        polls = {p.schedule.name: p.poll for p in planned_sources(
            store, ctx, lambda *_: [], lambda: NOW, fast_every=None, every=timedelta(0))}
        assert set(polls) == {"fred", "treasury", "fomc", "refunding", "csv"}
        assert polls["fomc"](NOW).new_rows == 3
    [record] = stored_releases(store.engine, "fomc_statement")
    assert record.data["confirmation"] == "confirmed"
    assert "3.5-3.75% from 2025-12-11" in record.data["confirmation_detail"]
    store.close()
