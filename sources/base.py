"""The one protocol every source adapter offers, and the one error kind they raise.

Error tree::

    SourceError                 any failure of an adapter (carries source and series)
    ├── retryable=True          429, 5xx, timeouts, connection refused: try again later
    └── retryable=False         bad key, unknown series, malformed body: a person must act
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

import pandas as pd

from sources.rss import ReleaseRecord


class SourceError(Exception):
    """A source could not deliver a series; `retryable` says whether waiting may help."""

    def __init__(
        self, source: str, series_id: str | None, message: str, *, retryable: bool = False
    ) -> None:
        where = f"{source}:{series_id}" if series_id else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.series_id = series_id
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Vintage:
    """Observations as published at `realtime_start` (ALFRED point-in-time rows)."""

    realtime_start: date
    values: pd.Series


@dataclass(frozen=True)
class Fetched:
    """What one fetch of one series returned.

    `values` is a float Series on a naive DatetimeIndex of observation dates, sorted, with
    missing observations dropped. `realtime_start` is the publication date the source states
    for these values (None when the source does not say; the store then uses the fetch date).
    `vintages` holds earlier publications when the adapter fetched point-in-time history.
    `releases` holds the non-numeric records behind the values (FOMC and refunding
    statements), which the fetcher keeps in the `releases` table.
    """

    series_id: str
    values: pd.Series
    realtime_start: date | None = None
    last_updated: datetime | None = None
    vintages: tuple[Vintage, ...] = field(default_factory=tuple)
    releases: tuple[ReleaseRecord, ...] = field(default_factory=tuple)


@runtime_checkable
class Source(Protocol):
    """A thin adapter: builds requests, parses responses, raises SourceError, nothing else."""

    name: str

    def last_updated(self, series_id: str) -> datetime | None:
        """When the publisher last changed the series (None if the source cannot tell)."""
        ...

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """Observations of one series from `since` (all history when None)."""
        ...


@runtime_checkable
class VintageSource(Source, Protocol):
    """A source that can also fetch point-in-time history (ALFRED vintages)."""

    @property
    def supports_vintages(self) -> bool:
        """Whether this instance can fetch vintages now (FRED: only with an API key)."""
        ...

    def fetch_vintages(self, series_id: str) -> Fetched:
        """Every publication of `series_id`: first releases and each revision."""
        ...


def to_series(pairs: dict[date, float] | pd.Series, name: str) -> pd.Series:
    """Normalise observations to the protocol's shape: float, naive DatetimeIndex, sorted."""
    s = pd.Series(pairs, dtype="float64") if isinstance(pairs, dict) else pairs.astype("float64")
    s.index = pd.DatetimeIndex(pd.to_datetime(s.index)).tz_localize(None).normalize()
    s = s[~s.index.duplicated(keep="last")].sort_index().dropna()
    s.name = name
    return s
