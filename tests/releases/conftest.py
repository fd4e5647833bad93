"""Fixtures for the releases area: running fakes and an httpx client that talks to them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.fiscaldata import FiscalDataFake

MSPD_COLUMNS = {
    "Record Date": "record_date",
    "Security Type Description": "security_type_desc",
    "Security Class Description": "security_class_desc",
    "Debt Held by the Public (in Millions)": "debt_held_public_mil_amt",
    "Intragovernmental Holdings (in Millions)": "intragov_hold_mil_amt",
    "Total Public Debt Outstanding (in Millions)": "total_mil_amt",
}


@pytest.fixture(scope="session")
def mspd_csv_rows(history_dir: Path) -> list[dict[str, str]]:
    """The real MSPD table 1 download, as the CSV's own rows (labels as in the file)."""
    path = next((history_dir / "treasury").glob("MSPD_SumSecty_*.csv"))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def fiscal_fake(mspd_csv_rows: list[dict[str, str]]) -> Iterator[FiscalDataFake]:
    """The Fiscal Data fake serving the real MSPD rows under the API's field names."""
    fake = FiscalDataFake()
    fake.datasets["v1/debt/mspd/mspd_table_1"] = [
        {MSPD_COLUMNS[k]: v for k, v in row.items()} | {"src_line_nbr": "1"}
        for row in mspd_csv_rows
    ]
    with fake.server.running():
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A real httpx client with a short timeout (the fakes are local)."""
    with httpx.Client(timeout=5.0) as client:
        yield client
