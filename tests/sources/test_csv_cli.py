"""A `source: csv` series end to end: `cyclewatch check`, `fetch` (offline and over HTTP),
`status`, `backtest --data`, and the running service polling it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.app.service import Service
from bot.cli.main import main
from bot.config import load_settings
from bot.runtime.scheduler import Timing
from bot.store import Store
from tests.fakes.csvweb import CsvWebFake

RULES = """\
series:
  gold: {source: csv, id: GOLD, url: URL, date: Date, value: Price, fresh: 400d}
  nominal_10y: {source: fred, id: DGS10, fresh: 100y}
rules:
  - id: gold_above_1000
    title: Gold above $1,000 with the 10y yield under 5%
    on: gold
    when: "gold > 1000 and nominal_10y < 5"
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory, a throwaway store, and no network for FRED or Treasury."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{tmp_path / 'cw.db'}")
    for name in ("FRED_API_KEY", "CYCLEWATCH_DATA"):
        monkeypatch.delenv(name, raising=False)
    closed = "http://127.0.0.1:9"
    for name in ("FRED_GRAPH_URL", "FRED_API_URL", "FISCALDATA_URL", "FED_FEEDS_URL",
                 "TREASURY_PRESS_URL"):
        monkeypatch.setenv(name, closed)
    return tmp_path


@pytest.fixture
def web(history_dir: Path) -> Iterator[CsvWebFake]:
    fake = CsvWebFake()
    fake.serve_csv("gold.csv", (history_dir / "other" / "gold_monthly.csv").read_bytes())
    with fake.server.running():
        yield fake


def write_rules(directory: Path, url: str, monkeypatch: pytest.MonkeyPatch,
                text: str = RULES) -> Path:
    path = directory / "rules.yaml"
    path.write_text(text.replace("URL", json.dumps(url)))
    monkeypatch.setenv("CYCLEWATCH_RULES", str(path))
    return path


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    return {row["series"]: row for row in json.loads(capsys.readouterr().out)}


def test_check_reports_a_missing_url_and_a_typo_with_line_and_column(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = RULES.replace("url: URL, date: Date, value: Price",
                         "date: Date, vaule: Price").replace("source: fred", "source: fredd")
    path = write_rules(env, "", monkeypatch, text)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f'{path}:2:9: series "gold": missing "value" (source csv needs it)' in out
    assert any(line.startswith(f'{path}:2:45: series "gold": unknown key "vaule" '
                               '(did you mean "value"?)') for line in out), out
    assert f'{path}:3:25: series "nominal_10y": unknown source "fredd" ' \
           '(did you mean "fred"?)' in out
    # With its keys right, the series still says where it is read from (a URL or a file).
    path.write_text(RULES.replace("url: URL, ", ""), encoding="utf-8")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f'{path}:2:9: series "gold": missing "url" or "file" (source csv needs one: url ' \
           'for run and fetch, file for its name under a data directory)' in out


def test_fetch_status_and_backtest_with_a_data_directory(
    env: Path, history_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = write_rules(env, "other/gold_monthly.csv", monkeypatch)  # relative: --data DIR
    assert main(["check", str(rules)]) == 0
    assert main(["fetch", "--data", str(history_dir), "GOLD", "DGS10"]) == 0
    out = capsys.readouterr().out
    assert "1 series from csv: 1 updated (2322 new rows)" in out
    assert "1 series from files: 1 updated" in out
    rows = status(capsys)
    assert (rows["GOLD"]["source"], rows["GOLD"]["rows"]) == ("csv", 2322)
    assert rows["GOLD"]["last_obs_date"] == "2026-06-01"

    assert main(["backtest", "--data", str(history_dir), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    gold = pd.read_csv(history_dir / "other" / "gold_monthly.csv")
    first = gold[gold["Price"] > 1000].iloc[0]["Date"]  # 2009-10: the 10y was under 5%
    assert events[0]["rule"] == "gold_above_1000" and events[0]["state"] == "firing"
    assert events[0]["date"] == f"{first}-01"


def test_fetch_over_http_routes_by_the_rules_and_reads_the_rules_without_arguments(
    env: Path, web: CsvWebFake, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_rules(env, web.url("gold.csv"), monkeypatch)
    assert main(["fetch", "GOLD"]) == 0
    assert "1 series from csv: 1 updated (2322 new rows)" in capsys.readouterr().out
    assert web.count("gold.csv") == 1
    # Without arguments: every rule input; FRED is down here, gold still loads.
    assert main(["fetch"]) == 1
    out = capsys.readouterr().out
    assert "1 series from csv: 1 updated (0 new rows)" in out  # a URL has no update stamp
    rows = status(capsys)
    assert rows["GOLD"]["last_error"] is None and rows["DGS10"]["last_error"]


async def test_the_service_polls_a_csv_series_into_the_store(
    tmp_path: Path, web: CsvWebFake
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("URL", json.dumps(web.url("gold.csv"))))
    closed = "http://127.0.0.1:9"
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    settings = load_settings(
        CYCLEWATCH_DB_URL=db_url, CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        FRED_GRAPH_URL=closed, FRED_API_URL=closed, FISCALDATA_URL=closed,
        FED_FEEDS_URL=closed, TREASURY_PRESS_URL=closed,
    )
    timing = Timing.model_validate({"CYCLEWATCH_RETRY_MIN_SECONDS": 0.1,
                                    "CYCLEWATCH_RETRY_MAX_SECONDS": 0.5,
                                    "CYCLEWATCH_DELIVER_SECONDS": 0.2})
    service = Service(settings, timing, rules_path=rules, clock=lambda: datetime.now(UTC))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 30)
        for _ in range(400):
            if service.state.polls.get("csv") and service.state.polls["csv"].last_ok_at:
                break
            await asyncio.sleep(0.05)
        assert service.state.polls["csv"].last_error is None
        assert web.count("gold.csv") >= 1
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, 30) == 0
    store = Store(db_url)
    try:
        gold = store.series("GOLD")
        assert len(gold) == 2322 and gold.iloc[-1] == 4228.0
        assert {s.series: s.source for s in store.status()}["GOLD"] == "csv"
    finally:
        store.close()
