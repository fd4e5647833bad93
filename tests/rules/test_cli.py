"""`cyclewatch check | test | backtest | regime` through the real entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.rules.conftest import DEFAULT_RULES, SHIPPED_TESTS

THREE_MISTAKES = """\
series:
  fed_treasuries: {source: fred, id: TREAST}
rules:
  - id: qt_ends
    title: QT ended
    when: "change(fed_treasury, 4) >= 0"
    for: 2
  - id: broken
    title: Broken
    when: "chnage(fed_treasuries, 4) > 0"
    colour: red
"""


def test_check_passes_on_the_default_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(DEFAULT_RULES)]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_lists_three_mistakes_with_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(THREE_MISTAKES)
    assert main(["check", str(bad)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert all(re.match(rf"{re.escape(str(bad))}:\d+:\d+: ", line) for line in lines)
    assert f'{bad}:6:19: rule "qt_ends": unknown series "fed_treasury"' in lines[0]
    assert 'did you mean "fed_treasuries"' in lines[0]
    assert f'{bad}:10:12: rule "broken": unknown function "chnage"' in lines[1]
    assert 'did you mean "change"' in lines[1]
    assert f'{bad}:11:5: rule "broken": unknown key "colour"' in lines[2]


def test_check_reports_an_unreadable_file(tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "missing.yaml")]) == 1


def test_shipped_unit_tests_pass_with_no_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--rules", str(DEFAULT_RULES)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert re.search(r"(\d+) passed, 0 failed", out)


def test_every_default_rule_has_a_shipped_test() -> None:
    from rules import load_rules

    ruleset = load_rules(DEFAULT_RULES.read_text(), "rules.yaml")
    tested = set(re.findall(r"rule: (\w+)", SHIPPED_TESTS.read_text()))
    tested |= {
        name
        for line in re.findall(r"rules: \[(.*)\]", SHIPPED_TESTS.read_text())
        for name in re.split(r",\s*", line)
    }
    milestones = {
        "qt_ends",
        "reserves_grow",
        "balance_sheet_expands",
        "rate_cut",
        "easing_cycle_starts",
        "tightening_starts",
        "bill_share_rises",
        "large_deficit",
        "bubble_conditions",
        "real_yields_fall_amid_bubble",
        "bonds_lose_to_inflation",
        "debt_monetization",
        "stimulus_into_bubble",
    }
    assert milestones <= {r.id for r in ruleset.rules}
    assert milestones <= tested


def test_a_failing_unit_test_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = tmp_path / "t.yaml"
    tests.write_text(
        "tests:\n  - name: wrong date\n    series: {fed_upper: '3x5 2x5'}\n"
        "    expect: [{rule: rate_cut, state: firing, date: 2000-01-01}]\n"
    )
    assert main(["test", "--rules", str(DEFAULT_RULES), str(tests)]) == 1
    out = capsys.readouterr().out
    assert "missing: rate_cut firing on 2000-01-01" in out
    assert "unexpected: rate_cut firing on 2000-01-09" in out


def test_backtest_json_and_chart(
    history_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "bt.png"
    code = main(
        [
            "backtest",
            "--rules",
            str(DEFAULT_RULES),
            "--data",
            str(history_dir),
            "--rule",
            "rate_cut",
            "--since",
            "2019-01-01",
            "--until",
            "2020-12-31",
            "--json",
            "--chart",
            str(chart),
        ]
    )
    assert code == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["date"] for e in events] == [
        "2019-08-01",
        "2019-09-19",
        "2019-10-31",
        "2020-03-04",
        "2020-03-16",
    ]
    assert {"rule", "state", "date", "value", "title"} <= set(events[0])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_table_by_default(history_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["backtest", "--rules", str(DEFAULT_RULES), "--data", str(history_dir)]
    assert main([*args, "--rule", "qt_ends"]) == 0
    out = capsys.readouterr().out
    assert "2019-08-28" in out and "Quantitative tightening has ended" in out
    assert main([*args, "--rule", "no_such_rule"]) == 1


@pytest.mark.parametrize(
    ("as_of", "regime"),
    [("2020-04-30", "easing_into_downturn"), ("2021-12-31", "easing_into_bubble")],
)
def test_regime_json(
    history_dir: Path, capsys: pytest.CaptureFixture[str], as_of: str, regime: str
) -> None:
    code = main(
        [
            "regime",
            "--rules",
            str(DEFAULT_RULES),
            "--as-of",
            as_of,
            "--data",
            str(history_dir),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["regime"] == regime
    assert result["as_of"] == as_of
    assert all({"id", "on", "value", "detail"} <= set(c) for c in result["checks"])


def test_regime_chart_writes_png(history_dir: Path, tmp_path: Path) -> None:
    chart = tmp_path / "regime.png"
    args = ["regime", "--rules", str(DEFAULT_RULES), "--as-of", "2021-12-31", "--data"]
    assert main([*args, str(history_dir), "--chart", str(chart)]) == 0
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_backtest_reads_the_store_without_data_dir(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    import pandas as pd

    from bot.store import Store
    from sources.base import Fetched

    store = Store(sqlite_url)
    upper = pd.Series([2.0] * 5 + [1.75] * 5, index=pd.date_range("2030-01-01", periods=10))
    store.record("fred", Fetched("DFEDTARU", upper), datetime(2030, 1, 11, tzinfo=UTC))
    store.close()
    monkeypatch.setenv("CYCLEWATCH_DB_URL", sqlite_url)
    monkeypatch.delenv("CYCLEWATCH_DATA", raising=False)
    args = ["backtest", "--rules", str(DEFAULT_RULES), "--rule", "rate_cut", "--json"]
    assert main([*args, "--vintage", "first"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["rule"], e["date"], e["value"]) for e in events] == [
        ("rate_cut", "2030-01-06", 1.75)
    ]
