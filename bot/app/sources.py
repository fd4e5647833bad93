"""Which sources the service polls and how: the data directory on a fixed interval, or FRED,
Fiscal Data and the Fed and Treasury press feeds on the release calendar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from bot.config import Settings
from bot.ingest.calendar import DEFAULT_SCHEDULES, SourceSchedule
from bot.ingest.fetcher import Fetcher
from bot.ingest.poller import FeedPoll, PollOnce, fetcher_poll, with_fast_poll
from bot.ingest.releases import poll_fomc, poll_refunding
from bot.runtime.clock import Clock
from bot.store import Store
from sources.files import FileSource
from sources.fomc import FomcSource
from sources.fred import FredSource
from sources.refunding import RefundingSource
from sources.treasury import TreasurySource

SeriesFor = Callable[..., Sequence[str]]  # series_for("fred") -> the ids the rules need


@dataclass(frozen=True)
class PlannedSource:
    """One source to poll: its schedule, the poll itself, and a fixed interval if any."""

    schedule: SourceSchedule
    poll: PollOnce
    fixed_every: timedelta | None = None


def data_dir_source(store: Store, data_dir: Path, series_for: SeriesFor, clock: Clock,
                    every: timedelta) -> list[PlannedSource]:
    """An offline data directory: every rule input, read from files on a fixed interval."""
    files = Fetcher(store, FileSource(data_dir), clock=clock)
    return [PlannedSource(SourceSchedule("files", ()), fetcher_poll(files, series_for), every)]


def network_sources(
    settings: Settings, store: Store, http: httpx.Client, series_for: SeriesFor, clock: Clock,
    fast_every: timedelta | None,
) -> list[PlannedSource]:
    """FRED, Fiscal Data, the Fed's and the Treasury's press feeds, on their schedules.

    The service backs off between polls itself, so the adapters retry only briefly.
    """
    schedules = {s.name: s for s in with_fast_poll(DEFAULT_SCHEDULES, fast_every)}
    key = settings.fred_api_key
    fred = Fetcher(store, FredSource(
        api_key=key.get_secret_value() if key else None, api_url=settings.fred_api_url,
        graph_url=settings.fred_graph_url, http=http, timeout=settings.fred_timeout,
        rate=settings.fred_rate, attempts=2, backoff=1.0,
    ), clock=clock)
    treasury = Fetcher(store, TreasurySource(settings.fiscaldata_url, http, attempts=2,
                                             retry_wait=1.0), clock=clock)
    fomc = FomcSource(settings.fed_feeds_url, http)
    refunding = RefundingSource(settings.treasury_press_url, http)
    engine = store.engine
    return [
        PlannedSource(schedules["fred"], fetcher_poll(fred, lambda: series_for("fred"))),
        PlannedSource(schedules["treasury"],
                      fetcher_poll(treasury, lambda: series_for("treasury"))),
        PlannedSource(schedules["fomc"], FeedPoll(
            "Fed press releases", lambda now: poll_fomc(engine, fomc, now))),
        PlannedSource(schedules["refunding"], FeedPoll(
            "Treasury press releases", lambda now: poll_refunding(engine, refunding, now))),
    ]
