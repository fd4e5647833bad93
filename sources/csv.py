"""Any series from a CSV or JSON document at a URL or in a file, with declared columns.

In rules.yaml (the keys after `id` are this source's options, checked by `CsvOptions`)::

    gold: {source: csv, id: GOLD, date: Date, value: Price, file: other/gold_monthly.csv,
           url: "https://raw.githubusercontent.com/datasets/gold-prices/main/data/monthly.csv"}
    btc:  {source: csv, id: BTC, url: "https://example.org/btc.json", format: json,
           path: data.observations, date: date, value: value}

`url` is where `run` and `fetch` read the series (http(s), or a path or `file:` URL); `file`
is its name under a data directory (`--data DIR`, `CYCLEWATCH_DATA`, and the tests), read
instead of `url` whenever a data directory is in use. Local paths resolve against the data
directory when given, else the rules file's folder, and must lie under it (sources/local.py);
every read is capped (sources/limits.py). Dates are ISO 8601
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
from urllib.parse import urlsplit

import httpx
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sources.base import Fetched, SourceError, to_series
from sources.limits import Body, FetchLimits, over
from sources.local import HOW, OutsideError, inside, is_web, plain_relative, regular
from sources.web import DEFAULT_LIMITS, get_bytes, retrier

SOURCE = "csv"
ALWAYS_MISSING = frozenset({"", ".", "NA", "N/A", "NaN", "nan", "null", "None"})


class CsvOptions(BaseModel):
    """The `source: csv` keys of one series in rules.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(None, min_length=1, max_length=2000)
    file: str | None = Field(None, min_length=1, max_length=500)
    date: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=200)
    format: Literal["csv", "json"] = "csv"
    path: str | None = Field(None, max_length=500)  # JSON: dotted path to the list of records
    missing: list[str] = Field(default_factory=list, max_length=50)
    date_format: str | None = Field(None, max_length=100)
    delimiter: str = Field(",", min_length=1, max_length=1)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        scheme = urlsplit(url or "").scheme.lower()
        if scheme not in ("", "http", "https", "file"):
            raise ValueError(f"{url!r}: use http(s)://, file: or a path")
        return url

    @field_validator("file")
    @classmethod
    def _inside_folder(cls, file: str | None) -> str | None:
        why = plain_relative(file) if file is not None else None
        if why is not None:
            raise PydanticCustomError("outside_data_dir", f"{file!r}: give {why}; {HOW}")
        return file

    @model_validator(mode="after")
    def _somewhere(self) -> CsvOptions:
        if self.url is None and self.file is None:
            raise PydanticCustomError(
                "missing_place", 'missing "url" or "file" (source csv needs one: url for run '
                "and fetch, file for its name under a data directory)")
        return self

    @classmethod
    def within(cls, root: Path, folder: str = "the data directory") -> type[CsvOptions]:
        """These options, with every local path also checked to lie under `root` (what
        `cyclewatch check` validates against: the data directory, else the rules' folder)."""

        def check(value: str | None) -> str | None:
            if value is not None and not is_web(value):
                try:
                    inside(value, root, folder=folder)
                except OutsideError as err:
                    raise PydanticCustomError("outside_data_dir", str(err)) from None
            return value

        return create_model(
            "CsvOptionsWithin", __base__=cls,
            __validators__={"_within": field_validator("url", "file")(check)},
        )


class CsvSource:
    """Reads `source: csv` series; each series' options come from the rules through `options`.

    Local files are read only under `base_dir` (the data directory, else the rules file's
    folder; sources/local.py), URLs and files both within `limits` (sources/limits.py).
    `offline` (a data directory is in use) reads a series' `file:` before its `url:`; live,
    the `url:` comes first. `mirrors` rewrite URL prefixes (`CYCLEWATCH_CSV_MIRRORS`)."""

    name = SOURCE

    def __init__(
        self,
        client: httpx.Client,
        options: Callable[[str], Mapping[str, Any]],
        *,
        base_dir: Path | None = None,
        offline: bool = False,
        timeout: float | None = None,
        attempts: int = 3,
        retry_wait: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        limits: FetchLimits = DEFAULT_LIMITS,
        mirrors: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.base_dir = base_dir if base_dir is not None else Path.cwd()
        self.folder = "the data directory" if offline else "the rules file's folder"
        self.offline = offline
        self.timeout = timeout
        self.attempts = attempts
        self.retry_wait = retry_wait
        self.sleep = sleep
        self.limits = limits
        self.mirrors = dict(mirrors or {})

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

    def origin(self, options: CsvOptions) -> str:
        """Where a series is read from now: a URL (mirrored), or a file name or path."""
        first, second = (options.file, options.url) if self.offline else (options.url,
                                                                          options.file)
        spec = first if first is not None else second
        assert spec is not None  # CsvOptions requires one
        if is_web(spec):
            for prefix, replacement in self.mirrors.items():
                if spec.startswith(prefix):
                    return replacement.rstrip("/") + spec[len(prefix.rstrip("/")):]
        return spec

    def origin_of(self, series_id: str) -> str | None:
        """`origin` of a series by id (None without options), for `cyclewatch status`."""
        try:
            return self.origin(self.options_of(series_id))
        except SourceError:
            return None

    def file_of(self, options: CsvOptions, series_id: str = "") -> Path | None:
        """The local file a series is read from now (None for http and https); SourceError
        when it lies outside `base_dir` or is no regular file."""
        spec = self.origin(options)
        if is_web(spec):
            return None
        try:
            path = inside(spec, self.base_dir, folder=self.folder)
        except OutsideError as err:
            raise SourceError(SOURCE, series_id, str(err)) from None
        if regular(path) is False:
            raise SourceError(SOURCE, series_id, f"{spec!r} is not a regular file")
        return path

    def files(self, series_id: str) -> list[Path]:
        """The local file `series_id` is read from (empty for a URL or without options)."""
        try:
            path = self.file_of(self.options_of(series_id), series_id)
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
        path = self.file_of(self.options_of(series_id), series_id)
        if path is None:
            return None
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        except OSError:
            return None  # fetch says what is wrong

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """Every observation the document holds (from `since` when given)."""
        options = self.options_of(series_id)
        path = self.file_of(options, series_id)
        rows = options.format == "csv"
        if path is None:
            url = self.origin(options)
            body = retrier(self.attempts, self.retry_wait, self.sleep)(
                get_bytes, self.client, url, source=SOURCE, series_id=series_id,
                timeout=self.timeout, limits=self.limits, rows=rows,
            )
            where = url.rsplit("/", 1)[-1].split("?")[0] or url
        else:
            body = read_file(path, self.limits, rows=rows, series_id=series_id)
            where = path.name
        values = parse(body, options, series_id, where, max_rows=self.limits.max_rows)
        if since is not None:
            values = values[values.index >= pd.Timestamp(since)]
        stamp = self.last_updated(series_id) if path is not None else None
        return Fetched(series_id, values, last_updated=stamp)


def read_file(path: Path, limits: FetchLimits, *, rows: bool, series_id: str) -> bytes:
    """A local file's bytes within the size and row caps; a file not there yet is retryable
    (it may be copied in later), so the service says so once instead of as an error."""
    body = Body(limits, source=SOURCE, series_id=series_id, where=path.name, rows=rows)
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                body.feed(chunk)
    except FileNotFoundError:
        raise SourceError(SOURCE, series_id, f"no file {path}", retryable=True) from None
    except OSError as err:
        raise SourceError(SOURCE, series_id, f"cannot read {path}: {err.strerror or err}"
                          ) from err
    return body.bytes()


def parse(body: bytes, options: CsvOptions, series_id: str, origin: str,
          max_rows: int = DEFAULT_LIMITS.max_rows) -> pd.Series:
    """The series in a CSV or JSON body; SourceError naming `origin` and the line or record
    (or the row cap, `max_rows` records of a JSON document)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError(SOURCE, series_id, f"{origin}: not UTF-8 text ({err.reason})") from err
    if options.format == "json":
        where, days, raw = _json_rows(text, options, series_id, origin)
        if len(raw) > max_rows:
            raise over(SOURCE, series_id, "max_rows", f"{origin}: more than {max_rows:,} "
                       "records")
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
