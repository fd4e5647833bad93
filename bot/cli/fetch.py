"""`cyclewatch fetch` and `cyclewatch status`: refresh the store now from the sources the
registry (sources/registry.py) builds, and show how fresh every series is."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.app.sources import rules_options, source_context
from bot.config import Settings
from bot.ingest.fetcher import Fetcher, PollResult, SeriesResult
from bot.runtime.clock import utc_now
from bot.store import SeriesStatus, Store
from rules import RulesError, RuleSet, load_rules
from rules.engine import Evaluator
from sources.base import Source, SourceError, VintageSource
from sources.csv import CsvSource
from sources.files import FileSource
from sources.fred import DEFAULT_FRED_SERIES
from sources.registry import REGISTRY, SourceEntry, entry, option_schemas, route

__all__ = ["DEFAULT_FRED_SERIES", "build_plan", "fetch_command", "rule_series", "status_command"]
log = logging.getLogger("cyclewatch.fetch")


@dataclass(frozen=True)
class Planned:
    """One source of a fetch: its registry entry, the adapter, and the series to fetch."""

    entry: SourceEntry
    source: Source
    series: list[str]


def read_ruleset(rules_path: Path) -> RuleSet | None:
    """The rules file checked against the registry, or None (logged) when it is unusable."""
    try:
        return load_rules(rules_path.read_text(encoding="utf-8"), str(rules_path),
                          sources=option_schemas())
    except (OSError, UnicodeDecodeError):
        return None
    except RulesError as err:
        log.warning("%s has problems (see `cyclewatch check`); fetching the default series: %s",
                    rules_path, err)  # fmt: skip
        return None


def rule_series(rules_path: Path, source: str = "fred") -> list[str]:
    """The ids the rules file reads from `source`; the source's built-in list (FRED's) when
    the file is unusable."""
    ruleset = read_ruleset(rules_path)
    if ruleset is None:
        return list(entry(source).fallback)
    return sorted({s.id for s in ruleset.inputs if s.source == source})


def build_plan(
    settings: Settings, data_dir: Path | None, http: httpx.Client, only: Iterable[str] = ()
) -> list[Planned]:
    """Which source fetches which series. With a data directory its files serve every series
    they replace (all the files hold, unless `only`), the others (csv) read their own; without,
    each network source fetches what the rules ask of it. `only` is routed by the rules'
    declarations, then by what each source offers, then to FRED."""
    ruleset = read_ruleset(settings.rules_path)
    ctx = source_context(settings, http, data_dir=data_dir, options=rules_options(lambda: ruleset))
    declared = {i.id: i.source for i in ruleset.inputs} if ruleset else {}
    wanted = list(only)
    if wanted:
        routed = route(declared, wanted)
    else:
        routed = {e.name: (sorted({i.id for i in ruleset.inputs if i.source == e.name})
                           if ruleset else list(e.fallback)) for e in REGISTRY}
    if data_dir is not None:
        replaced = {e.name for e in REGISTRY if e.data_dir_replaces} | {"files"}
        merged = sorted({s for name, ids in routed.items() if name in replaced for s in ids})
        routed = {name: ids for name, ids in routed.items() if name not in replaced}
        routed["files"] = merged
    plan = []
    for item in REGISTRY:
        if data_dir is None and not item.network:
            continue
        ids = routed.get(item.name, [])
        if item.name == "files" and not wanted:
            source = item.build(ctx)  # a data directory alone: everything it holds
            held = source.series_ids() if isinstance(source, FileSource) else []
            plan.append(Planned(item, source, held))
        elif ids:
            plan.append(Planned(item, item.build(ctx), ids))
    return plan


# --- commands -----------------------------------------------------------------------------


def fetch_command(args: argparse.Namespace, settings: Settings) -> int:
    """`cyclewatch fetch [--data DIR] [--vintages] [SERIES...]`: refresh the store now."""
    data_dir: Path | None = args.data or settings.data_dir
    with httpx.Client(timeout=settings.fred_timeout, follow_redirects=True) as http:
        try:
            plan = build_plan(settings, data_dir, http, args.series)
        except SourceError as err:
            print(f"cyclewatch fetch: {err.message}", file=sys.stderr)
            return 1
        vintages = [p.source for p in plan
                    if isinstance(p.source, VintageSource) and p.source.supports_vintages]
        if args.vintages and not vintages:
            print("cyclewatch fetch: --vintages needs the FRED API; set FRED_API_KEY",
                  file=sys.stderr)  # fmt: skip
            return 1
        store = Store(settings.db_url)
        failed = 0
        try:
            for planned in plan:
                fetcher = Fetcher(store, planned.source, overlap=planned.entry.overlap,
                                  vintages=args.vintages and planned.source in vintages)
                result = poll_with_progress(fetcher, planned.series, Console())
                failed += result.count("failed", "skipped")
                print(
                    f"{len(planned.series)} series from {planned.source.name}: "
                    f"{result.count('updated')} updated ({result.new_rows} new rows), "
                    f"{result.count('unchanged')} unchanged, "
                    f"{result.count('failed', 'skipped')} failed"
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


@dataclass(frozen=True)
class Standing:
    """What the rules say of a stored series: where it is read from now (a csv series' URL
    or file), and whether it is fresh, stale or ended (None: the rules do not read it)."""

    origin: str | None = None
    fresh: str | None = None


def standings(
    settings: Settings, data_dir: Path | None, store: Store, today: date
) -> dict[str, Standing]:
    """Series id -> its `Standing` under the rules file, judged by the rules' own freshness
    windows (an ended series, `until:`, is "ended", never stale)."""
    ruleset = read_ruleset(settings.rules_path)
    if ruleset is None:
        return {}
    stamp = pd.Timestamp(today)
    data = store.frame(sorted({item.id for item in ruleset.inputs}))
    evaluator = Evaluator(ruleset, data, stamp)
    with httpx.Client() as http:  # never used: the csv source only says where it reads
        ctx = source_context(settings, http, data_dir=data_dir,
                             options=rules_options(lambda: ruleset))
        csv = entry("csv").build(ctx)
        found = {}
        for item in ruleset.inputs:
            origin = csv.origin_of(item.id) if isinstance(csv, CsvSource) and \
                item.source == "csv" else None
            if item.spec.until is not None and today > item.spec.until:
                fresh = "ended"
            elif item.id not in data:
                fresh = None
            else:
                stale = evaluator.stale_reason(frozenset({item.name}), stamp)
                fresh = "fresh" if stale is None else "stale"
            found[item.id] = Standing(origin, fresh)
    return found


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    """`cyclewatch status [--json]`: freshness of every series the store knows."""
    today = utc_now().date()
    store = Store(settings.db_url)
    try:
        statuses = store.status()
        judged = standings(settings, getattr(args, "data", None) or settings.data_dir, store,
                           today)
    finally:
        store.close()
    if args.json:
        print(json.dumps([_status_record(s, today, judged.get(s.series, Standing()))
                          for s in statuses], indent=2))
        return 0
    if not statuses:
        print("no series in the store yet; run `cyclewatch fetch`")
        return 0
    table = Table("series", "source", "last obs", "last fetch (UTC)", "stale days", "fresh",
                  "rows", "last error")  # fmt: skip
    table.columns[1].overflow = "fold"  # a source's URL shown whole, over several lines
    for s in statuses:
        stale = _staleness(s, today)
        seen = judged.get(s.series, Standing())
        table.add_row(
            s.series, s.source + (f" {seen.origin}" if seen.origin else ""),
            s.last_obs_date.isoformat() if s.last_obs_date else "-",
            s.last_fetch_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if s.last_fetch_at else "-",
            "-" if stale is None else str(stale), seen.fresh or "-", str(s.rows),
            s.last_error or "",
        )  # fmt: skip
    Console(width=max(Console().width, 120)).print(table)
    return 0


def _staleness(status: SeriesStatus, today: date) -> int | None:
    """Days since the newest observation (0 for projections dated in the future)."""
    return max(0, (today - status.last_obs_date).days) if status.last_obs_date else None


def _status_record(
    status: SeriesStatus, today: date, seen: Standing
) -> dict[str, str | int | None]:
    def stamp(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "series": status.series,
        "source": status.source,
        "last_obs_date": status.last_obs_date.isoformat() if status.last_obs_date else None,
        "last_fetch_at": stamp(status.last_fetch_at),
        "last_success_at": stamp(status.last_success_at),
        "staleness_days": _staleness(status, today),
        "fresh": seen.fresh,
        "origin": seen.origin,
        "rows": status.rows,
        "last_error": status.last_error,
    }
