"""Promtool-style rule unit tests: input series in compact notation -> expected transitions.

    rule_files: [rules.yaml]          # optional, relative to the test file
    tests:
      - name: QT ends after a long decline
        start: 2019-01-02
        every: 1w                     # spacing of each series' points (default 1d)
        series:
          fed_treasuries: "100-1x30 70+1x5"
          cpi: {values: "100+0.5x30", every: 1m, start: 2018-01-01}
        expect:
          - {rule: qt_ends, state: firing, date: 2019-08-07}
        rules: [qt_ends]              # whose events must match exactly (default: rules in expect)

Notation (as promtool): `a` one value; `a+bxn` / `a-bxn` n+1 values a, a±b, ..., a±n·b;
`axn` n+1 copies of a; `_` one missing point; `_xn` n missing points.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd
from pydantic import Field, ValidationError

from rules.functions import period_offset
from rules.lifecycle import backtest
from rules.loader import Problem, RulesError, _pydantic_problems, parse_yaml
from rules.model import Identifier, Strict, parse_duration
from rules.ruleset import RuleSet

TOKEN = re.compile(
    r"^(?P<a>_|[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?:(?P<op>[-+])(?P<b>\d+(?:\.\d+)?))?(?:x(?P<n>\d+))?$"
)
MAX_POINTS = 100_000


def expand(notation: str) -> list[float | None]:
    """'1 2 3+1x2 _x2' -> [1, 2, 3, 4, 5, None, None]; ValueError on bad tokens."""
    values: list[float | None] = []
    for token in notation.split():
        match = TOKEN.match(token)
        if not match:
            raise ValueError(f"bad token {token!r} (use a, a+bxn, a-bxn, axn, _ or _xn)")
        a, op, b, n = match.group("a", "op", "b", "n")
        count = int(n) if n is not None else None
        if a == "_":
            if op:
                raise ValueError(f"bad token {token!r}: '_' takes no step")
            values.extend([None] * (count if count is not None else 1))
        else:
            step = (float(b) if op == "+" else -float(b)) if op else 0.0
            reps = count + 1 if count is not None else 1
            if op and count is None:
                raise ValueError(f"bad token {token!r}: a step needs a count, e.g. 1+2x3")
            values.extend(float(a) + step * i for i in range(reps))
        if len(values) > MAX_POINTS:
            raise ValueError(f"more than {MAX_POINTS} points")
    return values


class SeriesInput(Strict):
    """One input series of a test."""

    values: str
    every: str | None = None
    start: date | None = None


class ExpectedEvent(Strict):
    """One expected transition."""

    rule: Identifier
    state: str = Field(pattern="^(firing|resolved)$")
    date: date


class UnitTest(Strict):
    """One test case."""

    name: str
    start: date = date(2000, 1, 3)
    every: str = "1d"
    series: dict[str, str | SeriesInput]
    expect: list[ExpectedEvent] = Field(default_factory=list)
    rules: list[Identifier] | None = None


class TestFile(Strict):
    """A whole test file."""

    rule_files: list[str] | None = None
    tests: list[UnitTest] = Field(min_length=1)


@dataclass(frozen=True)
class TestOutcome:
    """The result of one test case."""

    name: str
    passed: bool
    problems: list[str]


def build_series(spec: str | SeriesInput, test: UnitTest, name: str) -> pd.Series:
    """The test's compact notation as a float Series on its dates."""
    item = spec if isinstance(spec, SeriesInput) else SeriesInput(values=spec)
    values = expand(item.values)
    every = item.every or test.every
    parse_duration(every)
    start = pd.Timestamp(item.start or test.start)
    offset = period_offset(every)
    dates = [start + offset * i for i in range(len(values))]
    series = pd.Series(values, index=pd.DatetimeIndex(dates), dtype="float64", name=name)
    return series.dropna()


def run_case(test: UnitTest, ruleset: RuleSet) -> TestOutcome:
    """Run one test against a rule set."""
    problems: list[str] = []
    data: dict[str, pd.Series] = {}
    for name, spec in test.series.items():
        if name not in ruleset.series:
            problems.append(
                f'unknown series "{name}" (rules file has: {", ".join(ruleset.series)})'
            )
            continue
        try:
            data[name] = build_series(spec, test, name)
        except ValueError as err:
            problems.append(f"series {name}: {err}")
    checked = set(test.rules) if test.rules is not None else {e.rule for e in test.expect}
    known_rules = {r.id for r in ruleset.rules}
    problems += [f'unknown rule "{r}"' for r in sorted(checked - known_rules)]
    if problems:
        return TestOutcome(test.name, False, problems)
    events = backtest(ruleset, data, only=checked)
    got = {(e.rule_id, e.state, e.date) for e in events}
    want = {(e.rule, e.state, e.date) for e in test.expect}
    for rule, state, when in sorted(want - got):
        problems.append(f"missing: {rule} {state} on {when}")
    for rule, state, when in sorted(got - want):
        problems.append(f"unexpected: {rule} {state} on {when}")
    return TestOutcome(test.name, not problems, problems)


def run_test_file(
    text: str, filename: str, resolve: Callable[[str | None], RuleSet]
) -> list[TestOutcome]:
    """Run every test in a test file; `resolve(name)` loads a rules file (None: the default)."""
    data, pos = parse_yaml(text, filename)
    try:
        parsed = TestFile.model_validate(data)
    except ValidationError as err:
        raise RulesError(_pydantic_problems(err, pos, data)) from None
    names: list[str | None] = list(parsed.rule_files) if parsed.rule_files else [None]
    rulesets = [resolve(name) for name in names]
    outcomes = []
    for test in parsed.tests:
        for ruleset in rulesets:
            outcomes.append(run_case(test, ruleset))
    return outcomes


__all__ = ["Problem", "TestOutcome", "expand", "run_case", "run_test_file"]
