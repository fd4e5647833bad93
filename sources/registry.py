"""The one list of sources: how to build each, what it offers, how it is polled.

The service (bot/app/sources.py) and the command line (bot/cli/fetch.py) both build their
sources from `REGISTRY`; the rules loader checks each series' source name and options against
`option_schemas()`. Adding a source is one module in sources/ and one `SourceEntry` line here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from sources.base import Source, SourceError
from sources.csv import CsvOptions, CsvSource
from sources.files import FileSource
from sources.fiscal import AUCTION_SERIES, MSPD_SERIES
from sources.fomc import SERIES as FOMC_SERIES
from sources.fomc import FomcSource
from sources.fred import DEFAULT_FRED_SERIES, FredSource
from sources.limits import FetchLimits
from sources.refunding import SERIES as REFUNDING_SERIES
from sources.refunding import RefundingSource
from sources.treasury import TreasurySource
from sources.web import DEFAULT_LIMITS

Options = Callable[[str, str], Mapping[str, Any]]  # (source, series id) -> its rules options


@dataclass(frozen=True)
class SourceContext:
    """What building a source may use: endpoints, the shared HTTP client, retry budget, keys,
    directories, and the per-series options the rules declare."""

    http: httpx.Client
    timeout: float = 30.0
    attempts: int = 3
    retry_wait: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    fred_api_key: str | None = None
    fred_api_url: str = "https://api.stlouisfed.org/fred"
    fred_graph_url: str = "https://fred.stlouisfed.org/graph/fredgraph.csv"
    fred_rate: float = 2.0
    fiscaldata_url: str = "https://api.fiscaldata.treasury.gov/services/api/fiscal_service"
    fed_feeds_url: str = "https://www.federalreserve.gov/feeds"
    treasury_press_url: str = "https://home.treasury.gov/news/press-releases/feed"
    data_dir: Path | None = None  # the offline directory (`--data DIR`)
    base_dir: Path | None = None  # where relative paths in the rules resolve (and must lie)
    options: Options = field(default=lambda _source, _series: {})
    limits: FetchLimits = DEFAULT_LIMITS  # caps of each read of a rules-file source
    mirrors: Mapping[str, str] = field(default_factory=dict)  # URL prefix -> replacement


@dataclass(frozen=True)
class PollHints:
    """How the service polls a source (plain data; bot.ingest.calendar makes a schedule of
    it): the release kinds that update it, the window after a release in which it is polled
    every `fast_every` (never faster than `rate_floor`), and the slow safety poll."""

    kinds: tuple[str, ...] = ()
    window: timedelta = timedelta(hours=3)
    fast_every: timedelta = timedelta(minutes=2)
    rate_floor: timedelta = timedelta(seconds=1)
    safety_every: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class SourceEntry:
    """One source: its name in rules.yaml, its builder, its options and what it serves.

    `offers` lists the series it serves whatever the rules say (empty: whatever the rules
    ask); `always` polls all of them even when no rule asks (so release records keep coming);
    `fallback` is polled when no rules file can be read. `options_within(root, folder)` is
    the options model that also checks the local paths a series names lie under `root`.
    `overlap` makes fetches incremental: from the newest stored observation minus it (None:
    full history every time). `network` False means it is used only with a data directory;
    `data_dir_replaces` True means a data directory's files stand in for it.
    """

    name: str
    build: Callable[[SourceContext], Source]
    options: type[BaseModel] | None = None
    options_within: Callable[[Path, str], type[BaseModel]] | None = None
    offers: tuple[str, ...] = ()
    always: bool = False
    fallback: tuple[str, ...] = ()
    overlap: timedelta | None = None
    hints: PollHints = PollHints()
    network: bool = True
    data_dir_replaces: bool = True


def _fred(ctx: SourceContext) -> Source:
    return FredSource(api_key=ctx.fred_api_key, api_url=ctx.fred_api_url,
                      graph_url=ctx.fred_graph_url, http=ctx.http, timeout=ctx.timeout,
                      rate=ctx.fred_rate, attempts=ctx.attempts, backoff=ctx.retry_wait,
                      sleep=ctx.sleep)


def _files(ctx: SourceContext) -> Source:
    if ctx.data_dir is None:
        raise SourceError("files", None, "`source: files` needs a data directory (--data DIR)")
    return FileSource(ctx.data_dir)


# FRED allows 120 requests a minute per key, shared by ~25 series, so a 2-minute cadence per
# poll of the H.4.1 set stays far below it; the Fed's and Treasury's sites state no limit, so
# they are asked at most every 30 s.
REGISTRY: tuple[SourceEntry, ...] = (
    SourceEntry("fred", _fred, fallback=DEFAULT_FRED_SERIES,
                hints=PollHints(("h41", "fomc", "daily"), window=timedelta(hours=2))),
    SourceEntry("treasury", lambda c: TreasurySource(
        c.fiscaldata_url, c.http, attempts=c.attempts, retry_wait=c.retry_wait, sleep=c.sleep),
        offers=(*MSPD_SERIES, *AUCTION_SERIES), overlap=timedelta(days=62),
        hints=PollHints(("mspd",), window=timedelta(hours=8), fast_every=timedelta(minutes=10),
                        safety_every=timedelta(hours=12))),
    SourceEntry("fomc", lambda c: FomcSource(c.fed_feeds_url, c.http, timeout=c.timeout,
                                             reuse_feed_for=2.0),
                offers=FOMC_SERIES, always=True, overlap=timedelta(days=1),
                hints=PollHints(("fomc",), window=timedelta(minutes=45),
                                fast_every=timedelta(seconds=30),
                                rate_floor=timedelta(seconds=30))),
    SourceEntry("refunding", lambda c: RefundingSource(c.treasury_press_url, c.http,
                                                       timeout=c.timeout),
                offers=REFUNDING_SERIES, always=True, overlap=timedelta(days=1),
                hints=PollHints(("refunding_financing", "refunding_statement"),
                                window=timedelta(hours=2), fast_every=timedelta(minutes=1),
                                rate_floor=timedelta(seconds=30))),
    SourceEntry("files", _files, network=False, data_dir_replaces=False),
    SourceEntry("csv", lambda c: CsvSource(
        c.http, lambda sid: c.options("csv", sid), base_dir=c.base_dir,
        offline=c.data_dir is not None, timeout=c.timeout, attempts=c.attempts,
        retry_wait=c.retry_wait, sleep=c.sleep, limits=c.limits, mirrors=c.mirrors),
        options=CsvOptions, options_within=CsvOptions.within, data_dir_replaces=False),
)


def entry(name: str) -> SourceEntry:
    """The registry entry called `name` (KeyError when there is none)."""
    for candidate in REGISTRY:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def option_schemas(
    root: Path | None = None, folder: str = "the data directory"
) -> dict[str, type[BaseModel] | None]:
    """Source name -> the pydantic model of its per-series options (None: it takes none),
    for `rules.load_rules(..., sources=option_schemas())`; with `root`, local paths must also
    lie under it (`folder` says what it is: the data directory or the rules file's folder)."""
    return {e.name: (e.options_within(root, folder) if root is not None and e.options_within
                     else e.options) for e in REGISTRY}


def route(
    declared: Mapping[str, str], wanted: Iterable[str], default: str = "fred"
) -> dict[str, list[str]]:
    """Which source serves each wanted series id: the one the rules declare it under
    (`declared`: id -> source), else the first entry that offers it, else `default`."""
    offered = {sid: e.name for e in reversed(REGISTRY) for sid in e.offers}
    plan: dict[str, list[str]] = {}
    for series_id in wanted:
        name = declared.get(series_id) or offered.get(series_id) or default
        plan.setdefault(name, []).append(series_id)
    return plan


def polled(entry_: SourceEntry, asked: Sequence[str]) -> list[str]:
    """The series a poll of `entry_` fetches: those the rules ask, plus every one it offers
    when it is polled `always`."""
    ids = [*asked, *(entry_.offers if entry_.always else ())]
    return sorted(set(ids))
