"""Fiscal Data rows -> series: MSPD bill share and auction aggregates.

The same functions serve the API's JSON rows (`sources.treasury`) and the CSV downloads of an
offline data directory (`sources.fiscal_csv`): both are first mapped to the API's field names,
with every value a string ("null" or empty when missing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

from sources.base import SourceError, to_series

SOURCE = "treasury"

MSPD_SERIES = ("mspd_bills", "mspd_marketable", "bill_share")
AUCTION_SERIES = ("coupon_bid_to_cover", "bill_issuance_share", "coupon_offering", "bill_offering")

# CSV download labels (MSPD table 1) and TreasuryDirect export columns -> API field names.
FIELD_ALIASES = {
    "Record Date": "record_date",
    "Security Type Description": "security_type_desc",
    "Security Class Description": "security_class_desc",
    "Debt Held by the Public (in Millions)": "debt_held_public_mil_amt",
    "Intragovernmental Holdings (in Millions)": "intragov_hold_mil_amt",
    "Total Public Debt Outstanding (in Millions)": "total_mil_amt",
    "AuctionDate": "auction_date",
    "SecurityType": "security_type",
    "SecurityTerm": "security_term",
    "OfferingAmount": "offering_amt",
    "BidToCoverRatio": "bid_to_cover_ratio",
    "Tips": "inflation_index_security",
    "FloatingRate": "floating_rate",
    "CashManagementBillCMB": "cash_management_bill_cmb",
}

MISSING = frozenset({"", "null", "None"})
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


class RowError(ValueError):
    """One row of a Fiscal Data response or download is not what the format promises."""


def canonical(row: Mapping[str, str]) -> dict[str, str]:
    """The row with CSV labels renamed to API field names (unknown keys kept as they are)."""
    return {FIELD_ALIASES.get(key.strip(), key.strip()): value for key, value in row.items()}


def number(row: Mapping[str, str], field: str, where: str) -> float | None:
    """A numeric field as float, None when missing; RowError when it is not a plain number."""
    raw = row.get(field)
    if raw is None:
        raise RowError(f"{where}: field {field!r} is absent")
    text = str(raw).strip()
    if text in MISSING:
        return None
    if not _NUMBER.match(text):
        hint = " (a spreadsheet's comma decimal?)" if "," in text else ""
        raise RowError(f"{where}: {field} = {text!r} is not a number{hint}")
    return float(text)


def day(row: Mapping[str, str], field: str, where: str) -> pd.Timestamp:
    """A date field (YYYY-MM-DD, optionally followed by a time) as a naive Timestamp."""
    text = str(row.get(field, "")).strip()[:10]
    try:
        return pd.Timestamp(pd.to_datetime(text, format="%Y-%m-%d"))
    except ValueError:
        raise RowError(f"{where}: {field} = {row.get(field)!r} is not a date") from None


def mspd_series(rows: Iterable[Mapping[str, str]]) -> dict[str, pd.Series]:
    """Bills and total marketable (millions, Total Public Debt Outstanding) and bill share (%)."""
    bills: dict[pd.Timestamp, float] = {}
    marketable: dict[pd.Timestamp, float] = {}
    for n, raw in enumerate(rows, start=1):
        row = canonical(raw)
        where = f"MSPD row {n}"
        kind = row.get("security_type_desc", "").strip()
        klass = row.get("security_class_desc", "").strip()
        if kind == "Marketable" and klass == "Bills":
            target = bills
        elif kind == "Total Marketable":
            target = marketable
        else:
            continue
        when = day(row, "record_date", where)
        amount = number(row, "total_mil_amt", where)
        if amount is not None:
            target[when] = amount
    unmatched = sorted(set(bills) ^ set(marketable))
    if unmatched:
        raise RowError(
            f"MSPD rows for {unmatched[0].date()} have bills or total marketable but not both"
        )
    bill_series = to_series(pd.Series(bills, dtype="float64"), "mspd_bills")
    total_series = to_series(pd.Series(marketable, dtype="float64"), "mspd_marketable")
    share = to_series(bill_series / total_series * 100.0, "bill_share")
    return {"mspd_bills": bill_series, "mspd_marketable": total_series, "bill_share": share}


def _flag(row: Mapping[str, str], field: str) -> bool:
    return str(row.get(field, "")).strip().lower() in {"yes", "true", "y"}


def auction_kind(row: Mapping[str, str]) -> str:
    """`bill`, `coupon` (nominal Notes and Bonds) or `other` (TIPS, FRN, unknown)."""
    kind = row.get("security_type", "").strip().lower()
    if kind in {"bill", "cmb"} or _flag(row, "cash_management_bill_cmb"):
        return "bill"
    if kind in {"note", "bond"} and not (
        _flag(row, "inflation_index_security") or _flag(row, "floating_rate")
    ):
        return "coupon"
    return "other"


def auction_table(rows: Iterable[Mapping[str, str]]) -> pd.DataFrame:
    """One row per auction: date, month (month-end), security type and term, kind
    (bill/coupon/other), offering (dollars) and bid-to-cover (NaN until the auction has run)."""
    records = []
    for n, raw in enumerate(rows, start=1):
        row = canonical(raw)
        where = f"auction row {n}"
        when = day(row, "auction_date", where)
        records.append(
            (
                when, when.to_period("M").to_timestamp(how="end").normalize(),
                row.get("security_type", "").strip(), row.get("security_term", "").strip(),
                auction_kind(row), number(row, "offering_amt", where),
                number(row, "bid_to_cover_ratio", where),
            )
        )
    frame = pd.DataFrame(
        records, columns=["date", "month", "security_type", "term", "kind", "offering", "btc"]
    )
    frame["offering"] = frame["offering"].astype("float64")
    frame["btc"] = frame["btc"].astype("float64")
    return frame


def auction_series(rows: Iterable[Mapping[str, str]]) -> dict[str, pd.Series]:
    """Monthly (month-end) coupon bid-to-cover (offering-weighted) and bills' share of offerings."""
    frame = auction_table(rows)
    offered = frame.dropna(subset=["offering"])
    by_kind = offered.pivot_table(
        index="month", columns="kind", values="offering", aggfunc="sum", fill_value=0.0
    )
    bill_offering = by_kind.get("bill", pd.Series(0.0, index=by_kind.index))
    total_offering = by_kind.sum(axis=1)
    coupons = frame[(frame["kind"] == "coupon")].dropna(subset=["offering", "btc"])
    weighted = (coupons["btc"] * coupons["offering"]).groupby(coupons["month"]).sum()
    coupon_offering = coupons.groupby("month")["offering"].sum()
    return {
        "coupon_bid_to_cover": to_series(weighted / coupon_offering, "coupon_bid_to_cover"),
        "bill_issuance_share": to_series(
            (bill_offering / total_offering * 100.0)[total_offering > 0], "bill_issuance_share"
        ),
        "coupon_offering": to_series(coupon_offering / 1e6, "coupon_offering"),
        "bill_offering": to_series(bill_offering / 1e6, "bill_offering"),
    }


def series_from_rows(series_id: str, rows: Iterable[Mapping[str, str]], where: str) -> pd.Series:
    """One named series computed from rows; SourceError (not retryable) on any bad row."""
    try:
        if series_id in MSPD_SERIES:
            return mspd_series(rows)[series_id]
        if series_id in AUCTION_SERIES:
            return auction_series(rows)[series_id]
    except RowError as err:
        raise SourceError(SOURCE, series_id, f"{where}: {err}") from err
    raise SourceError(SOURCE, series_id, f"unknown Treasury series {series_id!r}")
