"""The state machine, staleness skips, and the live path versus the backtest."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from rules import RuleSet, backtest, evaluate, load_rules

RULES = """
series:
  x: {source: fred, id: X}
  y: {source: fred, id: Y, lag: 14d}
rules:
  - id: high
    title: {en: X is high, zh: X 偏高}
    when: "x > 10"
    for: 3
  - id: sticky
    title: Sticky
    when: "x > 10"
    clear_when: "x < 5"
  - id: lingering
    title: Lingering
    when: "x > 10"
    keep_firing_for: 2
  - id: both
    title: Both
    when: "x > 10 and y > 0"
"""


def weekly(values: list[float], start: str = "2020-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="7D"))


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules(RULES, "t.yaml")


def transitions(ruleset: RuleSet, data: dict[str, pd.Series], rule: str) -> list[tuple[str, str]]:
    return [(e.state, e.date.isoformat()) for e in backtest(ruleset, data, only=[rule])]


def test_for_needs_consecutive_observations(ruleset: RuleSet) -> None:
    x = weekly([0, 11, 11, 0, 11, 11, 11, 11, 0])
    assert transitions(ruleset, {"X": x}, "high") == [
        ("firing", "2020-02-12"),
        ("resolved", "2020-02-26"),
    ]


def test_clear_when_adds_hysteresis(ruleset: RuleSet) -> None:
    x = weekly([0, 11, 8, 6, 4, 11])
    assert transitions(ruleset, {"X": x}, "sticky") == [
        ("firing", "2020-01-08"),
        ("resolved", "2020-01-29"),
        ("firing", "2020-02-05"),
    ]


def test_keep_firing_for_ignores_short_dips(ruleset: RuleSet) -> None:
    x = weekly([11, 0, 0, 11, 0, 0, 0])
    assert transitions(ruleset, {"X": x}, "lingering") == [
        ("firing", "2020-01-01"),
        ("resolved", "2020-02-12"),
    ]


def test_lagged_input_is_seen_only_after_publication(ruleset: RuleSet) -> None:
    x = weekly([11] * 6)
    y = weekly([1] * 6)
    events = backtest(ruleset, {"X": x, "Y": y}, only=["both"])
    # y's first observation (Jan 1) is published 14 days later, on Jan 15.
    assert [(e.state, e.date) for e in events] == [("firing", date(2020, 1, 15))]


def test_stale_input_skips_with_a_reason(ruleset: RuleSet) -> None:
    x = weekly([11] * 20)
    y = weekly([1] * 3)
    _, states, skipped = evaluate(ruleset, {"X": x, "Y": y}, {}, date(2020, 5, 13))
    reasons = {s.rule: s.reason for s in skipped}
    assert reasons["both"] == "Y stale: last 2020-01-15, window 30d"
    assert states["both"]["status"] == "inactive"
    assert states["both"]["baseline"] == "2020-05-13"  # history before this stays quiet
    _, _, skipped = evaluate(ruleset, {"X": x}, {}, date(2020, 5, 13))
    assert {s.rule: s.reason for s in skipped}["both"] == "no data for y"


def test_live_path_matches_backtest_and_never_refires(ruleset: RuleSet) -> None:
    rng = np.random.default_rng(7)
    x = weekly(list(rng.choice([0.0, 4.0, 8.0, 11.0, 12.0], size=120)))
    y = weekly(list(rng.choice([-1.0, 1.0], size=120)))
    data = {"X": x, "Y": y}
    expected = {(e.rule_id, e.state, e.date) for e in backtest(ruleset, data)}
    states: dict[str, dict[str, object]] = {}
    live = []
    for day in pd.date_range("2019-12-25", x.index[-1] + pd.Timedelta(days=21), freq="7D"):
        cut = {k: v[v.index <= day] for k, v in data.items()}
        events, states, _ = evaluate(ruleset, cut, states, day.date())
        states = json.loads(json.dumps(states))  # what the store keeps
        live += [(e.rule_id, e.state, e.date) for e in events]
    assert len(live) == len(set(live))
    assert set(live) == expected
    # A restart with the saved states and the same data announces nothing again.
    again, _, _ = evaluate(ruleset, data, states, x.index[-1].date())
    assert again == []


def test_changed_definition_does_not_refire_history(ruleset: RuleSet) -> None:
    x = weekly([0, 11, 11, 11, 0, 11, 11, 11])
    _, states, _ = evaluate(ruleset, {"X": x}, {}, date(2020, 3, 1))
    changed = load_rules(RULES.replace('x > 10"\n    for: 3', 'x > 9"\n    for: 2'), "t.yaml")
    assert changed.rule("high").definition_hash != ruleset.rule("high").definition_hash
    events, new_states, _ = evaluate(changed, {"X": x}, states, date(2020, 3, 1))
    assert events == []
    assert new_states["high"]["definition_hash"] == changed.rule("high").definition_hash
    assert new_states["high"]["status"] == "firing"


def test_resolved_event_carries_the_current_value(ruleset: RuleSet) -> None:
    x = weekly([12, 13, 14, 3])
    events = backtest(ruleset, {"X": x}, only=["sticky"])
    assert [(e.state, e.value) for e in events] == [("firing", 12.0), ("resolved", 3.0)]
    title, text = events[1].render("en")
    assert title == "Sticky"  # the state is the renderer's headline, said once
    assert text == (
        "Ended on 2020-01-22, after holding 3 weeks (since 2020-01-01).\n"
        "• Value is now 3 (line 10, 7 below)"
    )


def test_unsorted_repeated_and_tz_aware_input_is_normalised(ruleset: RuleSet) -> None:
    x = weekly([0, 11, 11, 11, 0])
    messy = pd.concat([x.iloc[::-1], pd.Series([99.0], index=[x.index[0]])])
    messy.index = pd.DatetimeIndex(messy.index).tz_localize("UTC")
    clean = [
        (e.rule_id, e.state, e.date) for e in backtest(ruleset, {"X": weekly([11, 11, 11, 11, 0])})
    ]
    assert [(e.rule_id, e.state, e.date) for e in backtest(ruleset, {"X": messy})] == clean


def test_event_reports_publication_and_observation_dates() -> None:
    rules = load_rules(
        "series:\n  y: {id: Y, lag: 14d}\nrules:\n  - id: r\n    title: R\n    when: y > 1\n",
        "t.yaml",
    )
    y = pd.Series([0.0, 2.0], index=pd.DatetimeIndex(["2020-01-31", "2020-02-29"]))
    (event,) = backtest(rules, {"Y": y})
    assert (event.date, event.observed) == (date(2020, 3, 14), date(2020, 2, 29))
    assert event.to_dict()["observed"] == "2020-02-29"


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"rule": "high"},
        {"definition_hash": "x", "rule": "high", "status": "on fire"},
        {"definition_hash": "x", "rule": "high", "last": "yesterday"},
        "not a dict",
    ],
)
def test_unreadable_state_restarts_silently(ruleset: RuleSet, broken: object) -> None:
    x = weekly([0, 11, 11, 11, 0, 11, 11, 11])
    events, states, _ = evaluate(ruleset, {"X": x}, {"high": broken}, date(2020, 3, 1))  # type: ignore[dict-item]
    assert events == []
    assert states["high"]["status"] == "firing"
    assert states["high"]["baseline"] == "2020-03-01"


def test_unreadable_state_of_a_skipped_rule_is_replaced(ruleset: RuleSet) -> None:
    _, states, skipped = evaluate(ruleset, {}, {"high": "garbage"}, date(2020, 3, 1))  # type: ignore[dict-item]
    assert {s.rule for s in skipped} >= {"high"}
    assert states["high"]["status"] == "inactive"


def test_non_numeric_input_is_a_clear_error(ruleset: RuleSet) -> None:
    bad = pd.Series(["1", "two"], index=pd.date_range("2020-01-01", periods=2))
    with pytest.raises(ValueError, match=r"input series x \(X\) is not numbers by date"):
        backtest(ruleset, {"X": bad})
    undated = pd.Series([1.0, 2.0], index=["a", "b"])
    with pytest.raises(ValueError, match=r"input series x \(X\)"):
        backtest(ruleset, {"X": undated})
