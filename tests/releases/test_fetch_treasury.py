"""`cyclewatch fetch` fetches Treasury inputs from Fiscal Data next to the FRED ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.cli.fetch import rule_series
from bot.cli.main import main
from bot.store import Store
from tests.fakes.fiscaldata import FiscalDataFake
from tests.fakes.fred import FakeFred

REPO_RULES = Path(__file__).resolve().parents[2] / "rules.yaml"


def test_the_default_rules_read_bill_share_from_the_treasury_source() -> None:
    assert "bill_share" in rule_series(REPO_RULES, "treasury")
    assert "bill_share" not in rule_series(REPO_RULES, "fred")


def test_fetch_routes_each_series_to_the_source_that_offers_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    history_dir: Path,
    fiscal_fake: FiscalDataFake,
    mspd_csv_rows: list[dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url = f"sqlite:///{tmp_path / 'cw.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    with FakeFred(history_dir, today=date(2026, 11, 20)).running() as fred:
        for name, value in {
            "CYCLEWATCH_DB_URL": db_url,
            "FRED_GRAPH_URL": f"{fred.url}/graph/fredgraph.csv",
            "FRED_RATE_PER_SECOND": "50",
            "FISCALDATA_URL": fiscal_fake.url,
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["fetch", "WALCL", "bill_share", "mspd_bills", "mspd_marketable"]) == 0
    out = capsys.readouterr().out
    assert "1 series from fredgraph" in out
    assert "3 series from treasury" in out

    store = Store(db_url)
    share = store.series("bill_share")
    bills = store.series("mspd_bills")
    marketable = store.series("mspd_marketable")
    assert not store.series("WALCL").empty
    store.close()
    # The stored share is bills / total marketable of the same month's rows of the real file.
    month = pd.Timestamp("2026-05-31")
    rows = {
        r["Security Class Description"]: float(r["Total Public Debt Outstanding (in Millions)"])
        for r in mspd_csv_rows
        if r["Record Date"] == "2026-05-31"
    }
    assert bills[month] == pytest.approx(rows["Bills"])
    assert share[month] == pytest.approx(100 * bills[month] / marketable[month])
    assert round(share[month], 1) == 21.9
