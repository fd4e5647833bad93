"""FRED adapter: the API through fredapi with a key (plus ALFRED vintages), keyless CSV without.

fredapi speaks XML over urllib with no timeout and turns FRED's error body into a bare
ValueError, so every call here runs in a daemon thread bounded by `timeout`, and its errors are
mapped to SourceError by message. All requests of one instance share a rate limiter (FRED
answers bursts above ~2 requests/s with 429) and are retried with backoff when retryable.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
from fredapi import Fred
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from sources.base import Fetched, SourceError, Vintage, to_series
from sources.files import parse_fred_csv

T = TypeVar("T")
MAX_VINTAGES_PER_REQUEST = 2000  # FRED's cap for xml/json observations
VINTAGE_DATES_LIMIT = 10000  # one /series/vintagedates page; fredapi does not page
LATEST_REALTIME = "9999-12-31"
KEY_HINT = (
    "check FRED_API_KEY (a 32-character lower-case key from "
    "https://fredaccount.stlouisfed.org/apikeys), or unset it to use keyless CSV"
)
SERIES_HINT = "check the series id in rules.yaml"
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_STUCK_CALLS = 4  # abandoned fredapi calls (hung sockets) before we stop starting more

# The FRED ids of ../shared/data/fred: fetched when no rules file can be read.
DEFAULT_FRED_SERIES = (
    "BAMLH0A0HYM2", "CPIAUCSL", "DFEDTARL", "DFEDTARU", "DFF", "DFII10", "DGS10", "EFFR",
    "FEDFUNDS", "FYFSD", "GDP", "GFDEBTN", "IORB", "M2SL", "MTSDS133FMS", "NASDAQCOM", "NROU",
    "PCEPILFE", "RRPONTSYD", "SP500", "T10YIE", "THREEFYTP10", "TOTBKCR", "TREAST", "UNRATE",
    "WALCL", "WRESBAL", "WSHOMCB", "WTREGEN",
)  # fmt: skip


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart, across all threads sharing it."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed, and reserve that slot."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


class FredSource:
    """FRED series: fredapi with an API key, keyless fredgraph.csv through httpx without."""

    label = "FRED"

    def __init__(
        self,
        *,
        api_key: str | None,
        api_url: str = "https://api.stlouisfed.org/fred",
        graph_url: str = "https://fred.stlouisfed.org/graph/fredgraph.csv",
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        rate: float = 2.0,
        attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = "fred" if api_key else "fredgraph"
        self.graph_url = graph_url
        self.timeout = timeout
        self.limiter = RateLimiter(rate, sleep=sleep)
        self._fred: Fred | None = None
        self._stuck: list[threading.Thread] = []
        if api_key:
            self._fred = Fred(api_key=api_key)
            self._fred.root_url = api_url.rstrip("/")
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=backoff, max=max_backoff) + wait_random(0, backoff),
            retry=retry_if_exception(lambda err: isinstance(err, SourceError) and err.retryable),
            sleep=sleep,
            reraise=True,
        )

    @property
    def keyed(self) -> bool:
        """Whether this instance uses the API (and can fetch vintages)."""
        return self._fred is not None

    @property
    def supports_vintages(self) -> bool:
        """Vintages come from ALFRED, which needs the API key."""
        return self.keyed

    # --- protocol ----------------------------------------------------------------------

    def last_updated(self, series_id: str) -> datetime | None:
        """FRED's `last_updated` stamp, in UTC (None without a key: fredgraph has no such call)."""
        if self._fred is None:
            return None
        info = self._api(series_id, lambda fred: fred.get_series_info(series_id))
        stamp = str(info.get("last_updated", ""))
        try:
            return datetime.fromisoformat(stamp).astimezone(UTC)
        except ValueError:
            raise SourceError(
                self.name, series_id, f"FRED sent an unreadable last_updated {stamp!r}"
            ) from None

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """Current values of `series_id` from `since` (all history when None)."""
        if self._fred is None:
            return Fetched(series_id, self._fetch_csv(series_id, since))
        raw = self._api(series_id, lambda fred: fred.get_series(series_id, observation_start=since))
        return Fetched(series_id, to_series(pd.Series(raw, dtype="float64"), series_id))

    def fetch_vintages(self, series_id: str) -> Fetched:
        """Every publication of `series_id` from ALFRED: first releases and each revision.

        Requests are split into realtime windows of at most 2,000 vintage dates (FRED's cap;
        fredapi does not page). Meant for weekly and monthly series.
        """
        if self._fred is None:
            raise SourceError(self.name, series_id, f"vintages need the FRED API; {KEY_HINT}")
        dates = self._api(series_id, lambda fred: fred.get_series_vintage_dates(series_id))
        if len(dates) >= VINTAGE_DATES_LIMIT:
            raise SourceError(
                self.name,
                series_id,
                f"{len(dates)}+ vintages is more than point-in-time fetching supports "
                "(weekly and monthly series)",
            )
        frames = [
            self._all_releases(series_id, start, end)
            for start, end in realtime_windows([pd.Timestamp(d).date() for d in dates])
        ]
        return _vintages_to_fetched(series_id, frames)

    def _all_releases(self, series_id: str, start: str, end: str) -> pd.DataFrame:
        frame: pd.DataFrame = self._api(
            series_id,
            lambda fred: fred.get_series_all_releases(
                series_id, realtime_start=start, realtime_end=end
            ),
        )
        return frame

    # --- transport ---------------------------------------------------------------------

    def _api(self, series_id: str, call: Callable[[Fred], T]) -> T:
        fred = self._fred
        assert fred is not None
        result: T = self._retrying(self._bounded, series_id, lambda: call(fred))
        return result

    def _bounded(self, series_id: str, call: Callable[[], T]) -> T:
        """One rate-limited fredapi call in a daemon thread, abandoned after `timeout`."""
        self._stuck = [t for t in self._stuck if t.is_alive()]
        if len(self._stuck) >= MAX_STUCK_CALLS:
            # Abandoned calls cannot be cancelled; do not pile up more behind a hung server.
            raise SourceError(
                self.name, series_id,
                f"{len(self._stuck)} earlier requests are still unanswered",
                retryable=True,
            )  # fmt: skip
        self.limiter.wait()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = call()
            except BaseException as err:  # handed back to the caller's thread
                outcome["error"] = err

        worker = threading.Thread(target=run, name=f"fredapi-{series_id}", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            self._stuck.append(worker)
            raise SourceError(
                self.name, series_id, f"no answer within {self.timeout:g}s", retryable=True
            )
        if "error" in outcome:
            raise api_error(self.name, series_id, outcome["error"])
        value: T = outcome["value"]
        return value

    def _fetch_csv(self, series_id: str, since: date | None) -> pd.Series:
        params = {"id": series_id}
        if since is not None:
            params["cosd"] = since.isoformat()
        body = self._retrying(self._get_csv, series_id, params)
        return parse_fred_csv(body, series_id, origin="fredgraph.csv", source=self.name)

    def _get_csv(self, series_id: str, params: dict[str, str]) -> str:
        self.limiter.wait()
        try:
            response = self._http.get(self.graph_url, params=params, timeout=self.timeout)
        except httpx.TimeoutException as err:
            raise SourceError(
                self.name, series_id, f"no answer within {self.timeout:g}s", retryable=True
            ) from err
        except httpx.HTTPError as err:
            raise SourceError(
                self.name,
                series_id,
                f"cannot reach FRED: {type(err).__name__}: {err}",
                retryable=True,
            ) from err
        status = response.status_code
        if status in (400, 404):
            raise SourceError(
                self.name,
                series_id,
                f"FRED has no series {series_id!r} (HTTP {status}); {SERIES_HINT}",
            )
        if status >= 400:
            raise SourceError(
                self.name,
                series_id,
                f"HTTP {status} from fredgraph.csv",
                retryable=status in RETRYABLE_STATUSES,
            )
        return response.text


def api_error(source: str, series_id: str, err: BaseException) -> SourceError:
    """Map what fredapi raised to a SourceError that says whether waiting may help."""
    if isinstance(err, SourceError):
        return err
    if isinstance(err, ET.ParseError):
        # fredapi parses every error body as XML: a plain-text 429 or an HTML 5xx page ends here.
        return SourceError(
            source,
            series_id,
            "FRED answered with a body that is not XML (rate limiting or a server error)",
            retryable=True,
        )
    if isinstance(err, ValueError):
        message = str(err).strip()
        if message in ("", "None"):
            # fredapi found no FRED `message` in an XML-parsable error body: an HTML error page.
            return SourceError(
                source, series_id, "FRED answered with an error page", retryable=True
            )
        if "api_key" in message:
            return SourceError(source, series_id, f"{message} — {KEY_HINT}")
        if "series does not exist" in message or message.startswith(("No data", "No info")):
            return SourceError(
                source, series_id, f"FRED has no series {series_id!r} ({message}); {SERIES_HINT}"
            )
        if message.startswith(("Too Many", "Internal Server", "Service Unavailable")):
            return SourceError(source, series_id, message, retryable=True)
        if message.startswith(("Bad Request", "Not Found", "Locked")):
            return SourceError(source, series_id, f"FRED refused the request: {message}")
        return SourceError(source, series_id, f"FRED sent data that cannot be read: {message}")
    if isinstance(err, urllib.error.URLError):
        return SourceError(source, series_id, f"cannot reach FRED: {err.reason}", retryable=True)
    if isinstance(err, (OSError, http.client.HTTPException)):
        return SourceError(
            source, series_id, f"cannot reach FRED: {type(err).__name__}: {err}", retryable=True
        )
    return SourceError(source, series_id, f"unexpected {type(err).__name__}: {err}")


def realtime_windows(
    vintage_dates: list[date], per_request: int = MAX_VINTAGES_PER_REQUEST
) -> list[tuple[str, str]]:
    """Consecutive realtime windows that each span at most `per_request` vintage dates."""
    dates = sorted(set(vintage_dates))
    windows = []
    for i in range(0, len(dates), per_request):
        start = dates[i].isoformat()
        following = i + per_request
        end = (
            (dates[following] - timedelta(days=1)).isoformat()
            if following < len(dates)
            else LATEST_REALTIME
        )
        windows.append((start, end))
    return windows


def _vintages_to_fetched(series_id: str, frames: list[pd.DataFrame]) -> Fetched:
    """Merge all-release rows of every window into first releases plus revisions."""
    usable = [f for f in frames if not f.empty]
    if not usable:
        return Fetched(series_id, to_series({}, series_id))
    rows = pd.concat(usable, ignore_index=True)
    rows = pd.DataFrame(
        {
            "date": pd.to_datetime(rows["date"]),
            "realtime_start": pd.to_datetime(rows["realtime_start"]),
            "value": pd.to_numeric(rows["value"], errors="coerce").astype("float64"),
        }
    ).dropna(subset=["value"])
    rows = rows.sort_values(["date", "realtime_start"], kind="stable")
    # A window restates values still current at its start; keep only real changes.
    previous = rows.groupby("date")["value"].shift()
    rows = rows[rows["value"] != previous]
    vintages = _split_by_publication(rows, series_id)
    latest = rows.drop_duplicates("date", keep="last")
    values = to_series(pd.Series(latest["value"].to_numpy(), index=latest["date"]), series_id)
    return Fetched(series_id, values, realtime_start=vintages[-1].realtime_start, vintages=vintages)


def _split_by_publication(rows: pd.DataFrame, series_id: str) -> tuple[Vintage, ...]:
    """One Vintage per realtime_start (rows are clean: floats, one per date and vintage)."""
    ordered = rows.sort_values(["realtime_start", "date"], kind="stable")
    published = ordered["realtime_start"].to_numpy()
    dates = pd.DatetimeIndex(ordered["date"].to_numpy())
    values = ordered["value"].to_numpy(dtype="float64")
    starts = np.flatnonzero(np.r_[True, published[1:] != published[:-1]])
    ends = np.r_[starts[1:], len(published)]
    return tuple(
        Vintage(
            pd.Timestamp(published[a]).date(),
            pd.Series(values[a:b], index=dates[a:b], name=series_id, dtype="float64"),
        )
        for a, b in zip(starts, ends, strict=True)
    )
