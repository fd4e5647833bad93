"""The live path reads a bounded window and carries each rule's state; over random rule files,
random (plainly synthetic) histories and random evaluation dates it finds exactly what an
evaluation over all history finds: the same events, states and skipped rules."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import Event, evaluate, load_rules
from rules.reach import Reach
from rules.window import rules_reach, window_data

NAMES = ["x", "y", "z", "m"]
WINDOWS = ["4", "13", "'8w'", "'6m'", "'1y'", "'3y'"]
TRANSFORMS = [
    "change({a}, {w})", "pct_change({a}, {w})", "mean({a}, {w})", "max({a}, {w})",
    "min({a}, {w})", "pctrank({a}, {w})", "pct_from_high({a}, {w})", "pct_from_high({a})",
    "rises({a})", "falls({a})", "shift({a}, 3)", "{a}.shift(2)", "yoy({a})", "{a}",
    "coalesce({a}, 0)", "sum({a}, {w})", "settled({a} > 0, {w})",
    "settled(mean({a}, 4) > 0, '2w')",
]
CONDITIONS = [
    "{t} > {k}", "{t} < {k}", "crosses_above({t}, {k})", "count({t} > {k}, {w}) >= 2",
    "known({a}) and {t} > {k}", "started({a}) and {t} < {k}", "not {t} > {k}",
]


@st.composite
def transforms(draw: st.DrawFn, names: list[str]) -> str:
    inner = draw(st.sampled_from(TRANSFORMS)).format(
        a=draw(st.sampled_from(names)), w=draw(st.sampled_from(WINDOWS)))
    if draw(st.booleans()):  # a window of a window
        return str(draw(st.sampled_from(TRANSFORMS)).format(
            a=f"({inner})", w=draw(st.sampled_from(WINDOWS))))
    return inner


@st.composite
def conditions(draw: st.DrawFn, names: list[str]) -> str:
    parts = [draw(st.sampled_from(CONDITIONS)).format(
        t=draw(transforms(names)), a=draw(st.sampled_from(names)),
        w=draw(st.sampled_from(WINDOWS)), k=draw(st.sampled_from(["-1", "0", "1", "2", "50"])))
        for _ in range(draw(st.integers(1, 2)))]
    return f" {draw(st.sampled_from(['and', 'or']))} ".join(parts)


@st.composite
def rule_files(draw: st.DrawFn) -> str:
    lines = [
        "series:",
        "  x: {source: fred, id: X}",
        "  y: {source: fred, id: Y}",
        "  z: {source: fred, id: Z, lag: 30d}",
        "metrics:",
        f"  m: {json.dumps(draw(transforms(['x', 'y', 'z'])))}",
        "rules:",
    ]
    for n in range(draw(st.integers(1, 4))):
        lines += [f"  - id: r{n}", f"    title: synthetic rule {n}",
                  f"    when: {json.dumps(draw(conditions(NAMES)))}",
                  f"    for: {draw(st.integers(1, 3))}",
                  f"    keep_firing_for: {draw(st.integers(0, 2))}"]
        if draw(st.booleans()):
            lines.append(f"    clear_when: {json.dumps(draw(conditions(NAMES)))}")
        if draw(st.booleans()):
            lines.append(f"    on: {draw(st.sampled_from(['x', 'y', 'z']))}")
        # the value at each point is kept in the state: any difference in a window shows
        lines.append(f"    value: {json.dumps(draw(transforms(NAMES)))}")
    return "\n".join(lines) + "\n"


def synthetic(seed: int) -> dict[str, pd.Series]:
    """Random walks (weekly X, business-daily Y with a gap, monthly Z); plainly not data."""
    rng = np.random.default_rng(seed)
    weekly = pd.date_range("2004-01-07", "2020-12-30", freq="7D")
    daily = pd.bdate_range("2009-01-01", "2020-12-31")
    daily = daily[(daily < "2014-03-01") | (daily > "2014-06-30")]  # goes stale, comes back
    monthly = pd.date_range("2000-01-01", "2020-12-01", freq="MS")
    return {sid: pd.Series(np.cumsum(rng.normal(0, 1, len(index))), index=index)
            for sid, index in (("X", weekly), ("Y", daily), ("Z", monthly))}


def seen(events: list[Event]) -> list[tuple[Any, ...]]:
    return [(e.rule_id, e.state, e.date, e.value, e.as_of, e.announced) for e in events]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=rule_files(), seed=st.integers(0, 2**16),
       offsets=st.lists(st.integers(1, 120), min_size=3, max_size=10))
def test_the_window_finds_what_all_history_finds(text: str, seed: int,
                                                 offsets: list[int]) -> None:
    ruleset = load_rules(text, "random.yaml")
    data = synthetic(seed)
    day = date(2015, 1, 1)
    _, start_states, _ = evaluate(ruleset, data, {}, day)
    windowed = full = start_states
    for offset in offsets:
        day += timedelta(days=offset)
        found_w, windowed, skipped_w = evaluate(ruleset, data, windowed, day)
        found_f, full, skipped_f = evaluate(ruleset, data, full, day, window=False)
        assert seen(found_w) == seen(found_f), (text, day)
        assert windowed == full, (text, day)
        assert skipped_w == skipped_f, (text, day)
        windowed = full = json.loads(json.dumps(windowed))  # as the store keeps them


def test_reach_adds_along_a_path_and_takes_the_widest() -> None:
    ruleset = load_rules(
        "series:\n  x: {source: fred, id: X}\n  y: {source: fred, id: Y}\n"
        "metrics:\n  p: \"pctrank(x, '10y')\"\n"
        "rules:\n  - id: a\n    title: A\n    when: \"change(p, 4) > 0 and y.shift(3) > 0\"\n"
        "  - id: b\n    title: B\n    when: \"rises(y) > 2\"\n", "reach.yaml")
    a, b = ruleset.rules
    assert rules_reach(ruleset, [a]) == Reach(obs=4, days=3660.0)  # 10y = 10 x 366 days
    assert rules_reach(ruleset, [b]).unbounded  # a streak counts back without limit


def test_the_window_keeps_the_first_row_and_the_look_back() -> None:
    ruleset = load_rules("series:\n  x: {source: fred, id: X}\n"
                         "rules:\n  - id: a\n    title: A\n    when: \"change(x, 4) > 0\"\n",
                         "w.yaml")
    weekly = pd.date_range("2000-01-05", periods=1000, freq="7D")
    data = {"X": pd.Series(np.arange(1000.0), index=weekly)}
    since = weekly[900]
    cut = window_data(ruleset, data, since, rules_reach(ruleset, ruleset.rules))["X"]
    assert cut.index[0] == weekly[0]  # "has it started" keeps its answer
    # 4 observations of look-back, 14 spare days and 64 spare rows before `since`
    assert cut.index[1] == weekly[900 - 2 - 4 - 64]
    assert len(cut) == 1 + 1000 - (900 - 2 - 4 - 64)
    unbounded = load_rules("series:\n  x: {source: fred, id: X}\nrules:\n  - id: a\n"
                           "    title: A\n    when: \"rises(x) > 0\"\n", "u.yaml")
    assert window_data(unbounded, data, since, rules_reach(unbounded, unbounded.rules))["X"] \
        is data["X"]

