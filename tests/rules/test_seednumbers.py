"""The seed's numbers (rules/seednumbers.py) over the real history in ../shared/data, checked
against the figures the H.4.1, MSPD and FOMC record give by hand (issue 21 item 6)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from rules import RuleSet
from rules.seednumbers import (
    MARKETABLE,
    TARGET_OLD,
    event_move,
    gold_vs_bonds,
    is_one_off,
    issuance_share,
    known,
    pace,
    policy_target,
    seed_numbers,
    since_qt_end,
)
from sources.files import FileSource


@pytest.fixture(scope="module")
def data(history: Mapping[str, pd.Series], history_dir: Path) -> Mapping[str, pd.Series]:
    """The rules' inputs plus the two series the numbers also read: the pre-2008 target and
    total marketable debt (MSPD), from the same directory."""
    files = FileSource(history_dir)
    return {**history, **{s: files.fetch(s).values for s in (TARGET_OLD, MARKETABLE)}}


def test_one_off_rules_are_the_ones_that_never_announce_an_end(ruleset: RuleSet) -> None:
    found = {r.id for r in ruleset.rules if is_one_off(r.spec)}
    assert {"rate_cut", "easing_cycle_starts", "tightening_starts"} <= found
    assert "qt_ends" not in found and "bubble_conditions" not in found


def test_added_since_qt_ended_counts_from_the_low_in_millions(
        data: Mapping[str, pd.Series]) -> None:
    found = since_qt_end(data, date(2025, 12, 17), date(2026, 8, 19))
    assert found is not None and found.base == date(2025, 12, 3)  # the week QT stopped
    assert found.treasuries == 4_542_228 - 4_188_739  # TREAST: +$353 bn
    assert found.reserves == 2_935_287 - 2_858_284  # WRESBAL: +$77 bn
    assert found.treasuries_to == found.reserves_to == date(2026, 8, 19)


def test_the_pace_of_cuts_from_the_target_and_before_2008_from_the_old_target(
        data: Mapping[str, pd.Series]) -> None:
    late_2025 = pace(policy_target(data, date(2025, 12, 31)), date(2025, 12, 31), 6)
    assert late_2025 is not None
    assert (late_2025.change, late_2025.cuts, late_2025.hikes) == (-0.75, 3, 0)
    assert late_2025.level == 3.75
    h1_2001 = pace(policy_target(data, date(2001, 6, 30)), date(2001, 6, 30), 6)
    assert h1_2001 is not None  # Jan 3, Jan 31, Mar 20, Apr 18, May 15, Jun 27
    assert (h1_2001.change, h1_2001.cuts, h1_2001.level) == (-2.75, 6, 3.75)


def test_the_fed_share_of_net_marketable_issuance_since_qt_ended(
        data: Mapping[str, pd.Series]) -> None:
    found = issuance_share(data, date(2025, 12, 17), date(2026, 6, 30))
    assert found is not None
    assert (found.start, found.end) == (date(2025, 11, 30), date(2026, 5, 31))
    assert found.fed == 4_461_901 - 4_191_225  # TREAST on the Wednesdays before month-end
    assert found.share is not None and round(found.share) == 38
    # The May month-end is published in June (7 days' lag): not known on June 5.
    early = issuance_share(data, date(2025, 12, 17), date(2026, 6, 5))
    assert early is not None and early.end == date(2026, 4, 30)


def test_gold_against_the_ten_year_and_inflation_as_published(
        data: Mapping[str, pd.Series]) -> None:
    found = gold_vs_bonds(data, date(2026, 6, 30))
    assert found is not None
    assert found.gold_month == date(2026, 5, 1)  # June's price is known once June ends
    gold = known(data, "GOLD", date(2026, 6, 30))
    assert found.gold_return == pytest.approx(
        (gold[pd.Timestamp("2026-05-01")] / gold[pd.Timestamp("2025-05-01")] - 1) * 100)
    assert found.yield_10y == 4.44 and found.cpi_month == date(2026, 5, 1)
    assert found.inflation is not None and 0 < found.inflation < 10


def test_numbers_without_marketable_debt_say_what_is_missing(
        history: Mapping[str, pd.Series]) -> None:
    lacking = {k: v for k, v in history.items() if k != MARKETABLE}
    found = seed_numbers(lacking, date(2026, 6, 30), date(2025, 12, 17))
    assert found.issuance is None and found.issuance_missing == (MARKETABLE,)
    assert found.since_qt is not None and found.pace_12m is not None and found.gold is not None


def test_the_move_behind_an_event(data: Mapping[str, pd.Series]) -> None:
    hike = event_move(data, date(2026, 9, 17), date(2026, 9, 25))
    assert hike is not None and hike.latest
    assert (hike.move.date, hike.move.change, hike.move.level) == (date(2026, 9, 17), 0.25, 4.0)
    start = event_move(data, date(2024, 9, 19), date(2025, 12, 31))
    assert start is not None and not start.latest and start.move.change == -0.5
    assert start.pace is not None and start.pace.cuts == 3
    assert event_move(data, date(2022, 7, 6), date(2025, 12, 31)) is None  # QT, not a hike
    # QT's start the day before a hike is not that hike; a statement the day before is.
    assert event_move(data, date(2017, 12, 13), date(2018, 1, 31)) is None
    stated = {**data, "fomc_decision": pd.Series([1.0], index=[pd.Timestamp("2017-12-13")])}
    hike = event_move(stated, date(2017, 12, 13), date(2018, 1, 31))
    assert hike is not None and (hike.move.date, hike.move.level) == (date(2017, 12, 14), 1.5)


def test_an_end_of_qt_that_gave_way_is_not_counted(history: Mapping[str, pd.Series]) -> None:
    over = (date(2019, 8, 28), date(2020, 3, 25))
    found = seed_numbers(history, date(2021, 12, 31), None, qt_over=over)
    assert found.since_qt is None and found.qt_over == over
    assert seed_numbers(history, date(2026, 6, 30), date(2025, 12, 17), qt_over=over).qt_over \
        is None  # a later end counts
