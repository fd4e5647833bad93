"""The default rules and the regime against the historical record, 1990-2026, over the whole
history at once (tests/rules/record.py holds the record and the judge; docs/rules.md prints
its numbers): consistency invariants between milestones, and the regime month by month."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from rules import Event, RuleSet, classify_regime, load_rules, regime_history
from rules.engine import Evaluator, on_clock
from tests.rules.record import RECESSIONS, Sweep, episodes, in_recession, sweep


@pytest.fixture(scope="module")
def record(ruleset: RuleSet, history: Mapping[str, pd.Series], history_dir: Path,
           history_events: tuple[Event, ...]) -> Sweep:
    return sweep(ruleset, history, history_dir, events=history_events)


def firing_days(events: tuple[Event, ...] | list[Event], rule: str
                ) -> list[tuple[date, date]]:
    """Each firing episode of `rule` as [start, end) (end: far future while still firing)."""
    return [(a, b or date(2100, 1, 1)) for a, b in episodes(list(events), rule)]


def covered(inner: tuple[date, date], outer: list[tuple[date, date]]) -> bool:
    return any(a <= inner[0] and inner[1] <= b for a, b in outer)


# --- the regime month by month -------------------------------------------------------------

def test_wrong_months_are_at_most_three_percent(record: Sweep) -> None:
    wrong = record.wrong
    assert len(wrong) <= 0.03 * len(record.verdicts), "\n".join(record.lines())


def test_weekly_runs_shorter_than_three_weeks_at_most_half_a_year(record: Sweep) -> None:
    assert len(record.short) <= 0.5 * record.years, record.short


def test_a_regime_change_holds_three_weeks_unless_a_decision_caused_it(record: Sweep) -> None:
    # A run shorter than three weeks begins or ends at an FOMC move, a programme's start or
    # end, or the end of the six months a move is read as policy.
    assert not record.short_undecided, record.short_undecided


def test_no_bubble_inside_a_recession(record: Sweep) -> None:
    inside = [v for v in record.verdicts if in_recession(v.as_of) and v.code.endswith("B")]
    assert len(inside) <= 1, inside  # at most the peak month itself (Feb 2020)


# --- milestones built on milestones --------------------------------------------------------

@pytest.mark.parametrize("composite", ["stimulus_into_bubble", "real_yields_fall_amid_bubble"])
def test_a_composite_milestone_never_fires_while_bubble_conditions_is_off(
    history_events: tuple[Event, ...], composite: str
) -> None:
    # 1990-2026, where both run on business-day clocks (before the Nasdaq, 1971, bubble
    # conditions tick only with monthly releases and need months for their ten points).
    base = firing_days(history_events, "bubble_conditions")
    found = [ep for ep in firing_days(history_events, composite) if ep[1] >= date(1990, 1, 1)]
    assert found, composite
    outside = [ep for ep in found if not covered(ep, base)]
    assert not outside, (composite, outside, base)


# --- credit_boom and NBER recessions -------------------------------------------------------

def test_credit_boom_never_fires_inside_an_nber_recession(
    history_events: tuple[Event, ...], record: Sweep
) -> None:
    # NBER business-cycle dates, as tests/rules/record.py states them (with the source).
    assert RECESSIONS[0] == (date(1990, 7, 1), date(1991, 3, 31))
    on_in_recession = record.credit_false()
    assert not on_in_recession, on_in_recession
    assert record.credit_per_decade() <= 0.5
    # ... and still finds the booms the design names (2003-07, 2020-21).
    starts = [a for a, _ in firing_days(history_events, "credit_boom")]
    assert any(date(2003, 1, 1) <= d <= date(2005, 12, 31) for d in starts), starts
    assert any(date(2020, 5, 1) <= d <= date(2021, 12, 31) for d in starts), starts


# --- wording only from when it was true ----------------------------------------------------

def test_bill_share_high_names_the_guidance_band_only_from_when_it_existed(
    history_events: tuple[Event, ...]
) -> None:
    fired = [e for e in history_events if e.rule_id == "bill_share_high" and e.state == "firing"]
    early = [e for e in fired if e.date < date(2020, 11, 4)]
    late = [e for e in fired if e.date >= date(2020, 11, 4)]
    assert early and late
    for event in fired:
        for lang in ("en", "zh"):
            title, body = event.render(lang)
            band = ("guidance" in (title + body).lower() or "15–20%" in body
                    or "指导区间" in title + body)
            assert band == (event in late), (event.date, lang, title, body)


# --- QT ends, and is said to end ------------------------------------------------------------

def test_qt_ends_gives_way_to_qe4_rather_than_firing_through_it(
    history_events: tuple[Event, ...]
) -> None:
    (first, *_rest) = firing_days(history_events, "qt_ends")
    assert date(2019, 7, 1) <= first[0] <= date(2019, 9, 30)
    assert first[1] <= date(2020, 6, 30), first  # QE4 began 2020-03-15


@pytest.mark.parametrize(
    ("qt_over", "quiet_from"),
    [
        # QT2 ended 2025-12-01: securities grow again within weeks (bills bought with MBS
        # paydowns, then reserve-management purchases from 2025-12-12).
        (date(2025, 12, 1), date(2025, 12, 29)),
        # QT1's Treasury runoff ended 2019-08-01, but MBS paydowns kept total securities
        # falling until the bill purchases of 2019-10-11: "shrinking" is true until then.
        (date(2019, 8, 1), date(2019, 10, 18)),
    ],
)
def test_the_tightening_gauge_stops_saying_qt_once_securities_stop_shrinking(
    ruleset: RuleSet, history: Mapping[str, pd.Series], qt_over: date, quiet_from: date
) -> None:
    ev = Evaluator(ruleset, history, None)
    weeks = pd.date_range(pd.Timestamp(quiet_from),
                          pd.Timestamp(quiet_from) + pd.Timedelta(weeks=15), freq="W-FRI")
    before = pd.date_range(pd.Timestamp(qt_over) - pd.Timedelta(weeks=12),
                           pd.Timestamp(qt_over) - pd.Timedelta(weeks=2), freq="W-FRI")
    running = on_clock(ev.lookup("running_off"), weeks)
    assert (running == 0).all(), list(zip(weeks.date, running, strict=True))
    assert (on_clock(ev.lookup("tightening_now"), weeks) == 0).all()
    assert (on_clock(ev.lookup("running_off"), before) == 1).all()  # it did say so in QT


# --- decide with what is known ---------------------------------------------------------------

def test_every_week_of_the_seed_climax_has_a_determined_regime(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    # 2026-09-04..2026-10-07: the Nasdaq stops 2026-08-20, the S&P 500 runs to 2026-10-07.
    weeks = [*pd.date_range("2026-09-04", "2026-10-07", freq="W-FRI").date, date(2026, 10, 7)]
    found = {r.as_of: r for r in regime_history(ruleset, history, weeks)}
    assert all(r.determined for r in found.values()), {
        d: (r.regime, r.reasons) for d, r in found.items()}
    assert found[date(2026, 9, 25)].regime == "tightening_into_bubble"  # the 09-17 hike


def test_no_regime_awaits_a_series_that_is_no_longer_published(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    ended = {s.id for s in ruleset.series.values() if s.until is not None}
    assert {"SHILLER_CAPE", "DFEDTAR"} <= ended
    weeks = list(pd.date_range("2008-12-19", "2026-12-31", freq="W-FRI").date)
    answers = regime_history(ruleset, history, weeks)
    assert any(not r.determined for r in answers)  # the end of the data still waits
    for r in answers:
        assert not ended & set(r.waiting_for), (r.as_of, r.waiting_for)
        stale_ended = [x for x in r.reasons if any(f"{e} stale" in x for e in ended)]
        assert not stale_ended, (r.as_of, r.reasons)


def test_an_ended_series_is_said_once_as_no_longer_published(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    # Under the shipped rules CAPE's leg goes on with the market value of equities over GDP:
    # the ended CAPE is neither awaited nor said.
    found = classify_regime(ruleset, history, date(2026, 12, 1))
    assert "SHILLER_CAPE" not in found.waiting_for
    assert not any("SHILLER_CAPE" in r for r in found.reasons), found.reasons
    # A leg that reads CAPE alone is said once as no longer published, and never awaited.
    text = (Path(__file__).parents[2] / "rules.yaml").read_text(encoding="utf-8")
    alone = text.replace('"coalesce(cape > 28, equities_to_gdp > 140)"', '"cape > 28"')
    assert alone != text
    ruleset = load_rules(alone, "rules.yaml")
    found = classify_regime(ruleset, history, date(2026, 12, 1))
    assert not found.determined and "SHILLER_CAPE" not in found.waiting_for
    assert ("SHILLER_CAPE", "2023-09-01") in found.no_longer_published
    said = [r for r in found.reasons if "no longer published" in r]
    assert len([r for r in said if "SHILLER_CAPE" in r]) == 1, found.reasons
    assert found.to_dict()["no_longer_published"][0]["id"] in {"SHILLER_CAPE", "DFEDTAR"}
    # Before its end, CAPE is published and counts.
    early = classify_regime(ruleset, history, date(2021, 12, 31))
    assert early.no_longer_published == ()


def test_undetermined_names_the_inputs_of_the_unknown_legs_only(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    # 2026-10-16: stocks are known from the S&P 500, so the stale Nasdaq decides nothing;
    # spreads, CPI and PCE are stale and do.
    found = classify_regime(ruleset, history, date(2026, 10, 16))
    assert not found.determined
    assert "NASDAQCOM" not in found.waiting_for, found.waiting_for
    assert {"BAMLH0A0HYM2", "CPIAUCSL"} <= set(found.waiting_for), found.waiting_for
    assert all("last 20" in r for r in found.reasons if "stale" in r)


# --- policy from decisions -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("as_of", "gauge"),
    [
        # single quarter-point moves before 2008 (DFEDTAR): the Jul-1990 cut, the Feb-1994 hike
        (date(1990, 7, 31), "easing"), (date(1994, 2, 28), "tightening"),
        # a cut in the month of the cut (6 Jul 1995), though the rate is higher than six
        # months before
        (date(1995, 7, 31), "easing"),
        # QE3's MBS purchases with Operation Twist keeping Treasuries flat
        (date(2012, 12, 31), "easing"),
    ],
)
def test_policy_reads_the_decisions(
    ruleset: RuleSet, history: Mapping[str, pd.Series], as_of: date, gauge: str
) -> None:
    found = classify_regime(ruleset, history, as_of)
    on = {c.id for c in found.checks if c.kind == "gauge" and c.on}
    assert gauge in on, (as_of, on)
    assert not {"easing", "tightening"} <= on


def test_six_months_after_the_last_move_policy_is_holding(
    ruleset: RuleSet, history: Mapping[str, pd.Series]
) -> None:
    # The last hike of the 2004-06 cycle was 2006-06-29; 2007-02 holds (no purchases then).
    found = classify_regime(ruleset, history, date(2007, 2, 28))
    on = {c.id for c in found.checks if c.kind == "gauge" and c.on}
    assert not {"easing", "tightening"} & on, on
