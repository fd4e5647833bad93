"""Fiscal Data API adapter: MSPD table 1 (bill share of marketable debt) and auction results.

Series offered: `mspd_bills`, `mspd_marketable` (millions, month-end), `bill_share` (percent),
and monthly auction aggregates `coupon_bid_to_cover`, `bill_issuance_share`, `coupon_offering`,
`bill_offering` (millions). Rows are parsed by `sources.fiscal`, the same code that reads the
CSV downloads of an offline data directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sources.base import Fetched, SourceError
from sources.fiscal import (
    AUCTION_SERIES,
    MSPD_SERIES,
    SOURCE,
    RowError,
    auction_table,
    series_from_rows,
)
from sources.web import get_bytes, retrier

MSPD_ENDPOINT = "v1/debt/mspd/mspd_table_1"
AUCTIONS_ENDPOINT = "v1/accounting/od/auctions_query"
MSPD_FIELDS: tuple[str, ...] = (
    "record_date", "security_type_desc", "security_class_desc", "total_mil_amt",
)
AUCTION_FIELDS: tuple[str, ...] = (
    "auction_date", "security_type", "security_term", "offering_amt", "bid_to_cover_ratio",
    "inflation_index_security", "floating_rate", "cash_management_bill_cmb",
)
MAX_PAGES = 1000


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore")
    total_count: int = Field(alias="total-count", ge=0)
    total_pages: int = Field(alias="total-pages", ge=0)


class _Links(BaseModel):
    model_config = ConfigDict(extra="ignore")
    next: str | None = None


class _Page(BaseModel):
    """One page of a Fiscal Data response: every value a string ("null" when missing)."""

    model_config = ConfigDict(extra="ignore")
    data: list[dict[str, str | None]]
    meta: _Meta
    links: _Links


class TreasurySource:
    """Reads Treasury series from the Fiscal Data API with an injected httpx client."""

    name = SOURCE

    def __init__(
        self,
        base_url: str,
        client: httpx.Client,
        *,
        page_size: int = 10000,
        attempts: int = 3,
        retry_wait: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.page_size = page_size
        self.attempts = attempts
        self.retry_wait = retry_wait
        self.sleep = sleep

    def series_ids(self) -> list[str]:
        """Every series this adapter offers."""
        return [*MSPD_SERIES, *AUCTION_SERIES]

    def last_updated(self, series_id: str) -> datetime | None:
        """Fiscal Data states no per-dataset update time cheaply; the store uses fetch dates."""
        return None

    def auctions(self, since: date | None = None) -> pd.DataFrame:
        """Every auction from `since`, one row each (see `sources.fiscal.auction_table`)."""
        rows = self.rows(AUCTIONS_ENDPOINT, "auction_date", AUCTION_FIELDS, since)
        try:
            return auction_table(rows)
        except RowError as err:
            raise SourceError(SOURCE, None, f"{AUCTIONS_ENDPOINT}: {err}") from err

    def latest_date(self, series_id: str) -> date | None:
        """The newest record date behind `series_id`, in one one-row request: a cheap poll
        while waiting for a release (fetch the series only when this moves)."""
        endpoint, date_field, _ = self._dataset(series_id)
        params = {"fields": date_field, "sort": f"-{date_field}", "page[size]": "1",
                  "page[number]": "1"}
        page = self._page(endpoint, params, series_id)
        if not page.data:
            return None
        text = page.data[0].get(date_field) or ""
        try:
            return date.fromisoformat(text[:10])
        except ValueError as err:
            raise SourceError(SOURCE, series_id, f"{endpoint}: {date_field} {text!r} is not a date"
                              ) from err

    def _dataset(self, series_id: str) -> tuple[str, str, tuple[str, ...]]:
        if series_id in MSPD_SERIES:
            return MSPD_ENDPOINT, "record_date", MSPD_FIELDS
        if series_id in AUCTION_SERIES:
            return AUCTIONS_ENDPOINT, "auction_date", AUCTION_FIELDS
        raise SourceError(SOURCE, series_id, f"unknown Treasury series {series_id!r}")

    def fetch(self, series_id: str, since: date | None = None) -> Fetched:
        """All pages of the dataset behind `series_id` from `since`, computed into the series.

        `since` is moved back to the first of its month: the series are monthly aggregates,
        and a month computed from part of its rows would overwrite the whole month's value.
        """
        endpoint, date_field, fields = self._dataset(series_id)
        start = since.replace(day=1) if since is not None else None
        rows = self.rows(endpoint, date_field, fields, start, series_id)
        values = series_from_rows(series_id, rows, endpoint)
        return Fetched(series_id, values)

    def rows(
        self,
        endpoint: str,
        date_field: str,
        fields: tuple[str, ...],
        since: date | None,
        series_id: str | None = None,
    ) -> list[dict[str, str]]:
        """Every row of `endpoint` from `since`, page by page; all pages or an error."""
        params = {"fields": ",".join(fields), "sort": date_field, "page[size]": str(self.page_size)}
        if since is not None:
            params["filter"] = f"{date_field}:gte:{since.isoformat()}"
        rows: list[dict[str, str]] = []
        page_number, expected = 1, None
        while True:
            page = self._page(endpoint, {**params, "page[number]": str(page_number)}, series_id)
            if expected is None:
                expected = page.meta.total_count
            rows += [{k: "null" if v is None else v for k, v in r.items()} for r in page.data]
            if page.links.next is None or page_number >= page.meta.total_pages:
                break
            page_number += 1
            if page_number > MAX_PAGES:
                raise SourceError(SOURCE, series_id, f"{endpoint}: more than {MAX_PAGES} pages")
        if len(rows) != expected:
            raise SourceError(
                SOURCE, series_id,
                f"{endpoint}: got {len(rows)} rows but meta total-count said {expected} "
                "(data changed while paging?)",
                retryable=True,
            )
        return rows

    def _page(self, endpoint: str, params: dict[str, str], series_id: str | None) -> _Page:
        retrying = retrier(self.attempts, self.retry_wait, self.sleep)
        url = f"{self.base_url}/{endpoint}"
        body = retrying(get_bytes, self.client, url, source=SOURCE, series_id=series_id,
                        params=params)
        try:
            return _Page.model_validate(json.loads(body))
        except (ValueError, ValidationError) as err:
            detail = str(err).splitlines()[0][:200]
            raise SourceError(
                SOURCE, series_id, f"{endpoint}: malformed response body ({detail})"
            ) from err
