"""Refreshing the store from a source: the `Fetcher` the service calls on every poll and
`cyclewatch fetch` (bot/cli/fetch.py) runs once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from bot.ingest.held import HeldValues
from bot.ingest.plausibility import implausible
from bot.ingest.releases import upsert_releases
from bot.runtime.clock import Clock, utc_now
from bot.runtime.latch import OutageLatch
from bot.store import Store
from bot.store.schema import observations
from sources.base import Source, SourceError, VintageSource
from sources.files import FileBacked, Fingerprint, fingerprint, reading_of, stat_of

log = logging.getLogger("cyclewatch.fetch")
Outcome = Literal["updated", "unchanged", "failed", "skipped"]

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

    With an `overlap`, fetches are incremental: from the newest stored observation minus the
    overlap (revisions inside it are seen; the source gets `since`). A value the series' nature
    doubts (bot.ingest.held) is held back, the whole fetch with it, until a later fetch
    confirms it; `held.snapshot()` is what /healthz shows. Release records a fetch
    brings (FOMC, refunding statements) go to the `releases` table.
    """

    def __init__(
        self, store: Store, source: Source, *, clock: Clock = utc_now, vintages: bool = False,
        overlap: timedelta | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.clock = clock
        self.vintages = vintages and isinstance(source, VintageSource)
        self.overlap = overlap
        self.label: str = getattr(source, "label", source.name)
        self.latch = OutageLatch(self.label, log)
        self._reported: set[str] = set()
        self._implausible: dict[str, str] = {}  # series -> the rejection last logged
        self.held = HeldValues(clock)  # values the series' nature doubts, until confirmed

    def fetch_one(self, series_id: str) -> SeriesResult:
        """Fetch one series unless its publisher (or its files' fingerprint) says nothing
        changed; record what came."""
        name = self.source.name
        since: date | None = None
        files = self.source.files(series_id) if isinstance(self.source, FileBacked) else []
        same, found = self._files_now(series_id, files) if files else (False, None)
        if same:
            return self._unchanged(series_id)
        try:
            stamp = self.source.last_updated(series_id)
            known = self.store.last_updated(series_id)
            if (not files and not self.vintages and stamp is not None and known is not None
                    and stamp <= known):
                return self._unchanged(series_id)
            if self.vintages and isinstance(self.source, VintageSource):
                fetched = self.source.fetch_vintages(series_id)
            else:
                since = self._since(series_id)
                fetched = self.source.fetch(series_id, since)
        except SourceError as err:
            self._report(err)
            self.store.note_failure(series_id, name, err.message, self.clock())
            return SeriesResult(series_id, "failed", error=err.message, retryable=err.retryable)
        if fetched.last_updated is None:
            fetched = replace(fetched, last_updated=stamp)
        self.latch.recovered()
        stored = self.store.series(series_id)
        reason = implausible(stored, fetched.values, since=since)
        if reason is not None:
            return self._reject(series_id, reason)
        doubt = self.held.judge(series_id, stored, fetched.values)
        if doubt is not None:
            return self._reject(series_id, doubt, held=True)
        new_rows = self.store.record(name, fetched, self.clock())
        if found is not None:
            self.store.keep_fingerprint(name, series_id, found, self.clock())
        if fetched.releases:
            upsert_releases(self.store.engine, fetched.releases, self.clock())
        if self._implausible.pop(series_id, None) is not None:
            log.warning("%s: plausible data from %s again", series_id, name)
        newest = fetched.values.index.max() if len(fetched.values) else None
        last_obs = self._last_obs(series_id) if newest is None else newest.date()
        return SeriesResult(series_id, "updated", new_rows, last_obs)

    def _files_now(self, series_id: str, files: list[Path]) -> tuple[bool, Fingerprint | None]:
        """(whether the files are those last recorded, read the same way, and their
        fingerprint taken now, before they are read). The same size and mtime: not read at
        all; touched but the same bytes: nothing is parsed, the new mtime is kept. The
        fingerprint is None for a file that cannot be read (the fetch then says why)."""
        assert isinstance(self.source, FileBacked)
        reading = reading_of(self.source.read_as(series_id))
        known = self.store.file_fingerprint(self.source.name, series_id)
        if known is not None and known.reading != reading:
            known = None  # read another way (other columns): news, whatever the bytes
        if known is not None and stat_of(files) == known.stat:
            return True, known
        found = fingerprint(files, reading)
        if known is not None and found is not None and found.sha256 == known.sha256:
            self.store.keep_fingerprint(self.source.name, series_id, found, self.clock())
            return True, found
        return False, found

    def _unchanged(self, series_id: str) -> SeriesResult:
        self.store.note_unchanged(series_id, self.source.name, self.clock())
        return SeriesResult(series_id, "unchanged", last_obs=self._last_obs(series_id))

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

    def _reject(self, series_id: str, reason: str, held: bool = False) -> SeriesResult:
        """Keep the stored values; note why, logged once per series while it lasts."""
        message = f"implausible data from {self.source.name}: {reason} (kept the previous values)"
        if held:
            message = f"held back from {self.source.name}: {reason}"
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

    def _since(self, series_id: str) -> date | None:
        """Where an incremental fetch starts (None: all history)."""
        newest = self._last_obs(series_id) if self.overlap is not None else None
        return None if newest is None or self.overlap is None else newest - self.overlap

    def _last_obs(self, series_id: str) -> date | None:
        with self.store.engine.connect() as conn:
            newest: date | None = conn.execute(
                sa.select(sa.func.max(observations.c.obs_date)).where(
                    observations.c.series == series_id
                )
            ).scalar()
        return newest
