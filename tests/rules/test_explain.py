"""Explanations of the default rules in English and Simplified Chinese."""

from __future__ import annotations

import pandas as pd

from rules import Event, RuleSet, backtest


def rate_cut_event(ruleset: RuleSet) -> Event:
    upper = pd.Series([5.5] * 5 + [5.0] * 5, index=pd.date_range("2024-09-14", periods=10))
    (event,) = backtest(ruleset, {"DFEDTARU": upper}, only=["rate_cut"])
    return event


def test_rate_cut_explained_in_both_languages(ruleset: RuleSet) -> None:
    event = rate_cut_event(ruleset)
    assert event.render("en") == (
        "The Fed cut its policy rate",
        "The upper bound of the fed funds target range fell by 0.5 pp to 5 % on 2024-09-19. "
        "Cheaper money, the most direct form of easing.\n\n"
        "• Fed funds target (upper bound): 5 %\n"
        "• Change on the day: \u22120.5 pp\n\n"
        "What would prove it wrong: The next move is a hike.",
    )
    title, text = event.render("zh")
    assert title == "美联储降息"
    assert text.startswith("联邦基金目标区间上限于 2024-09-19 下调0.5个百分点至 5 %。")
    assert "• 当日变化:\u22120.5个百分点" in text
    assert event.render("fr") == event.render("en")  # unknown language: English


def test_default_text_shows_threshold_meaning_and_falsifier(ruleset: RuleSet) -> None:
    assets = pd.Series(
        [1000.0] * 14 + [1000.0 + 20 * i for i in range(1, 11)],
        index=pd.date_range("2020-01-01", periods=24, freq="7D"),
    )
    events = backtest(ruleset, {"WALCL": assets}, only=["balance_sheet_expands"])
    title, text = events[0].render("en")
    assert title == "The Fed's balance sheet is expanding fast (QE-sized)"
    opening, numbers, falsify = text.split("\n\n")
    assert opening.startswith(f"{events[0].date.isoformat()} — Money creation")
    assert numbers.startswith("• Change in Fed total assets over 13 weeks: ")
    assert numbers.endswith(" pp above)") and "(line 5 %, " in numbers
    assert falsify == "What would prove it wrong: Total assets grow by less than 1% over a quarter."
    zh_title, zh_text = events[0].render("zh")
    assert zh_title == "美联储资产负债表快速扩张(QE规模)"
    assert "(界线 5 %,高出" in zh_text and "何种情况可证伪:" in zh_text
