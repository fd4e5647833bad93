"""Data files are fingerprinted (issue 20, item 4): a restart with unchanged files reads and
records nothing, a file touched but identical is skipped by its hash, a changed one is read,
and a file whose read was refused is read again at the next poll. Synthetic series (TESTA,
TESTB) in a temporary data directory; the store is SQLite in a temporary file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.ingest.fetcher import Fetcher, PollResult
from bot.store import Store
from sources.base import Source
from sources.csv import CsvSource
from sources.files import FileSource

IDS = ["TESTA", "TESTB"]
NOW = datetime(2026, 11, 23, 15, tzinfo=UTC)


def rows(series_id: str, values: list[float]) -> str:
    """A FRED-format file: monthly observations from 2026-01-01."""
    return f"observation_date,{series_id}\n" + "".join(
        f"2026-{month:02d}-01,{value}\n" for month, value in enumerate(values, start=1))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "fred"
    folder.mkdir(parents=True)
    for n, series_id in enumerate(IDS):
        (folder / f"{series_id}.csv").write_text(rows(series_id, [10.0 + n, 11.0, 12.0]))
    return tmp_path / "data"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


class Run:
    """One process's store and fetcher over the same database (a new one is a restart)."""

    def __init__(self, db_url: str, source: Source) -> None:
        self.store = Store(db_url)
        self.now = NOW
        self.fetcher = Fetcher(self.store, source, clock=lambda: self.now)

    def poll(self, ids: list[str] = IDS) -> PollResult:
        return self.fetcher.poll(ids)

    def observations(self) -> int:
        return sum(status.rows for status in self.store.status())


@pytest.fixture
def runs(db_url: str, data: Path) -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.store.close()


def start(runs: list[Run], db_url: str, source: Source) -> Run:
    runs.append(Run(db_url, source))
    return runs[-1]


def outcomes(result: PollResult) -> list[str]:
    return [r.outcome for r in result.results]


def rewrite_keeping_stat(path: Path, text: str) -> None:
    """Write `text` (as long as the old content) and put the old mtime back."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def touch(path: Path, seconds_later: int = 60) -> None:
    stamp = path.stat().st_mtime_ns + seconds_later * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_a_restart_with_unchanged_files_reads_and_records_nothing(
    runs: list[Run], db_url: str, data: Path
) -> None:
    first = start(runs, db_url, FileSource(data))
    assert outcomes(first.poll()) == ["updated", "updated"]
    stored = first.observations()
    assert stored == 6
    first.store.close()
    # Same size and mtime: the file is not even opened (a same-sized rewrite with its old
    # mtime put back goes unnoticed; garbage would fail the parse if it were read).
    path = data / "fred" / "TESTA.csv"
    rewrite_keeping_stat(path, "x" * path.stat().st_size)
    again = start(runs, db_url, FileSource(data)).poll()
    assert outcomes(again) == ["unchanged", "unchanged"]
    assert again.new_rows == 0 and runs[-1].observations() == stored


def test_a_touched_but_identical_file_is_skipped_by_its_hash(
    runs: list[Run], db_url: str, data: Path
) -> None:
    run = start(runs, db_url, FileSource(data))
    run.poll()
    path = data / "fred" / "TESTB.csv"
    before = run.store.file_fingerprint("files", "TESTB")
    touch(path)
    assert outcomes(run.poll(["TESTB"])) == ["unchanged"]  # a read would say "updated"
    after = run.store.file_fingerprint("files", "TESTB")
    assert before is not None and after is not None
    assert after.sha256 == before.sha256 and after.stat.mtime_ns == path.stat().st_mtime_ns
    assert after.stat.mtime_ns > before.stat.mtime_ns  # the next poll is decided by stat


def test_a_changed_file_is_read(runs: list[Run], db_url: str, data: Path) -> None:
    run = start(runs, db_url, FileSource(data))
    run.poll()
    path = data / "fred" / "TESTA.csv"
    path.write_text(rows("TESTA", [10.0, 11.0, 12.0, 13.0]))  # one more month
    result = run.poll(["TESTA"])
    assert outcomes(result) == ["updated"] and result.new_rows == 1
    rewrite_keeping_stat(path, rows("TESTA", [10.0, 11.0, 12.0, 14.0]))  # a revision ...
    touch(path)  # ... published a day later: same size, new mtime, other bytes
    run.now = NOW + timedelta(days=1)
    result = run.poll(["TESTA"])
    assert outcomes(result) == ["updated"] and result.new_rows == 1
    assert run.store.series("TESTA").iloc[-1] == 14.0


def test_a_file_whose_read_failed_is_read_again(
    runs: list[Run], db_url: str, data: Path
) -> None:
    run = start(runs, db_url, FileSource(data))
    run.poll()
    path = data / "fred" / "TESTA.csv"
    path.write_text("observation_date,TESTA\n2026-01-01,ten\n")
    assert outcomes(run.poll(["TESTA"])) == ["failed"]
    assert outcomes(run.poll(["TESTA"])) == ["failed"]  # not skipped: its fingerprint was not kept
    path.write_text(rows("TESTA", [10.0, 11.0, 12.0, 13.0]))
    assert outcomes(run.poll(["TESTA"])) == ["updated"]


def test_a_csv_series_from_a_local_file_is_fingerprinted_too(
    runs: list[Run], db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "gold.csv"
    path.write_text("Date,Price,Other\n2026-01,100,1\n2026-02,110,2\n")
    options = {"url": str(path), "date": "Date", "value": "Price"}
    with httpx.Client() as http:
        run = start(runs, db_url, CsvSource(http, lambda _id: options, base_dir=tmp_path))
        assert outcomes(run.poll(["GOLD"])) == ["updated"]
        touch(path)
        assert outcomes(run.poll(["GOLD"])) == ["unchanged"]
        path.write_text("Date,Price,Other\n2026-01,100,1\n2026-02,110,2\n2026-03,120,3\n")
        result = run.poll(["GOLD"])
        assert outcomes(result) == ["updated"] and result.new_rows == 1
        # The rules now read another column of the same, unchanged file: it is read again.
        options["value"] = "Other"
        run.now = NOW + timedelta(days=1)
        result = run.poll(["GOLD"])
        assert outcomes(result) == ["updated"] and result.new_rows == 3
        assert run.store.series("GOLD").tolist() == [1.0, 2.0, 3.0]
        assert outcomes(run.poll(["GOLD"])) == ["unchanged"]
