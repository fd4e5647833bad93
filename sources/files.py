"""An offline data directory of FRED-format CSVs: air-gapped mirrors, tests and demos.

Layout (either works): ``DIR/fred/<ID>.csv`` as in ../shared/data, or a flat ``DIR/<ID>.csv``.
Each file has a header row (``observation_date,<ID>`` or the older ``DATE,<ID>``) and rows
``YYYY-MM-DD,value``; ``.`` or an empty field means missing. Columns are read by position.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd

from sources.base import Fetched, SourceError, to_series
from sources.fiscal_csv import TreasuryFiles

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Stat:
    """What `stat` says of the files behind a series: total size, newest mtime (ns)."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Fingerprint:
    """The files behind a series as they were read: their `Stat`, a hash of the bytes and a
    hash of how they were read (`FileBacked.read_as`)."""

    stat: Stat
    sha256: str
    reading: str = ""


@runtime_checkable
class FileBacked(Protocol):
    """A source that reads some series from local files (and can say which)."""

    def files(self, series_id: str) -> list[Path]:
        """The files `series_id` is read from, in a fixed order (empty: not from files)."""
        ...

    def read_as(self, series_id: str) -> str:
        """How the files are read (e.g. the columns the rules name): when it changes, the
        same files are read again."""
        ...


def reading_of(read_as: str) -> str:
    """The stored form of `FileBacked.read_as`: empty for a fixed format, else a SHA-256."""
    return hashlib.sha256(read_as.encode()).hexdigest() if read_as else ""


def stat_of(paths: Sequence[Path]) -> Stat | None:
    """Total size and newest modification time of `paths` (None if one cannot be read)."""
    try:
        stats = [path.stat() for path in paths]
    except OSError:
        return None
    return Stat(sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0))


def fingerprint(paths: Sequence[Path], reading: str = "") -> Fingerprint | None:
    """`stat_of(paths)` and a SHA-256 over each file's name and bytes (None if unreadable),
    with `reading` (see `reading_of`).

    Taken before the files are read: should one change in between, the next poll sees a
    fingerprint unlike the stored one and reads it again (never the other way round)."""
    stat = stat_of(paths)
    if stat is None:
        return None
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(f"{path.name}\0".encode())
            with path.open("rb") as handle:
                while chunk := handle.read(HASH_CHUNK):
                    digest.update(chunk)
    except OSError:
        return None
    return Fingerprint(stat, digest.hexdigest(), reading)


class FileSource:
    """Reads series from a directory laid out like FRED's fredgraph.csv downloads."""

    name = "files"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(self.name, None, f"data directory {self.root} does not exist")
        self.treasury = TreasuryFiles(self.root)  # DIR/treasury/ Fiscal Data downloads

    def path_of(self, series_id: str) -> Path | None:
        """The CSV holding `series_id`, preferring ``fred/<ID>.csv`` over a flat file."""
        for candidate in (self.root / "fred" / f"{series_id}.csv", self.root / f"{series_id}.csv"):
            if candidate.is_file():
                return candidate
        return None

    def files(self, series_id: str) -> list[Path]:
        """The file(s) `series_id` is read from (empty when the directory has none)."""
        path = self.path_of(series_id)
        return [path] if path is not None else self.treasury.paths_of(series_id)

    def read_as(self, series_id: str) -> str:
        """Empty: the directory's formats are fixed."""
        return ""

    def series_ids(self) -> list[str]:
        """Every series id the directory holds, sorted."""
        found = (
            {p.stem for p in (self.root / "fred").glob("*.csv")}
            if (self.root / "fred").is_dir()
            else set()
        )
        found |= {p.stem for p in self.root.glob("*.csv")}
        return sorted(found | set(self.treasury.series_ids()))

    def last_updated(self, series_id: str) -> datetime | None:
        """The file's modification time: a rewritten file is a new release."""
        path = self.path_of(series_id)
        if path is None:
            return self.treasury.last_updated(series_id)
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """All observations of `series_id` in the file (from `since` when given)."""
        path = self.path_of(series_id)
        if path is None and self.treasury.holds(series_id):
            return self.treasury.fetch(series_id, since)
        if path is None:
            raise SourceError(self.name, series_id, f"no {series_id}.csv under {self.root}")
        values = read_fred_csv(path, series_id)
        if since is not None:
            values = values[values.index >= pd.Timestamp(since)]
        return Fetched(series_id, values, last_updated=self.last_updated(series_id))


def read_fred_csv(path: Path, series_id: str, *, source: str = "files") -> pd.Series:
    """Parse one FRED-format CSV file; raise SourceError naming the file and row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise SourceError(source, series_id, f"{path.name} cannot be read: {err}") from err
    return parse_fred_csv(text, series_id, origin=path.name, source=source)


def parse_fred_csv(text: str, series_id: str, *, origin: str, source: str) -> pd.Series:
    """Parse FRED CSV text by column position (`observation_date` or older `DATE` header).

    ``.`` or an empty field is a missing value and is dropped; any other non-number, a bad
    date, a row with the wrong number of fields or a header that is not FRED's raises
    SourceError with ``origin:line``.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, [])
        if len(header) != 2 or header[0].strip().lower() not in ("observation_date", "date"):
            shown = ",".join(header)[:60]
            raise SourceError(
                source, series_id, f"{origin}:1: not a FRED-format CSV (header {shown!r})"
            )
        lines, days, raw = [], [], []
        for row in reader:
            if not row:
                continue
            if len(row) != 2:
                raise SourceError(
                    source, series_id,
                    f"{origin}:{reader.line_num}: {len(row)} fields where the header has 2",
                )  # fmt: skip
            lines.append(reader.line_num)
            days.append(row[0].strip())
            raw.append(row[1].strip())
    except csv.Error as err:
        raise SourceError(source, series_id, f"{origin}:{reader.line_num}: {err}") from err
    texts = pd.Series(raw, dtype="string")
    missing = texts.isin([".", ""])
    values = pd.to_numeric(texts.mask(missing), errors="coerce")
    bad = (values.isna() & ~missing).to_numpy()
    if bad.any():
        at = int(bad.argmax())
        raise SourceError(
            source, series_id, f"{origin}:{lines[at]}: value {raw[at]!r} is not a number"
        )
    dates = pd.to_datetime(pd.Series(days, dtype="string"), format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        at = int(dates.isna().to_numpy().argmax())
        raise SourceError(
            source, series_id, f"{origin}:{lines[at]}: date {days[at]!r} is not YYYY-MM-DD"
        )
    index = pd.DatetimeIndex(dates.to_numpy())
    return to_series(pd.Series(values.to_numpy(dtype="float64"), index=index), series_id)
