"""The default rules against real history (../shared/data): what DESIGN.md says they find."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from rules import UNDETERMINED, Event, RuleSet, classify_regime, regime_history

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
def events(history_events: tuple[Event, ...]) -> list[Event]:
    return list(history_events)


def fired(events: list[Event], rule: str) -> list[date]:
    return [e.date for e in events if e.rule_id == rule and e.state == "firing"]


def firing_on(events: list[Event], rule: str, day: date) -> bool:
    """Whether `rule` was firing on `day` (from its transitions)."""
    state = False
    for e in events:
        if e.rule_id == rule and e.date <= day:
            state = e.state == "firing"
    return state


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
    # It starts in Dec 2020 (stocks at highs, tight spreads, CAPE) and holds through 2021.
    assert firing_on(events, "stimulus_into_bubble", date(2021, 6, 30)), found
    assert firing_on(events, "stimulus_into_bubble", date(2025, 12, 31)), found
    assert not [d for d in found if date(2008, 1, 1) <= d <= date(2009, 12, 31)]
    assert not [d for d in found if date(2020, 3, 1) <= d <= date(2020, 6, 30)]


def test_easing_cycle_starts_jul_2019_and_sep_2024(events: list[Event]) -> None:
    found = fired(events, "easing_cycle_starts")
    assert any(near(d, date(2019, 7, 31), 3) for d in found), found
    assert any(near(d, date(2024, 9, 18), 3) for d in found), found
    assert not [d for d in found if date(2025, 1, 1) <= d <= date(2025, 12, 31)]


def test_reserves_grow_needs_the_fed_adding_assets_and_does_not_flap(
    events: list[Event],
) -> None:
    found = fired(events, "reserves_grow")
    assert any(date(2019, 9, 1) <= d <= date(2019, 12, 31) for d in found), found
    # The late-2019 bill purchases ran straight into QE4: one episode, firing through Mar 2020
    # (before the hysteresis it flapped off and on again in Feb-Mar 2020).
    assert firing_on(events, "reserves_grow", date(2020, 3, 31))
    # In 2023 reserves rose from reverse-repo outflows while QT continued: not growth.
    assert not [d for d in found if date(2023, 6, 1) <= d <= date(2024, 12, 31)]
    assert len(found) <= 10, found  # 21 episodes of 1-14 weeks before; about 8 programmes


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2010, 11, 1), date(2011, 6, 30)), (date(2013, 1, 1), date(2013, 12, 31)),
     (date(2020, 6, 1), date(2021, 12, 31))],
)
def test_debt_monetization_inside_qe2_qe3_and_qe4(
    events: list[Event], start: date, end: date
) -> None:
    assert any(start <= d <= end for d in fired(events, "debt_monetization"))


def test_tightening_starts_at_the_2026_09_17_hike_despite_stale_treasury_holdings(
    events: list[Event],
) -> None:
    assert date(2026, 9, 17) in fired(events, "tightening_starts")


def test_rate_cut_from_fred_alone_comes_the_day_after_each_decision(
    events: list[Event],
) -> None:
    cuts = [d for d in fired(events, "rate_cut") if d >= date(2019, 1, 1)]
    assert cuts == [d + timedelta(days=1) for d in CUT_DECISIONS]


@pytest.mark.parametrize(
    ("rule", "windows"),
    [
        ("sahm_rule", [(date(2001, 1, 1), date(2001, 12, 31)),
                       (date(2008, 1, 1), date(2008, 12, 31)),
                       (date(2020, 3, 1), date(2020, 6, 30)),
                       (date(2024, 8, 1), date(2024, 8, 31))]),
        ("curve_uninverts", [(date(2001, 1, 1), date(2001, 12, 31)),
                             (date(2007, 6, 1), date(2008, 6, 30)),
                             (date(2019, 6, 1), date(2019, 12, 31)),
                             (date(2024, 12, 1), date(2024, 12, 31))]),
        ("reserves_scarce", [(date(2025, 10, 1), date(2025, 11, 30))]),
        ("term_premium_rises", [(date(2022, 1, 1), date(2022, 12, 31)),
                                (date(2023, 10, 1), date(2023, 10, 31))]),
        ("gold_beats_bonds", [(date(2007, 1, 1), date(2011, 12, 31)),
                              (date(2019, 6, 1), date(2020, 12, 31)),
                              (date(2023, 1, 1), date(2024, 12, 31))]),
        ("breakevens_up_real_yields_down", [(date(2020, 3, 1), date(2021, 6, 30))]),
        ("credit_boom", [(date(2003, 1, 1), date(2007, 12, 31)),
                         (date(2019, 6, 1), date(2021, 12, 31))]),
        ("bill_share_high", [(date(2020, 1, 1), date(2021, 12, 31))]),
        ("balance_sheet_grows", [(date(2019, 9, 1), date(2019, 12, 31))]),
    ],
)
def test_new_milestones_find_their_history(
    events: list[Event], rule: str, windows: list[tuple[date, date]]
) -> None:
    found = fired(events, rule)
    for start, end in windows:
        assert any(start <= d <= end for d in found), (rule, start, found)


def test_balance_sheet_grows_with_the_dec_2025_purchases(events: list[Event]) -> None:
    assert firing_on(events, "balance_sheet_grows", date(2026, 6, 30))
    assert not firing_on(events, "balance_sheet_grows", date(2025, 6, 30))  # QT then


def test_large_deficit_2009_and_2020(events: list[Event]) -> None:
    found = fired(events, "large_deficit")
    assert any(d.year == 2009 for d in found), found
    assert any(d.year == 2020 for d in found), found


@pytest.mark.parametrize(
    ("as_of", "regime"),
    [(date(2020, 4, 30), "easing_into_downturn"), (date(2021, 12, 31), "easing_into_bubble"),
     (date(2009, 3, 31), "easing_into_downturn"), (date(2025, 12, 31), "easing_into_bubble"),
     # rate cuts into the Nasdaq mania: the seed's own 1999 analogue (was "downturn")
     (date(1999, 1, 31), "easing_into_bubble"),
     (date(2007, 3, 31), "holding_into_bubble"), (date(2022, 9, 30), "tightening_mixed")],
)
def test_regime_on_known_dates(
    ruleset: RuleSet, history: dict[str, pd.Series], as_of: date, regime: str
) -> None:
    result = classify_regime(ruleset, history, as_of)
    assert result.regime == regime
    assert {c.id for c in result.checks} >= {"easing", "bubble", "qt_ends", "rate_cut"}


def test_regime_on_stale_data_is_undetermined_with_last_and_provisional(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    result = classify_regime(ruleset, history, date(2026, 12, 1))
    assert result.regime == UNDETERMINED
    assert result.reasons and result.waiting_for
    assert result.last_regime is not None and result.last_since is not None
    assert result.provisional is not None
    out = result.to_dict()
    assert out["last_determined"]["regime"] == result.last_regime
    assert {c["id"] for c in out["checks"]} >= {"easing", "bubble"}


def test_one_missed_jobs_report_is_decided_two_are_awaited(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    # The shutdown cancelled October 2025's report: the labour legs read a 3-month average,
    # so the September print still decides at 2025-11-30 (UNRATE is fresh for four months).
    result = classify_regime(ruleset, history, date(2025, 11, 30))
    assert result.regime != UNDETERMINED
    # By 2026-11-30 the newest print (July 2026) is four months old: unemployment is awaited.
    later = classify_regime(ruleset, history, date(2026, 11, 30))
    assert later.regime == UNDETERMINED
    assert "UNRATE" in later.waiting_for


def test_regime_history_agrees_with_the_per_date_answer(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    months = [d.date() for d in pd.date_range("1990-01-31", "2026-11-30", freq="ME")]
    found = {r.as_of: r for r in regime_history(ruleset, history, months)}
    sample = [*months[::29], date(2025, 11, 30), date(2026, 10, 31), date(2026, 11, 30)]
    for day in sample:
        one = classify_regime(ruleset, history, day)
        many = found[day]
        assert (many.regime, many.provisional, many.last_regime, many.since, many.last_since,
                many.reasons) == (one.regime, one.provisional, one.last_regime, one.since,
                                  one.last_since, one.reasons), day
        gauges = [(c.id, c.on, c.value, c.observed) for c in one.checks if c.kind == "gauge"]
        assert [(c.id, c.on, c.value, c.observed) for c in many.checks] == gauges, day


def test_bubble_and_downturn_never_both_on(
    ruleset: RuleSet, history: dict[str, pd.Series]
) -> None:
    weeks = [d.date() for d in pd.date_range("1990-01-05", "2026-10-30", freq="W-FRI")]
    for r in regime_history(ruleset, history, weeks):
        on = {c.id for c in r.checks if c.on}
        assert not {"bubble", "downturn"} <= on, r.as_of
        assert not {"easing", "tightening"} <= on, r.as_of
