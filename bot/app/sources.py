"""Which sources the service polls and how, from the registry (sources/registry.py): the data
directory (plus sources it does not replace, e.g. csv) on a fixed interval, or every network
source on its release calendar."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.ingest.calendar import SourceSchedule, schedule_of
from bot.ingest.fetcher import Fetcher, PollResult
from bot.ingest.poller import PollOnce, fetcher_poll, with_fast_poll
from bot.ingest.releases import confirm_decisions
from bot.runtime.clock import Clock
from bot.store import Store
from rules import RuleSet
from sources.files import FileSource
from sources.limits import FetchLimits
from sources.registry import REGISTRY, Options, SourceContext, SourceEntry, polled

SeriesFor = Callable[..., Sequence[str]]  # series_for("fred") -> the ids the rules need

log = logging.getLogger("cyclewatch.fetch")


@dataclass(frozen=True)
class PlannedSource:
    """One source to poll: its schedule, the poll itself, and a fixed interval if any."""

    schedule: SourceSchedule
    poll: PollOnce
    fixed_every: timedelta | None = None


def rules_options(current: Callable[[], RuleSet | None]) -> Options:
    """(source, series id) -> the options the running rules give that series (read at each
    fetch, so a reloaded rules file takes effect at the next poll)."""

    def options(source: str, series_id: str) -> dict[str, Any]:
        ruleset = current()
        found = ruleset is not None and next(
            (i.spec.options for i in ruleset.inputs if i.source == source and i.id == series_id),
            None,
        )
        return dict(found) if found else {}

    return options


def source_context(
    settings: Settings, http: httpx.Client, *, data_dir: Path | None, options: Options,
    attempts: int = 3, retry_wait: float | None = None,
) -> SourceContext:
    """The registry's build context from the settings (relative csv paths resolve against
    the data directory, else the rules file's directory, and must lie under it). The
    retries wait `retry_wait`, by default CYCLEWATCH_SOURCE_RETRY_SECONDS."""
    key = settings.fred_api_key
    if retry_wait is None:
        retry_wait = settings.source_retry_seconds
    return SourceContext(
        http=http, timeout=settings.fred_timeout, attempts=attempts, retry_wait=retry_wait,
        fred_api_key=key.get_secret_value() if key else None,
        fred_api_url=settings.fred_api_url, fred_graph_url=settings.fred_graph_url,
        fred_rate=settings.fred_rate, fiscaldata_url=settings.fiscaldata_url,
        fed_feeds_url=settings.fed_feeds_url, treasury_press_url=settings.treasury_press_url,
        data_dir=data_dir, base_dir=data_dir or settings.rules_path.resolve().parent,
        options=options, limits=fetch_limits(settings), mirrors=settings.csv_mirrors,
    )


def fetch_limits(settings: Settings) -> FetchLimits:
    """The caps of one read of a rules-file source (`CYCLEWATCH_FETCH_*`)."""
    return FetchLimits(max_bytes=settings.fetch_max_bytes,
                       max_body_bytes=settings.fetch_max_body_bytes,
                       max_rows=settings.fetch_max_rows, max_seconds=settings.fetch_max_seconds)


def fetcher_for(entry: SourceEntry, ctx: SourceContext, store: Store, clock: Clock,
                *, vintages: bool = False) -> Fetcher:
    """A Fetcher of the entry's source, incremental when the entry says so."""
    return Fetcher(store, entry.build(ctx), clock=clock, vintages=vintages,
                   overlap=entry.overlap)


def planned_sources(
    store: Store, ctx: SourceContext, series_for: SeriesFor, clock: Clock, *,
    fast_every: timedelta | None, every: timedelta,
) -> list[PlannedSource]:
    """One poll per source. With a data directory (`ctx.data_dir`): its files for every
    series whose source they replace, plus each source they do not (csv), every `every`.
    Without: each network source on its calendar. The service backs off between polls
    itself, so `ctx` should give the adapters a small retry budget."""

    def confirm(now: datetime, _result: PollResult) -> None:
        confirm_decisions(store, now)

    after = {"fred": confirm, "fomc": confirm}  # a decision is confirmed by FRED's range
    planned = []
    if ctx.data_dir is not None:
        replaced = [e.name for e in REGISTRY if e.data_dir_replaces or e.name == "files"]
        files = next(e for e in REGISTRY if e.name == "files")
        fetcher = fetcher_for(files, ctx, store, clock)
        assert isinstance(fetcher.source, FileSource)  # the registry's files entry
        planned.append(PlannedSource(
            schedule_of("files", files.hints),
            fetcher_poll(fetcher, held_by(fetcher.source, lambda: series_for(*replaced))),
            every))
        entries = [e for e in REGISTRY if e.network and not e.data_dir_replaces]
    else:
        entries = [e for e in REGISTRY if e.network]
    for entry in entries:
        schedule = schedule_of(entry.name, entry.hints)
        if ctx.data_dir is None:
            [schedule] = with_fast_poll([schedule], fast_every)
        ids = _ids(entry, series_for)
        poll = fetcher_poll(fetcher_for(entry, ctx, store, clock), ids, after.get(entry.name))
        planned.append(PlannedSource(schedule, poll, every if ctx.data_dir else None))
    return planned


def held_by(source: FileSource, wanted: Callable[[], Sequence[str]]) -> Callable[[], list[str]]:
    """The wanted series a data directory holds; the others are named once (a warning, not
    a failed fetch on every poll: the rules see no data for them, as with any unknown)."""
    told: set[str] = set()

    def ids() -> list[str]:
        names = wanted()
        held = set(source.series_ids())
        missing = sorted(set(names) - held - told)
        if missing:
            log.warning("%s holds no %s: the rules see no data for %s",
                        source.root, ", ".join(missing),
                        "it" if len(missing) == 1 else "them")
            told.update(missing)
        return [name for name in names if name in held]

    return ids


def _ids(entry: SourceEntry, series_for: SeriesFor) -> Callable[[], list[str]]:
    return lambda: polled(entry, series_for(entry.name))
