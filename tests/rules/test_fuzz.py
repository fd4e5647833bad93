"""Thousands of mutated rule files: only RulesError ever escapes the loader, and a file that
passes check evaluates (the seeded campaign of tests/rules/fuzzkit.py; all of it: `make fuzz`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import RulesError, load_rules
from tests.rules.conftest import DEFAULT_RULES

TEXT = DEFAULT_RULES.read_text(encoding="utf-8")
LINES = TEXT.splitlines()
SNIPPETS = [
    "",
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "&a",
    "*a",
    "!!python/object:os.system",
    "\t",
    "for: -1",
    "on: nope",
    "when: 1",
    "x: {id: }",
    "__import__",
    "..",
    "\x00",
    "\ufeff",
    "%",
    "rules:",
    "series: 3",
    "id: Bad-Id",
    "title: {fr: x}",
    "((((",
    "change(",
    "**9",
    "1e999",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "splice"]))
        at = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[at]
        elif kind == "insert":
            lines.insert(at, draw(st.sampled_from(SNIPPETS)))
        elif kind == "replace":
            col = draw(st.integers(0, max(0, len(lines[at]))))
            lines[at] = lines[at][:col] + draw(st.sampled_from(SNIPPETS)) + lines[at][col + 1 :]
        elif kind == "truncate":
            lines = lines[:at]
        else:
            lines[at] = draw(st.text(max_size=30))
        if not lines:
            lines = [""]
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_raise_only_rules_error(text: str) -> None:
    try:
        ruleset = load_rules(text, "fuzz.yaml")
    except RulesError as err:
        assert err.problems
        assert all(p.line >= 1 and p.col >= 1 and p.message for p in err.problems)
    else:
        assert ruleset.rules is not None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_rules_error(text: str) -> None:
    try:
        load_rules(text, "fuzz.yaml")
    except RulesError as err:
        assert err.problems


NAMES = ["w", "m", "d"]
FUNCS1 = ["yoy", "rises", "falls", "abs", "pct_from_high"]
FUNCS_W = ["change", "pct_change", "mean", "median", "min", "max", "sum", "count", "pctrank"]
FUNCS2 = ["crosses_above", "crosses_below", "coalesce", "least", "greatest"]
WINDOWS = ["1", "4", "'4w'", "'1y'", "'3m'", "'10d'"]


def expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from([*NAMES, "0", "1", "2.5", "-3"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda f, a: f"{f}({a})", st.sampled_from(FUNCS1), inner),
            st.builds(
                lambda f, a, w: f"{f}({a}, {w})",
                st.sampled_from(FUNCS_W),
                inner,
                st.sampled_from(WINDOWS),
            ),
            st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(FUNCS2), inner, inner),
            st.builds(lambda a, n: f"({a}).shift({n})", inner, st.integers(0, 3)),
            st.builds(
                lambda a, o, b: f"({a} {o} {b})",
                inner,
                st.sampled_from(["+", "-", "*", "/", ">", "<=", "==", "and", "or"]),
                inner,
            ),
            st.builds(lambda a: f"(not ({a}))", inner),
            st.builds(lambda a: f"({a}) ** 2", inner),
        )

    return st.recursive(leaf, extend, max_leaves=8)


def _data() -> dict[str, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    return {
        "W": pd.Series(
            rng.normal(size=120).cumsum(), index=pd.date_range("2019-01-02", periods=120, freq="7D")
        ),
        "M": pd.Series(
            rng.normal(size=30).cumsum(), index=pd.date_range("2019-01-01", periods=30, freq="MS")
        ),
        "D": pd.Series(
            rng.choice([0.0, 1.0, np.nan], size=500), index=pd.date_range("2019-01-01", periods=500)
        ),
    }


DATA = _data()
FUZZ_RULES = """
series:
  w: {id: W}
  m: {id: M, lag: 40d}
  d: {id: D}
rules:
  - id: r
    title: R
    when: %s
    clear_when: %s
    for: 2
"""


@settings(max_examples=150, deadline=None)
@given(expressions(), expressions())
def test_any_valid_expression_evaluates_without_error(when: str, clear: str) -> None:
    from datetime import date

    from rules import backtest, evaluate

    ruleset = load_rules(FUZZ_RULES % (repr(when), repr(clear)), "fuzz.yaml")
    events = backtest(ruleset, DATA)  # type: ignore[arg-type]
    assert all(e.state in ("firing", "resolved") for e in events)
    found, states, _ = evaluate(ruleset, DATA, {}, date(2021, 6, 1))  # type: ignore[arg-type]
    assert found == [] and set(states) == {"r"}
    for event in events[:2]:
        assert event.render("zh")[0].endswith("R")


def _campaign_checks(figures: object) -> None:
    from tests.rules.fuzzkit import Figures

    assert isinstance(figures, Figures)
    print(figures.summary())
    assert not figures.tracebacks, figures.tracebacks[:3]
    assert not figures.hangs, figures.hangs[:10]
    assert not figures.pass_check_fail_eval, figures.pass_check_fail_eval[:3]
    assert not figures.reload_failures, figures.reload_failures[:3]


def test_a_seeded_sample_of_the_campaign_through_check_evaluation_and_reload(
    tmp_path: Path,
) -> None:
    """400 seeded mutants (syntax, types, bombs, unicode) through check + evaluation and a
    live reload: only RulesError, nothing over 5 s, nothing that passes check then fails."""
    from tests.rules.fuzzkit import campaign

    figures = campaign(seed=20261201, count=400, workdir=tmp_path)
    _campaign_checks(figures)
    assert figures.passed > 20 and figures.refused > 200


@pytest.mark.skipif("CYCLEWATCH_FUZZ_FILES" not in os.environ, reason="`make fuzz` runs it")
def test_the_whole_campaign(tmp_path: Path) -> None:
    """`make fuzz`: CYCLEWATCH_FUZZ_FILES mutants (10,000 by default) from CYCLEWATCH_FUZZ_SEED."""
    from tests.rules.fuzzkit import campaign

    count = int(os.environ.get("CYCLEWATCH_FUZZ_FILES") or 10_000)
    seed = int(os.environ.get("CYCLEWATCH_FUZZ_SEED") or 13)
    _campaign_checks(campaign(seed=seed, count=count, workdir=tmp_path))
