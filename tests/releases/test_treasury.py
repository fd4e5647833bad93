"""Fiscal Data adapter against the wire-level fake, and the offline CSV reader, on real rows."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest

from sources.base import Source, SourceError
from sources.files import FileSource
from sources.treasury import AUCTIONS_ENDPOINT, TreasurySource
from tests.fakes.fiscaldata import FiscalDataFake


def _bills_over_marketable(rows: list[dict[str, str]], month_end: str) -> float:
    month = [r for r in rows if r["Record Date"] == month_end]
    bills = next(r for r in month if r["Security Class Description"] == "Bills")
    total = next(r for r in month if r["Security Type Description"] == "Total Marketable")
    col = "Total Public Debt Outstanding (in Millions)"
    return float(bills[col]) / float(total[col]) * 100


def test_bill_share_equals_bills_over_marketable_from_the_same_rows(
    fiscal_fake: FiscalDataFake, http: httpx.Client, mspd_csv_rows: list[dict[str, str]]
) -> None:
    source = TreasurySource(fiscal_fake.url, http, page_size=500, retry_wait=0)
    share = source.fetch("bill_share").values
    months = sorted({r["Record Date"] for r in mspd_csv_rows})
    assert len(share) == len(months)
    for month_end in ["2008-12-31", "2020-06-30", "2023-12-31", "2026-05-31"]:
        assert share[pd.Timestamp(month_end)] == pytest.approx(
            _bills_over_marketable(mspd_csv_rows, month_end), rel=1e-12
        )
    assert round(share[pd.Timestamp("2026-05-31")], 2) == 21.86
    pages = [r for r in fiscal_fake.server.requests if "mspd_table_1" in r]
    assert len(pages) == -(-len(mspd_csv_rows) // 500)
    assert all("page%5Bnumber%5D=" in r and "page%5Bsize%5D=500" in r for r in pages)


def test_since_is_sent_as_a_filter_and_bills_and_marketable_come_in_millions(
    fiscal_fake: FiscalDataFake, http: httpx.Client, mspd_csv_rows: list[dict[str, str]]
) -> None:
    source = TreasurySource(fiscal_fake.url, http, retry_wait=0)
    bills = source.fetch("mspd_bills", since=date(2026, 1, 1)).values
    assert [d.strftime("%Y-%m-%d") for d in bills.index] == [
        "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"
    ]
    raw = next(r for r in mspd_csv_rows if r["Record Date"] == "2026-05-31"
               and r["Security Class Description"] == "Bills")
    assert bills.iloc[-1] == float(raw["Total Public Debt Outstanding (in Millions)"])
    assert "record_date%3Agte%3A2026-01-01" in fiscal_fake.server.requests[-1]


def _auction(day: str, kind: str, offering: int, btc: str, **flags: str) -> dict[str, str]:
    return {
        "record_date": day, "auction_date": day, "security_type": kind, "security_term": "x",
        "offering_amt": str(offering), "bid_to_cover_ratio": btc,
        "inflation_index_security": flags.get("tips", "No"),
        "floating_rate": flags.get("frn", "No"), "cash_management_bill_cmb": "No",
        "cusip": "912797XX0",
    }


@pytest.fixture
def auctions_fake() -> FiscalDataFake:
    """Synthetic auctions: 2,400 rows over 2024-2025 (plainly made up, for paging)."""
    fake = FiscalDataFake()
    rows = []
    for i in range(2400):
        month = 1 + i % 12
        year = 2024 + (i // 1200)
        day = f"{year}-{month:02d}-{1 + i % 28:02d}"
        kind = ["Bill", "Note", "Bond", "Note"][i % 4]
        rows.append(_auction(day, kind, 10_000_000_000 + i * 1_000_000, f"{2 + (i % 7) / 10:.2f}",
                             tips="Yes" if i % 40 == 3 else "No"))
    rows.append(_auction("2025-12-30", "Note", 70_000_000_000, "null"))
    fake.datasets[AUCTIONS_ENDPOINT] = rows
    return fake


def test_paging_over_many_pages_aggregates_every_auction(
    auctions_fake: FiscalDataFake, http: httpx.Client
) -> None:
    rows = auctions_fake.datasets[AUCTIONS_ENDPOINT]
    with auctions_fake.server.running():
        source = TreasurySource(auctions_fake.url, http, page_size=100, retry_wait=0)
        btc = source.fetch("coupon_bid_to_cover").values
        bill_share = source.fetch("bill_issuance_share").values
        table = source.auctions(since=date(2025, 9, 1))
    full = [r for r in auctions_fake.server.requests if "filter=" not in r]
    assert len(full) == 2 * 25
    march = [r for r in rows if r["auction_date"].startswith("2025-03")]
    coupons = [r for r in march if r["security_type"] in ("Note", "Bond")
               and r["inflation_index_security"] == "No"]
    weights = [float(r["offering_amt"]) for r in coupons]
    expected = sum(float(r["bid_to_cover_ratio"]) * w for r, w in zip(coupons, weights,
                                                                       strict=True)) / sum(weights)
    assert btc[pd.Timestamp("2025-03-31")] == pytest.approx(expected)
    bills = sum(float(r["offering_amt"]) for r in march if r["security_type"] == "Bill")
    total = sum(float(r["offering_amt"]) for r in march)
    assert bill_share[pd.Timestamp("2025-03-31")] == pytest.approx(bills / total * 100)
    assert len(table) == len([r for r in rows if r["auction_date"] >= "2025-09-01"])
    assert table["btc"].isna().sum() == 1
    assert set(table["kind"]) == {"bill", "coupon", "other"}
    # the December auction not yet run ("null" result) counts as offered, not in bid-to-cover
    december = [r for r in rows if r["auction_date"].startswith("2025-12")]
    dec_bills = sum(float(r["offering_amt"]) for r in december if r["security_type"] == "Bill")
    dec_total = sum(float(r["offering_amt"]) for r in december)
    assert bill_share[pd.Timestamp("2025-12-31")] == pytest.approx(dec_bills / dec_total * 100)


def test_a_429_waits_as_long_as_retry_after_says(
    fiscal_fake: FiscalDataFake, http: httpx.Client
) -> None:
    slept: list[float] = []
    fiscal_fake.server.inject("429")  # the fake sends Retry-After: 1
    source = TreasurySource(fiscal_fake.url, http, retry_wait=0, sleep=slept.append)
    assert len(source.fetch("bill_share", since=date(2026, 1, 1)).values) == 5
    assert slept == [1.0]


def test_a_transient_500_is_retried(fiscal_fake: FiscalDataFake, http: httpx.Client) -> None:
    fiscal_fake.server.inject("500")
    source = TreasurySource(fiscal_fake.url, http, retry_wait=0)
    assert len(source.fetch("bill_share", since=date(2026, 1, 1)).values) == 5


@pytest.mark.parametrize(
    ("fault", "retryable", "words"),
    [
        ("429", True, "HTTP 429"),
        ("500", True, "HTTP 500"),
        ("truncated", True, "RemoteProtocolError"),
        ("nonjson", False, "malformed response body"),
        ("badshape", False, "malformed response body"),
    ],
)
def test_faults_raise_a_clear_source_error(
    fiscal_fake: FiscalDataFake, http: httpx.Client, fault: str, retryable: bool, words: str
) -> None:
    fiscal_fake.server.inject(fault, times=3)
    source = TreasurySource(fiscal_fake.url, http, attempts=3, retry_wait=0)
    with pytest.raises(SourceError) as caught:
        source.fetch("bill_share")
    assert words in str(caught.value)
    assert caught.value.retryable is retryable
    assert caught.value.source == "treasury"


def test_a_malformed_later_page_yields_no_partial_series(
    fiscal_fake: FiscalDataFake, http: httpx.Client
) -> None:
    fiscal_fake.server.inject("nonjson", when=lambda _p, q: q.get("page[number]") == ["3"])
    source = TreasurySource(fiscal_fake.url, http, page_size=500, retry_wait=0)
    with pytest.raises(SourceError, match="malformed"):
        source.fetch("bill_share")
    assert any("page%5Bnumber%5D=3" in r for r in fiscal_fake.server.requests)


def test_a_bad_value_names_the_row(fiscal_fake: FiscalDataFake, http: httpx.Client) -> None:
    rows = fiscal_fake.datasets["v1/debt/mspd/mspd_table_1"]
    victim = next(r for r in rows if r["record_date"] == "2026-05-31"
                  and r["security_type_desc"] == "Total Marketable")
    victim["total_mil_amt"] = "3,08945E+07"
    source = TreasurySource(fiscal_fake.url, http, retry_wait=0)
    with pytest.raises(SourceError, match=r"total_mil_amt = '3,08945E\+07'.*comma decimal"):
        source.fetch("bill_share", since=date(2026, 1, 1))


def test_unknown_series_is_refused(fiscal_fake: FiscalDataFake, http: httpx.Client) -> None:
    assert isinstance(TreasurySource(fiscal_fake.url, http), Source)
    with pytest.raises(SourceError, match="unknown Treasury series"):
        TreasurySource(fiscal_fake.url, http).fetch("bill_shares")
    assert fiscal_fake.server.requests == []


def test_files_offer_treasury_series_from_the_csv_downloads(
    history_dir: Path, mspd_csv_rows: list[dict[str, str]]
) -> None:
    files = FileSource(history_dir)
    assert {"bill_share", "mspd_bills", "mspd_marketable", "coupon_bid_to_cover"} <= set(
        files.series_ids()
    )
    share = files.fetch("bill_share").values
    assert round(share[pd.Timestamp("2026-05-31")], 2) == 21.86
    for month_end in ["2001-01-31", "2009-03-31", "2024-07-31"]:
        assert share[pd.Timestamp(month_end)] == pytest.approx(
            _bills_over_marketable(mspd_csv_rows, month_end), rel=1e-12
        )
    assert files.fetch("WALCL").values.name == "WALCL"


def test_files_coupon_bid_to_cover_weights_nominal_coupons_by_offering(history_dir: Path) -> None:
    import csv

    path = next((history_dir / "treasury").glob("treasurydirect_*.csv"))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter=";")
                if r["AuctionDate"].startswith("2026-03") and r["SecurityType"] in ("Note", "Bond")
                and r["Tips"] == "No" and r["FloatingRate"] == "No"]
    expected = sum(float(r["BidToCoverRatio"]) * float(r["OfferingAmount"]) for r in rows) / sum(
        float(r["OfferingAmount"]) for r in rows
    )
    btc = FileSource(history_dir).fetch("coupon_bid_to_cover").values
    assert btc[pd.Timestamp("2026-03-31")] == pytest.approx(expected)


def test_a_damaged_treasury_csv_is_a_clear_error(history_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "treasury").mkdir()
    source = next((history_dir / "treasury").glob("MSPD_SumSecty_*.csv"))
    text = source.read_text(encoding="utf-8-sig").replace(
        "2026-05-31,Total Marketable,_,30894548.1443502,19485.83937159,30914033.9837218",
        "2026-05-31,Total Marketable,_,30894548.1443502,19485.83937159,\"3,09140E+07\"",
    )
    assert "3,09140E+07" in text
    (tmp_path / "treasury" / "MSPD_SumSecty_x.csv").write_text(text, encoding="utf-8-sig")
    shutil.copy(source, tmp_path / "treasury" / "MSPD_copy.csv.bak")
    with pytest.raises(SourceError, match=r"MSPD_SumSecty_x\.csv.*not a number"):
        FileSource(tmp_path).fetch("bill_share")


def test_latest_date_is_one_cheap_request(fiscal_fake: FiscalDataFake, http: httpx.Client) -> None:
    source = TreasurySource(fiscal_fake.url, http, retry_wait=0)
    assert source.latest_date("bill_share") == date(2026, 5, 31)
    [request] = fiscal_fake.server.requests
    assert "sort=-record_date" in request and "page%5Bsize%5D=1" in request


def test_fetched_bill_share_is_stored_with_vintages(
    fiscal_fake: FiscalDataFake, http: httpx.Client, sqlite_url: str
) -> None:
    from datetime import UTC, datetime

    from bot.store import Store

    store = Store(sqlite_url)
    source = TreasurySource(fiscal_fake.url, http, retry_wait=0)
    first = source.fetch("bill_share", since=date(2026, 1, 1))
    assert store.record("treasury", first, datetime(2026, 6, 5, tzinfo=UTC)) == 5
    assert store.record("treasury", first, datetime(2026, 6, 6, tzinfo=UTC)) == 0
    rows = fiscal_fake.datasets["v1/debt/mspd/mspd_table_1"]
    bills = next(r for r in rows if r["record_date"] == "2026-05-31"
                 and r["security_class_desc"] == "Bills")
    bills["total_mil_amt"] = str(float(bills["total_mil_amt"]) + 1000)  # a revision
    revised = source.fetch("bill_share", since=date(2026, 1, 1))
    assert store.record("treasury", revised, datetime(2026, 7, 7, tzinfo=UTC)) == 1
    assert store.series("bill_share", as_of=date(2026, 6, 30)).iloc[-1] == first.values.iloc[-1]
    assert store.series("bill_share").iloc[-1] == revised.values.iloc[-1] > first.values.iloc[-1]
    store.close()
