"""Any series from a CSV or JSON document at a URL or in a file, with declared columns.

In rules.yaml (the keys after `id` are this source's options, checked by `CsvOptions`)::

    gold: {source: csv, id: GOLD, url: other/gold_monthly.csv, date: Date, value: Price}
    cape: {source: csv, id: CAPE, url: other/shiller_sp500_monthly.csv, date: Date,
           value: PE10, missing: ["0.0"]}
    btc:  {source: csv, id: BTC, url: "https://example.org/btc.json", format: json,
           path: data.observations, date: date, value: value}

`url` is http(s), a `file:` URL or a path; a relative path resolves against the data
directory (`--data DIR`) when given, else the rules file's directory. Dates are ISO 8601
(`YYYY`, `YYYY-MM` and `YYYY-MM-DD` all work; a month is dated by its first day) unless
`date_format` (strptime) says otherwise. Besides an empty cell, `.`, `NA`, `N/A`, `NaN` and
`null` mean "no observation"; `missing` adds more (Shiller writes `0.0`). Anything else that
is not a number makes the whole fetch fail with a SourceError naming the line.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sources.base import Fetched, SourceError, to_series
from sources.web import get_bytes, retrier

SOURCE = "csv"
ALWAYS_MISSING = frozenset({"", ".", "NA", "N/A", "NaN", "nan", "null", "None"})


class CsvOptions(BaseModel):
    """The `source: csv` keys of one series in rules.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1, max_length=2000)
    date: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=200)
    format: Literal["csv", "json"] = "csv"
    path: str | None = Field(None, max_length=500)  # JSON: dotted path to the list of records
    missing: list[str] = Field(default_factory=list, max_length=50)
    date_format: str | None = Field(None, max_length=100)
    delimiter: str = Field(",", min_length=1, max_length=1)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("", "http", "https", "file"):
            raise ValueError(f"{url!r}: use http(s)://, file: or a path")
        return url


class CsvSource:
    """Reads `source: csv` series; each series' options come from the rules through `options`."""

    name = SOURCE

    def __init__(
        self,
        client: httpx.Client,
        options: Callable[[str], Mapping[str, Any]],
        *,
        base_dir: Path | None = None,
        timeout: float | None = None,
        attempts: int = 3,
        retry_wait: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.options = options
        self.base_dir = base_dir
        self.timeout = timeout
        self.attempts = attempts
        self.retry_wait = retry_wait
        self.sleep = sleep

    def options_of(self, series_id: str) -> CsvOptions:
        """The validated options of `series_id` (SourceError when the rules give none)."""
        raw = self.options(series_id)
        if not raw:
            raise SourceError(SOURCE, series_id, "no `source: csv` series has this id in the rules")
        try:
            return CsvOptions.model_validate(dict(raw))
        except ValidationError as err:
            detail = str(err).splitlines()[1:3]
            raise SourceError(SOURCE, series_id, f"bad options: {' '.join(detail)}") from err

    def file_of(self, options: CsvOptions) -> Path | None:
        """The local file behind `url` (None for http and https)."""
        parts = urlsplit(options.url)
        if parts.scheme.lower() in ("http", "https"):
            return None
        path = Path(unquote(parts.path) if parts.scheme else options.url).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def files(self, series_id: str) -> list[Path]:
        """The local file `series_id` is read from (empty for a URL or without options)."""
        try:
            path = self.file_of(self.options_of(series_id))
        except SourceError:
            return []
        return [] if path is None else [path]

    def read_as(self, series_id: str) -> str:
        """The series' options in the rules (another column of the same file is news)."""
        try:
            return self.options_of(series_id).model_dump_json()
        except SourceError:
            return ""

    def last_updated(self, series_id: str) -> datetime | None:
        """A file's modification time (a rewritten file is a new release); None for URLs."""
        path = self.file_of(self.options_of(series_id))
        if path is None:
            return None
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        except OSError:
            return None  # fetch says what is wrong

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """Every observation the document holds (from `since` when given)."""
        options = self.options_of(series_id)
        path = self.file_of(options)
        if path is None:
            body = retrier(self.attempts, self.retry_wait, self.sleep)(
                get_bytes, self.client, options.url, source=SOURCE, series_id=series_id,
                timeout=self.timeout,
            )
            origin = options.url.rsplit("/", 1)[-1].split("?")[0] or options.url
        else:
            try:
                body = path.read_bytes()
            except OSError as err:
                raise SourceError(SOURCE, series_id, f"cannot read {path}: {err.strerror or err}"
                                  ) from err
            origin = path.name
        values = parse(body, options, series_id, origin)
        if since is not None:
            values = values[values.index >= pd.Timestamp(since)]
        stamp = self.last_updated(series_id) if path is not None else None
        return Fetched(series_id, values, last_updated=stamp)


def parse(body: bytes, options: CsvOptions, series_id: str, origin: str) -> pd.Series:
    """The series in a CSV or JSON body; SourceError naming `origin` and the line or record."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError(SOURCE, series_id, f"{origin}: not UTF-8 text ({err.reason})") from err
    if options.format == "json":
        where, days, raw = _json_rows(text, options, series_id, origin)
    else:
        where, days, raw = _csv_rows(text, options, series_id, origin)
    missing = ALWAYS_MISSING | {m.strip() for m in options.missing}
    values: list[float] = []
    for at, cell in zip(where, raw, strict=True):
        if cell is None or (isinstance(cell, str) and cell.strip() in missing):
            values.append(float("nan"))
            continue
        try:
            if isinstance(cell, bool):
                raise ValueError
            values.append(float(cell.strip() if isinstance(cell, str) else cell))
        except (TypeError, ValueError):
            raise SourceError(SOURCE, series_id, f"{origin}:{at}: {options.value} = {cell!r} "
                              "is not a number") from None
    stamps = _dates(days, options)
    bad = stamps.isna().to_numpy()
    if bad.any():
        first = int(bad.argmax())
        want = options.date_format or "an ISO 8601 date"
        raise SourceError(SOURCE, series_id, f"{origin}:{where[first]}: {options.date} = "
                          f"{days[first]!r} is not {want}")
    series = pd.Series(values, index=pd.DatetimeIndex(stamps.to_numpy()), dtype="float64")
    series = to_series(series, series_id)
    if series.empty:
        raise SourceError(SOURCE, series_id, f"{origin}: no observations in column "
                          f"{options.value!r}")
    return series


def _dates(days: Sequence[str], options: CsvOptions) -> pd.Series:
    texts = pd.Series([d.strip() for d in days], dtype="string")
    if options.date_format:
        parsed = pd.to_datetime(texts, format=options.date_format, errors="coerce")
    else:
        parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=True)
        parsed = parsed.dt.tz_localize(None)
    return parsed


def _column(header: list[str], name: str) -> int | None:
    cells = [h.strip() for h in header]
    if name in cells:
        return cells.index(name)
    lowered = [c.lower() for c in cells]
    return lowered.index(name.lower()) if name.lower() in lowered else None


def _csv_rows(
    text: str, options: CsvOptions, series_id: str, origin: str
) -> tuple[list[str], list[str], list[Any]]:
    reader = csv.reader(io.StringIO(text), delimiter=options.delimiter)
    try:
        header = next(reader, [])
        date_at, value_at = _column(header, options.date), _column(header, options.value)
        if date_at is None or value_at is None:
            absent = options.date if date_at is None else options.value
            shown = ",".join(header)[:80]
            raise SourceError(SOURCE, series_id, f"{origin}:1: no column {absent!r} in the "
                              f"header {shown!r} (not the CSV the rules describe?)")
        where: list[str] = []
        days: list[str] = []
        raw: list[Any] = []
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(date_at, value_at):
                raise SourceError(SOURCE, series_id, f"{origin}:{reader.line_num}: {len(row)} "
                                  f"fields where the header has {len(header)}")
            where.append(str(reader.line_num))
            days.append(row[date_at])
            raw.append(row[value_at])
    except csv.Error as err:
        raise SourceError(SOURCE, series_id, f"{origin}:{reader.line_num}: {err}") from err
    return where, days, raw


def _json_rows(
    text: str, options: CsvOptions, series_id: str, origin: str
) -> tuple[list[str], list[str], list[Any]]:
    try:
        node: Any = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise SourceError(SOURCE, series_id, f"{origin}: not JSON ({str(err)[:120]})") from err
    for step in (options.path or "").split(".") if options.path else ():
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            raise SourceError(SOURCE, series_id, f"{origin}: no {options.path!r} in the JSON "
                              f"(stopped at {step!r})")
    if not isinstance(node, list):
        raise SourceError(SOURCE, series_id, f"{origin}: {options.path or 'the document'} is "
                          f"not a list of records")
    where: list[str] = []
    days: list[str] = []
    raw: list[Any] = []
    for n, record in enumerate(node, start=1):
        if not (isinstance(record, dict) and options.date in record
                and options.value in record):
            raise SourceError(SOURCE, series_id, f"{origin}:record {n}: not an object with "
                              f"{options.date!r} and {options.value!r}")
        where.append(f"record {n}")
        days.append(str(record[options.date]))
        raw.append(record[options.value])
    return where, days, raw
