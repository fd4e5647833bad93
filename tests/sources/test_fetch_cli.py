"""`cyclewatch fetch` and `cyclewatch status` end to end through bot.cli.main.main."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.fetch import DEFAULT_FRED_SERIES, rule_series
from bot.cli.main import main
from tests.conftest import refused_url
from tests.fakes.fred import API_KEY, FakeFred

REPO_RULES = Path(__file__).resolve().parents[2] / "rules.yaml"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory (no stray .env) and a throwaway SQLite store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{tmp_path / 'cw.db'}")
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.delenv("CYCLEWATCH_DATA", raising=False)
    return tmp_path


@pytest.fixture
def fred_env(env: Path, fred: FakeFred, monkeypatch: pytest.MonkeyPatch) -> FakeFred:
    """Settings pointing at the fake FRED, with a fast client-side rate for tests."""
    monkeypatch.setenv("FRED_API_URL", f"{fred.url}/fred")
    monkeypatch.setenv("FRED_GRAPH_URL", f"{fred.url}/graph/fredgraph.csv")
    monkeypatch.setenv("FRED_RATE_PER_SECOND", "50")
    monkeypatch.setenv("FRED_TIMEOUT", "5")
    return fred


def status_json(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    return {row["series"]: row for row in json.loads(capsys.readouterr().out)}


def last_row(path: Path) -> tuple[str, int]:
    lines = path.read_text().splitlines()
    return lines[-1].split(",")[0], len(lines) - 1


def test_fetch_data_loads_every_series_and_status_lists_them(
    env: Path, history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "--data", str(history_dir)]) == 0
    out = capsys.readouterr().out
    files = sorted((history_dir / "fred").glob("*.csv"))
    # The default rules also read three `source: csv` series (gold, Shiller), listed apart.
    lines = [line for line in out.splitlines() if "series from" not in line]
    csv_ids = {"GOLD", "SHILLER_CAPE", "SHILLER_SP500"}
    from_files = [line for line in lines if line.split()[0] not in csv_ids]
    assert f"series from files: {len(from_files)} updated" in out

    rows = status_json(capsys)
    for path in files:
        last, count = last_row(path)
        assert rows[path.stem]["last_obs_date"] == last, path.stem
        assert rows[path.stem]["rows"] == count
        assert rows[path.stem]["source"] == "files"
        assert rows[path.stem]["last_error"] is None

    assert main(["status"]) == 0
    table = capsys.readouterr().out
    for path in files:
        line = next(x for x in table.splitlines() if f" {path.stem} " in x)
        assert last_row(path)[0] in line

    assert main(["fetch", "--data", str(history_dir), "WALCL"]) == 0
    assert "0 updated (0 new rows), 1 unchanged" in capsys.readouterr().out


def test_status_on_an_empty_store_says_what_to_do(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0
    assert "run `cyclewatch fetch`" in capsys.readouterr().out
    assert status_json(capsys) == {}


def test_fetch_from_fred_with_a_key_skips_unchanged_series(
    fred_env: FakeFred, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRED_API_KEY", API_KEY)
    assert main(["fetch", "WALCL", "TREAST"]) == 0
    assert fred_env.count("observations") == 2
    assert main(["fetch", "WALCL", "TREAST"]) == 0
    assert fred_env.count("observations") == 2
    assert "0 updated (0 new rows), 2 unchanged" in capsys.readouterr().out
    assert status_json(capsys)["WALCL"]["source"] == "fred"


def test_a_bad_key_fails_clearly_and_is_shown_in_status(
    fred_env: FakeFred, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRED_API_KEY", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
    assert main(["fetch", "WALCL"]) == 1
    assert "check FRED_API_KEY" in capsys.readouterr().out
    error = status_json(capsys)["WALCL"]["last_error"]
    assert "api_key is not registered" in error


def test_vintages_need_a_key(fred_env: FakeFred, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--vintages", "WALCL"]) == 1
    assert "--vintages needs the FRED API" in capsys.readouterr().err
    assert fred_env.counts() == {}


def test_fetch_vintages_stores_every_publication(
    fred_env: FakeFred, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRED_API_KEY", API_KEY)
    latest = fred_env.latest("WRESBAL")
    newest = max(latest)
    # A believable revision (the plausibility guard holds back a collapse to 1.0, as it should).
    fred_env.revise("WRESBAL", newest, (latest[newest] or 0.0) + 1.0, on=fred_env.today)
    assert main(["fetch", "--vintages", "WRESBAL"]) == 0
    assert status_json(capsys)["WRESBAL"]["rows"] == len(fred_env.latest("WRESBAL")) + 1


def test_without_series_arguments_fetch_reads_the_rules_file(
    fred_env: FakeFred, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not REPO_RULES.is_file():
        pytest.skip("rules.yaml not in this checkout")
    monkeypatch.setenv("CYCLEWATCH_RULES", str(REPO_RULES))
    closed = refused_url()
    monkeypatch.setenv("FISCALDATA_URL", f"{closed}/fiscal_service")
    monkeypatch.setenv("FED_FEEDS_URL", f"{closed}/feeds")
    monkeypatch.setenv("TREASURY_PRESS_URL", f"{closed}/press")
    # FRED inputs all load; the other sources' inputs are tried too, and fail here.
    assert main(["fetch"]) == 1
    declared = yaml.safe_load(REPO_RULES.read_text())["series"].values()
    fred_ids = {s["id"] for s in declared if s.get("source", "fred") == "fred"}
    other_ids = {s["id"] for s in declared if s.get("source", "fred") != "fred"}
    rows = status_json(capsys)
    assert fred_ids <= set(rows)
    assert all(rows[i]["last_error"] is None for i in fred_ids)
    assert fred_env.count("fredgraph") == len(fred_ids)
    tried = set(rows) - fred_ids
    assert tried and tried <= other_ids
    assert all(rows[i]["last_error"] for i in tried)


def test_rule_series_falls_back_to_the_built_in_list(tmp_path: Path) -> None:
    assert rule_series(tmp_path / "absent.yaml") == list(DEFAULT_FRED_SERIES)
    broken = tmp_path / "rules.yaml"
    broken.write_text("series: {x: {source: fred, id: WALCL}}\nrules: [{id: 1}]\n")
    assert rule_series(broken) == list(DEFAULT_FRED_SERIES)


def test_a_bad_file_is_reported_with_its_line_and_loses_nothing(
    env: Path, history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = env / "data"
    data.mkdir()
    # the default rules' `source: csv` series (gold, Shiller) resolve under the data dir
    shutil.copytree(history_dir / "other", data / "other")
    (data / "A.csv").write_text("observation_date,A\n2020-01-01,1\n2020-02-01,2\n")
    (data / "B.csv").write_text("observation_date,B\n2020-01-01,5\n")
    assert main(["fetch", "--data", str(data)]) == 0
    (data / "A.csv").write_text("observation_date,A\n2020-01-01,1\n2020-02-01,2\n2020-03-01,x\n")
    capsys.readouterr()
    assert main(["fetch", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert "A.csv:4: value 'x' is not a number" in out
    rows = status_json(capsys)
    assert rows["A"]["rows"] == 2 and rows["A"]["last_obs_date"] == "2020-02-01"
    assert "A.csv:4" in rows["A"]["last_error"]
    assert rows["B"]["last_error"] is None


def test_a_missing_data_directory_is_a_clear_error(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "--data", str(env / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
