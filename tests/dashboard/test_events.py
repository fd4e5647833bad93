"""One-off milestones on the dashboard and its API: points at their events, never a band that
runs to today; their cards say what last happened; the seed's numbers (issue 21 items 1, 6)."""

from __future__ import annotations

from datetime import date

from bot.app.dashboard import DashboardModel

ONE_OFF = ("rate_cut", "easing_cycle_starts", "tightening_starts")


def test_one_off_charts_have_points_and_no_periods(model: DashboardModel) -> None:
    for rule in ONE_OFF:
        chart = model.chart(rule)
        assert chart["periods"] == [], rule  # was [[2019-08-01, None]]: shaded to today
        assert chart["events"] and chart["events"] == sorted(chart["events"])
    assert "2025-12-11" in model.chart("rate_cut")["events"]
    assert "2026-09-17" in model.chart("tightening_starts")["events"]
    assert model.chart("qt_ends")["periods"]  # a state keeps its periods
    assert model.chart("qt_ends")["events"] == []


def test_the_api_rules_say_what_last_happened(model: DashboardModel) -> None:
    rules = {r["id"]: r for r in model.rules(date(2025, 12, 31), "en")}
    cut = rules["rate_cut"]
    assert cut["one_off"] and cut["periods"] == []
    assert cut["event_text"] == "last cut 2025-12-11, −0.25 pp to 3.75 %; " \
        "3 cuts, −75 bp in 6 months"
    assert not rules["qt_ends"]["one_off"] and rules["qt_ends"]["event_text"] is None
    zh = {r["id"]: r for r in model.rules(date(2026, 9, 25), "zh")}
    assert zh["tightening_starts"]["event_text"].startswith("最近一次加息:2026-09-17,")


def test_the_regime_carries_the_seed_numbers(model: DashboardModel) -> None:
    numbers = model.regime(date(2026, 6, 30), "en")["numbers"]
    assert numbers["since_qt"]["ended"] == "2025-12-17"
    assert numbers["since_qt"]["treasuries"] == 4_488_106 - 4_188_739  # $ mn, to 2026-06-24
    assert numbers["pace_12m"]["change"] == -0.75 and numbers["pace_12m"]["cuts"] == 3
    assert numbers["gold"]["gold_month"] == "2026-05-01"
    assert any(line.startswith("Gold +38.6 % over 12 months") for line in numbers["lines"])
    page_zh = model.regime(date(2026, 6, 30), "zh")["numbers"]["lines"]
    assert any(line.startswith("政策利率 3.75 %:") for line in page_zh)
