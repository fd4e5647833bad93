"""Refreshing the store from a source: `cyclewatch fetch`, `cyclewatch status`, and the
`Fetcher` the long-running service calls on every poll."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.config import Settings
from bot.ingest.plausibility import implausible
from bot.runtime.clock import Clock, utc_now
from bot.runtime.latch import OutageLatch
from bot.store import SeriesStatus, Store
from bot.store.schema import observations
from sources.base import Source, SourceError
from sources.files import FileSource
from sources.fred import FredSource
from sources.treasury import TreasurySource

log = logging.getLogger("cyclewatch.fetch")
Outcome = Literal["updated", "unchanged", "failed", "skipped"]

# The FRED ids of ../shared/data/fred: fetched when no rules file can be read.
DEFAULT_FRED_SERIES = (
    "BAMLH0A0HYM2", "CPIAUCSL", "DFEDTARL", "DFEDTARU", "DFF", "DFII10", "DGS10", "EFFR",
    "FEDFUNDS", "FYFSD", "GDP", "GFDEBTN", "IORB", "M2SL", "MTSDS133FMS", "NASDAQCOM", "NROU",
    "PCEPILFE", "RRPONTSYD", "SP500", "T10YIE", "THREEFYTP10", "TOTBKCR", "TREAST", "UNRATE",
    "WALCL", "WRESBAL", "WSHOMCB", "WTREGEN",
)  # fmt: skip


@dataclass(frozen=True)
class SeriesResult:
    """What one fetch of one series did."""

    series: str
    outcome: Outcome
    new_rows: int = 0
    last_obs: date | None = None
    error: str | None = None
    retryable: bool = False  # failed or skipped for a reason that waiting may cure


@dataclass(frozen=True)
class PollResult:
    """The results of one poll; `ok` is False when the source could not be reached."""

    results: tuple[SeriesResult, ...]

    @property
    def ok(self) -> bool:
        """No series was left unfetched for a reason that waiting may cure."""
        return not any(r.retryable for r in self.results)

    def count(self, *outcomes: Outcome) -> int:
        """How many series ended with one of `outcomes`."""
        return sum(r.outcome in outcomes for r in self.results)

    @property
    def new_rows(self) -> int:
        """Rows the poll added to the store (new observations and revisions)."""
        return sum(r.new_rows for r in self.results)


class Fetcher:
    """Fetches series from one source into the store, noting failures.

    It logs one line when the source becomes unreachable and one when it recovers, never a
    traceback; a permanent error (bad key, unknown series) is logged once per message. Data
    that `bot.ingest.plausibility` finds implausible next to the stored history is not recorded: the
    failure is noted (retryable, so polling goes on and heals with the source), logged once
    per series until good data come again.
    """

    def __init__(
        self, store: Store, source: Source, *, clock: Clock = utc_now, vintages: bool = False
    ) -> None:
        self.store = store
        self.source = source
        self.clock = clock
        self.vintages = vintages
        self.label: str = getattr(source, "label", source.name)
        self.latch = OutageLatch(self.label, log)
        self._reported: set[str] = set()
        self._implausible: dict[str, str] = {}  # series -> the rejection last logged

    def fetch_one(self, series_id: str) -> SeriesResult:
        """Fetch one series unless its publisher says nothing changed; record what came."""
        name = self.source.name
        try:
            stamp = self.source.last_updated(series_id)
            known = self.store.last_updated(series_id)
            if not self.vintages and stamp is not None and known is not None and stamp <= known:
                self.store.note_unchanged(series_id, name, self.clock())
                return SeriesResult(series_id, "unchanged", last_obs=self._last_obs(series_id))
            fetched = (
                self.source.fetch_vintages(series_id)
                if self.vintages and isinstance(self.source, FredSource)
                else self.source.fetch(series_id)
            )
        except SourceError as err:
            self._report(err)
            self.store.note_failure(series_id, name, err.message, self.clock())
            return SeriesResult(series_id, "failed", error=err.message, retryable=err.retryable)
        if fetched.last_updated is None:
            fetched = replace(fetched, last_updated=stamp)
        self.latch.recovered()
        reason = implausible(self.store.series(series_id), fetched.values)
        if reason is not None:
            return self._reject(series_id, reason)
        new_rows = self.store.record(name, fetched, self.clock())
        if self._implausible.pop(series_id, None) is not None:
            log.warning("%s: plausible data from %s again", series_id, name)
        newest = fetched.values.index.max() if len(fetched.values) else None
        last_obs = self._last_obs(series_id) if newest is None else newest.date()
        return SeriesResult(series_id, "updated", new_rows, last_obs)

    def poll(
        self, series_ids: Iterable[str], on_result: Callable[[SeriesResult], None] | None = None
    ) -> PollResult:
        """Fetch each series in turn; once the source is unreachable, skip the rest."""
        results: list[SeriesResult] = []
        for series_id in series_ids:
            if results and results[-1].retryable and self.latch.down:
                error = f"not tried: {self.label} unreachable"
                result = SeriesResult(series_id, "skipped", error=error, retryable=True)
            else:
                result = self.fetch_one(series_id)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return PollResult(tuple(results))

    async def run_once(self, series_ids: Iterable[str]) -> bool:
        """One poll off the event loop (the sources are synchronous); True when it went well."""
        result = await asyncio.to_thread(self.poll, list(series_ids))
        return result.ok

    def _reject(self, series_id: str, reason: str) -> SeriesResult:
        """Keep the stored values; note why, logged once per series while it lasts."""
        message = f"implausible data from {self.source.name}: {reason} (kept the previous values)"
        if self._implausible.get(series_id) != message:
            log.error("%s: %s", series_id, message)
        self._implausible[series_id] = message
        self.store.note_failure(series_id, self.source.name, message, self.clock())
        return SeriesResult(series_id, "failed", error=message, retryable=True)

    def _report(self, err: SourceError) -> None:
        if err.retryable:
            self.latch.failed(err.message)
            return
        # By message: a bad key fails every series with the same words, logged once.
        if err.message not in self._reported:
            self._reported.add(err.message)
            log.error("%s: %s", err.series_id or self.label, err.message)

    def _last_obs(self, series_id: str) -> date | None:
        with self.store.engine.connect() as conn:
            newest: date | None = conn.execute(
                sa.select(sa.func.max(observations.c.obs_date)).where(
                    observations.c.series == series_id
                )
            ).scalar()
        return newest


def rule_series(rules_path: Path, source: str = "fred") -> list[str]:
    """The ids the rules file reads from `source`; for FRED the built-in list when unreadable."""
    fallback = list(DEFAULT_FRED_SERIES) if source == "fred" else []
    try:
        from rules import RulesError, load_rules
    except ImportError:  # rules/ not in this build
        return fallback
    try:
        ruleset = load_rules(rules_path.read_text(encoding="utf-8"), str(rules_path))
    except OSError:
        return fallback
    except RulesError as err:
        log.warning("%s has problems (see `cyclewatch check`); fetching the default series: %s",
                    rules_path, err)  # fmt: skip
        return fallback
    return sorted({s.id for s in ruleset.inputs if s.source == source})


def build_plan(
    settings: Settings, data_dir: Path | None, http: httpx.Client, only: Iterable[str] = ()
) -> list[tuple[Source, list[str]]]:
    """Which source fetches which series: a data directory alone, else FRED and Treasury."""
    wanted = list(only)
    if data_dir is not None:
        files = FileSource(data_dir)
        return [(files, wanted or files.series_ids())]
    fred = FredSource.from_settings(settings, http=http)
    treasury = TreasurySource(settings.fiscaldata_url, http)
    if wanted:
        offered = set(treasury.series_ids())
        plan: list[tuple[Source, list[str]]] = [
            (fred, [s for s in wanted if s not in offered]),
            (treasury, [s for s in wanted if s in offered]),
        ]
    else:
        plan = [
            (fred, rule_series(settings.rules_path, "fred")),
            (treasury, rule_series(settings.rules_path, "treasury")),
        ]
    return [(source, ids) for source, ids in plan if ids]


# --- commands -----------------------------------------------------------------------------


def fetch_command(args: argparse.Namespace, settings: Settings) -> int:
    """`cyclewatch fetch [--data DIR] [--vintages] [SERIES...]`: refresh the store now."""
    data_dir: Path | None = args.data or settings.data_dir
    with httpx.Client(timeout=settings.fred_timeout) as http:
        try:
            plan = build_plan(settings, data_dir, http, args.series)
        except SourceError as err:
            print(f"cyclewatch fetch: {err.message}", file=sys.stderr)
            return 1
        fred = next((s for s, _ in plan if isinstance(s, FredSource)), None)
        if args.vintages and not (fred is not None and fred.keyed):
            print("cyclewatch fetch: --vintages needs the FRED API; set FRED_API_KEY",
                  file=sys.stderr)  # fmt: skip
            return 1
        store = Store(settings.db_url)
        failed = 0
        try:
            for source, series in plan:
                fetcher = Fetcher(store, source, vintages=args.vintages and source is fred)
                result = poll_with_progress(fetcher, series, Console())
                failed += result.count("failed", "skipped")
                print(
                    f"{len(series)} series from {source.name}: {result.count('updated')} "
                    f"updated ({result.new_rows} new rows), {result.count('unchanged')} "
                    f"unchanged, {result.count('failed', 'skipped')} failed"
                )
        finally:
            store.close()
    return 0 if failed == 0 else 1


def poll_with_progress(fetcher: Fetcher, series: list[str], console: Console) -> PollResult:
    """Poll with a progress bar on a terminal, else one plain line per series."""
    if not console.is_terminal:
        return fetcher.poll(
            series, on_result=lambda r: console.print(_result_line(r), markup=False,
                                                       highlight=False, soft_wrap=True)
        )  # fmt: skip
    columns = (
        TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("fetching", total=len(series))

        def advance(result: SeriesResult) -> None:
            progress.update(task, advance=1, description=result.series)
            if result.outcome in ("failed", "skipped"):
                progress.console.print(
                    _result_line(result), markup=False, highlight=False, soft_wrap=True
                )

        return fetcher.poll(series, on_result=advance)


def _result_line(result: SeriesResult) -> str:
    if result.outcome in ("failed", "skipped"):
        return f"{result.series:<20} {result.outcome:<9} {result.error}"
    last = result.last_obs.isoformat() if result.last_obs else "-"
    return f"{result.series:<20} {result.outcome:<9} {result.new_rows:>6} new rows, last {last}"


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    """`cyclewatch status [--json]`: freshness of every series the store knows."""
    store = Store(settings.db_url)
    try:
        statuses = store.status()
    finally:
        store.close()
    today = utc_now().date()
    if args.json:
        print(json.dumps([_status_record(s, today) for s in statuses], indent=2))
        return 0
    if not statuses:
        print("no series in the store yet; run `cyclewatch fetch`")
        return 0
    table = Table("series", "source", "last obs", "last fetch (UTC)", "stale days", "rows",
                  "last error")  # fmt: skip
    for s in statuses:
        stale = _staleness(s, today)
        table.add_row(
            s.series, s.source, s.last_obs_date.isoformat() if s.last_obs_date else "-",
            s.last_fetch_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if s.last_fetch_at else "-",
            "-" if stale is None else str(stale), str(s.rows), s.last_error or "",
        )  # fmt: skip
    Console(width=max(Console().width, 120)).print(table)
    return 0


def _staleness(status: SeriesStatus, today: date) -> int | None:
    """Days since the newest observation (0 for projections dated in the future)."""
    return max(0, (today - status.last_obs_date).days) if status.last_obs_date else None


def _status_record(status: SeriesStatus, today: date) -> dict[str, str | int | None]:
    def stamp(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "series": status.series,
        "source": status.source,
        "last_obs_date": status.last_obs_date.isoformat() if status.last_obs_date else None,
        "last_fetch_at": stamp(status.last_fetch_at),
        "last_success_at": stamp(status.last_success_at),
        "staleness_days": _staleness(status, today),
        "rows": status.rows,
        "last_error": status.last_error,
    }
