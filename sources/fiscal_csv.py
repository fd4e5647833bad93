"""Treasury series from Fiscal Data / TreasuryDirect CSV downloads in ``DIR/treasury/``.

Files are recognised by their header, not their name: MSPD table 1 downloads (``Record Date,
Security Type Description, ...``, UTF-8 with BOM) give `mspd_bills`, `mspd_marketable` and
`bill_share`; TreasuryDirect auction exports (semicolon-separated, with ``OfferingAmount`` and
``BidToCoverRatio``) give the coupon auction series. Bill-offering series are not offered from
files: the one known export is a sample of auctions whose bills are incomplete, so a bill share
of offerings computed from it would be fiction.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from sources.base import Fetched, SourceError
from sources.fiscal import MSPD_SERIES, SOURCE, series_from_rows

FILE_AUCTION_SERIES = ("coupon_bid_to_cover", "coupon_offering")
MSPD_HEADER = ("Record Date", "Security Type Description", "Security Class Description")
AUCTION_COLUMNS = ("AuctionDate", "SecurityType", "OfferingAmount", "BidToCoverRatio")


def _header(path: Path) -> tuple[list[str], str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return [], ","
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return [cell.strip() for cell in next(csv.reader([first], delimiter=delimiter), [])], delimiter


def _read_rows(path: Path, delimiter: str, series_id: str) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SourceError(SOURCE, series_id, f"{path.name} cannot be read: {err}") from err
    for n, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise SourceError(SOURCE, series_id, f"{path.name}:{n}: wrong number of fields")
    return rows


class TreasuryFiles:
    """The Treasury CSVs of an offline data directory, read with the API's row parsing."""

    name = "files"

    def __init__(self, root: Path | str) -> None:
        self.folder = Path(root) / "treasury"

    def _files(self, columns: tuple[str, ...]) -> list[tuple[Path, str]]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.csv")):
            header, delimiter = _header(path)
            if all(column in header for column in columns):
                found.append((path, delimiter))
        return found

    def _sources_of(self, series_id: str) -> list[tuple[Path, str]]:
        if series_id in MSPD_SERIES:
            return self._files(MSPD_HEADER)
        if series_id in FILE_AUCTION_SERIES:
            return self._files(AUCTION_COLUMNS)
        return []

    def series_ids(self) -> list[str]:
        """The Treasury series the directory's files can produce."""
        ids = list(MSPD_SERIES) if self._files(MSPD_HEADER) else []
        if self._files(AUCTION_COLUMNS):
            ids += FILE_AUCTION_SERIES
        return sorted(ids)

    def paths_of(self, series_id: str) -> list[Path]:
        """The files `series_id` is computed from, sorted (empty: none here)."""
        return [path for path, _ in self._sources_of(series_id)]

    def holds(self, series_id: str) -> bool:
        """Whether `series_id` can be read from this directory's Treasury files."""
        return bool(self._sources_of(series_id))

    def last_updated(self, series_id: str) -> datetime | None:
        """The newest modification time of the files behind `series_id`."""
        files = self._sources_of(series_id)
        if not files:
            return None
        return max(datetime.fromtimestamp(p.stat().st_mtime, tz=UTC) for p, _ in files)

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """The series computed from every matching file (rows of all files taken together)."""
        files = self._sources_of(series_id)
        if not files:
            raise SourceError(SOURCE, series_id, f"no Treasury CSV for it under {self.folder}")
        rows: list[dict[str, str]] = []
        for path, delimiter in files:
            rows += _read_rows(path, delimiter, series_id)
        names = ", ".join(p.name for p, _ in files)
        values = series_from_rows(series_id, rows, names)
        if since is not None:
            values = values[values.index >= pd.Timestamp(since)]
        return Fetched(series_id, values, last_updated=self.last_updated(series_id))
