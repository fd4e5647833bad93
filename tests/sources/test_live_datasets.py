"""Every shipped series has a live source and an offline file (issue 24): the shipped rules
read gold and Shiller's S&P 500 from the maintained datasets' raw CSV URLs, here a local
server standing in for raw.githubusercontent.com (`CYCLEWATCH_CSV_MIRRORS`), and the same
series from their files under a data directory; offline, the service names each unreachable
source once and logs no error."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app.service import Service
from bot.cli.main import main
from bot.config import load_settings
from bot.runtime.scheduler import Timing
from rules import RuleSet
from tests.fakes.csvweb import CsvWebFake

SHIPPED = Path(__file__).resolve().parents[2] / "rules.yaml"
RAW = "https://raw.githubusercontent.com"
DATASETS = {
    "GOLD": ("/datasets/gold-prices/main/data/monthly.csv", "gold_monthly.csv"),
    "SHILLER_SP500": ("/datasets/s-and-p-500/main/data/data.csv",
                      "shiller_sp500_monthly.csv"),
}
CLOSED = "http://127.0.0.1:9"
NETWORK = ("FRED_GRAPH_URL", "FRED_API_URL", "FISCALDATA_URL", "FED_FEEDS_URL",
           "TREASURY_PRESS_URL")


@pytest.fixture
def raw_github(history_dir: Path) -> Iterator[CsvWebFake]:
    """The two datasets' files, served at their paths on raw.githubusercontent.com."""
    fake = CsvWebFake()
    for path, name in DATASETS.values():
        fake.serve_csv(path, (history_dir / "other" / name).read_bytes())
    with fake.server.running():
        yield fake


def test_the_shipped_rules_name_a_url_and_a_file_for_every_csv_series(
    ruleset: RuleSet,
) -> None:
    csv = {item.id: item.spec for item in ruleset.inputs if item.source == "csv"}
    assert set(csv) >= {"GOLD", "SHILLER_SP500"}
    for series_id, (path, name) in DATASETS.items():
        assert csv[series_id].options["url"] == RAW + path
        assert csv[series_id].options["file"] == f"other/{name}"
    if "SHILLER_CAPE" in csv:  # its publisher stopped: marked, so it is never awaited
        assert csv["SHILLER_CAPE"].until == date(2023, 9, 1)


def test_fetch_stores_gold_and_the_sp500_from_the_live_urls_and_status_shows_them_fresh(
    raw_github: CsvWebFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CYCLEWATCH_RULES", str(SHIPPED))
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{tmp_path / 'cw.db'}")
    monkeypatch.setenv("CYCLEWATCH_CSV_MIRRORS", f"{RAW}={raw_github.url('')}")
    monkeypatch.delenv("CYCLEWATCH_DATA", raising=False)
    for name in NETWORK:
        monkeypatch.setenv(name, CLOSED)
    assert main(["fetch", "GOLD", "SHILLER_SP500"]) == 0
    out = capsys.readouterr().out
    assert "2 series from csv: 2 updated" in out
    assert [raw_github.count(path) for path, _ in DATASETS.values()] == [1, 1]
    # A month after the files' last observation (2026-06), as the datasets would be read.
    monkeypatch.setattr("bot.cli.fetch.utc_now", lambda: datetime(2026, 7, 20, tzinfo=UTC))
    assert main(["status", "--json"]) == 0
    rows: dict[str, dict[str, Any]] = {
        row["series"]: row for row in json.loads(capsys.readouterr().out)}
    for series_id, (path, _name) in DATASETS.items():
        row = rows[series_id]
        assert row["fresh"] == "fresh" and row["last_obs_date"] == "2026-06-01", row
        assert row["origin"] == raw_github.url(path) and row["source"] == "csv"
        assert row["last_error"] is None
    assert rows["GOLD"]["rows"] == 2322
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert "fresh" in table and "gold-prices" in table


def test_with_a_data_directory_the_same_series_come_from_their_files(
    raw_github: CsvWebFake, history_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CYCLEWATCH_RULES", str(SHIPPED))
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{tmp_path / 'cw.db'}")
    monkeypatch.setenv("CYCLEWATCH_CSV_MIRRORS", f"{RAW}={raw_github.url('')}")
    assert main(["fetch", "--data", str(history_dir), "GOLD", "SHILLER_SP500"]) == 0
    assert "2 series from csv: 2 updated" in capsys.readouterr().out
    assert [raw_github.count(path) for path, _ in DATASETS.values()] == [0, 0]  # no network


async def test_offline_the_service_names_each_unreachable_source_once_and_logs_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}", CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        CYCLEWATCH_CSV_MIRRORS=f"{RAW}={CLOSED}", **dict.fromkeys(NETWORK, CLOSED),
    )
    timing = Timing.model_validate({"CYCLEWATCH_RETRY_MIN_SECONDS": 0.05,
                                    "CYCLEWATCH_RETRY_MAX_SECONDS": 0.1,
                                    "CYCLEWATCH_DELIVER_SECONDS": 0.2})
    caplog.set_level(logging.INFO)
    service = Service(settings, timing, rules_path=SHIPPED, clock=lambda: datetime.now(UTC))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 60)
        for _ in range(600):  # every network source has failed at least three times
            polls = service.state.polls
            if {"fred", "csv"} <= set(polls) and all(h.failures >= 3 for h in polls.values()):
                break
            await asyncio.sleep(0.05)
        assert service.state.polls["csv"].failures >= 3
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, 60) == 0
    lines = [r.getMessage() for r in caplog.records]
    down = Counter(line.split(" unreachable:")[0] for line in lines if " unreachable:" in line)
    assert down["csv"] == 1 and down["FRED"] == 1, down
    assert all(count == 1 for count in down.values()), down
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any("cannot read" in line for line in lines)  # no local file is looked for
