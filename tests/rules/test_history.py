"""The default rules against real history (../shared/data): what DESIGN.md says they find."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from rules import Event, RuleSet, backtest, classify_regime

# FOMC decisions that lowered the target range since 2019 (federalreserve.gov statements).
CUT_DECISIONS = [
    date(2019, 7, 31),
    date(2019, 9, 18),
    date(2019, 10, 30),
    date(2020, 3, 3),
    date(2020, 3, 15),
    date(2024, 9, 18),
    date(2024, 11, 7),
    date(2024, 12, 18),
    date(2025, 9, 17),
    date(2025, 10, 29),
    date(2025, 12, 10),
]


@pytest.fixture(scope="module")
def events(default_rules: RuleSet, history: dict[str, pd.Series]) -> list[Event]:
    return backtest(default_rules, history)


def fired(events: list[Event], rule: str) -> list[date]:
    return [e.date for e in events if e.rule_id == rule and e.state == "firing"]


def near(day: date, target: date, days: int) -> bool:
    return abs((day - target).days) <= days


def test_rate_cut_finds_every_cut_since_2019_within_three_days(events: list[Event]) -> None:
    cuts = [d for d in fired(events, "rate_cut") if d >= date(2019, 1, 1)]
    for decision in CUT_DECISIONS:
        assert any(decision <= d <= decision + timedelta(days=3) for d in cuts), decision
    assert len(cuts) == len(CUT_DECISIONS)


def test_qt_ends_in_aug_2019_and_dec_2025_and_nowhere_else(events: list[Event]) -> None:
    found = fired(events, "qt_ends")
    assert len(found) == 2, found
    assert near(found[0], date(2019, 8, 1), 42)
    assert near(found[1], date(2025, 12, 1), 42)


def test_tightening_starts_in_dec_2015_and_mar_2022(events: list[Event]) -> None:
    found = fired(events, "tightening_starts")
    assert any(near(d, date(2015, 12, 16), 7) for d in found), found
    assert any(near(d, date(2022, 3, 16), 7) for d in found), found


def test_stimulus_into_bubble_in_2021_not_2008_09_or_spring_2020(events: list[Event]) -> None:
    found = fired(events, "stimulus_into_bubble")
    assert any(d.year == 2021 for d in found), found
    assert not [d for d in found if date(2008, 1, 1) <= d <= date(2009, 12, 31)]
    assert not [d for d in found if date(2020, 3, 1) <= d <= date(2020, 6, 30)]


def test_easing_cycle_starts_jul_2019_and_sep_2024(events: list[Event]) -> None:
    found = fired(events, "easing_cycle_starts")
    assert any(near(d, date(2019, 7, 31), 3) for d in found), found
    assert any(near(d, date(2024, 9, 18), 3) for d in found), found
    assert not [d for d in found if date(2025, 1, 1) <= d <= date(2025, 12, 31)]


def test_reserves_grow_needs_the_fed_adding_assets(events: list[Event]) -> None:
    found = fired(events, "reserves_grow")
    assert any(date(2019, 9, 1) <= d <= date(2019, 12, 31) for d in found), found
    assert any(date(2020, 3, 1) <= d <= date(2020, 3, 31) for d in found), found
    # In 2023 reserves rose from reverse-repo outflows while QT continued: not growth.
    assert not [d for d in found if date(2023, 6, 1) <= d <= date(2024, 12, 31)]


def test_large_deficit_2009_and_2020(events: list[Event]) -> None:
    found = fired(events, "large_deficit")
    assert any(d.year == 2009 for d in found), found
    assert any(d.year == 2020 for d in found), found


@pytest.mark.parametrize(
    ("as_of", "regime"),
    [(date(2020, 4, 30), "easing_into_downturn"), (date(2021, 12, 31), "easing_into_bubble")],
)
def test_regime_on_known_dates(
    default_rules: RuleSet, history: dict[str, pd.Series], as_of: date, regime: str
) -> None:
    result = classify_regime(default_rules, history, as_of)
    assert result.regime == regime
    assert {c.id for c in result.checks} >= {"easing", "bubble", "qt_ends", "rate_cut"}
