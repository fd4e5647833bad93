"""A trial run of a loaded rule set over history, within a time budget: what `check` and
every reload do after loading, so a file that passes does not fail at evaluation.

Each rule is computed over the whole history on its own (a failure names the rule), its
first and last events are rendered in both languages, then the live path and the regime
run once at the newest date. Without stored history a small synthetic one stands in.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from rules.explain import Event
from rules.lifecycle import backtest, evaluate
from rules.loader import Problem
from rules.regime import classify_regime
from rules.ruleset import RuleSet

TRIAL_BUDGET = 10.0  # seconds for the whole trial


def synthetic_history(ruleset: RuleSet, weeks: int = 520, seed: int = 13) -> dict[str, pd.Series]:
    """A plainly fake weekly history for every input: a positive random walk per series."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2014-01-01", periods=weeks, freq="7D")
    data: dict[str, pd.Series] = {}
    for item in ruleset.inputs:
        steps = rng.normal(0.0, 1.0, size=weeks)
        data[item.id] = pd.Series(100.0 + np.abs(steps.cumsum()), index=index, dtype="float64")
    return data


def _newest(data: Mapping[str, pd.Series]) -> date | None:
    stamps = [s.index.max() for s in data.values() if len(s)]
    newest = max(stamps, default=None)
    return None if newest is None else pd.Timestamp(newest).date()


def _run(ruleset: RuleSet, history: Mapping[str, pd.Series], only: str | None) -> None:
    events = backtest(ruleset, history, only=None if only is None else [only])
    firsts: dict[str, list[Event]] = {}
    for event in events:  # the first and the last event of each rule, in both languages
        firsts.setdefault(event.rule_id, []).append(event)
    for found in firsts.values():
        for event in {id(e): e for e in (found[0], found[-1])}.values():
            event.render("en")
            event.render("zh")


def trial(
    ruleset: RuleSet,
    data: Mapping[str, pd.Series] | None = None,
    budget: float = TRIAL_BUDGET,
) -> list[Problem]:
    """Every problem of evaluating `ruleset` over `data` (synthetic when None or empty): a
    rule that raises, or a run over the time budget."""
    history = dict(data) if data else synthetic_history(ruleset)
    deadline = time.monotonic() + budget
    problems: list[Problem] = []

    def note(what: str, err: BaseException) -> None:
        message = f"{what} fails on history: {type(err).__name__}: {str(err)[:200]}"
        problems.append(Problem(ruleset.filename, 1, 1, message))

    try:  # one pass for all rules; only when it fails, rule by rule to name the culprit
        _run(ruleset, history, None)
    except Exception:
        for rule in ruleset.rules:
            if time.monotonic() > deadline:
                problems.append(Problem(ruleset.filename, 1, 1,
                                        f"evaluation over history took over {budget:g} s "
                                        f'(stopped before rule "{rule.id}")'))
                return problems
            try:
                _run(ruleset, history, rule.id)
            except Exception as err:
                note(f'rule "{rule.id}":', err)
    newest = _newest(history)
    if problems or newest is None:
        return problems
    try:
        evaluate(ruleset, history, {}, newest)
        if ruleset.gauges:
            classify_regime(ruleset, history, newest)
    except Exception as err:
        note("the rules file", err)
    if time.monotonic() > deadline:
        problems.append(Problem(ruleset.filename, 1, 1,
                                f"evaluation over history took over {budget:g} s"))
    return problems


__all__ = ["TRIAL_BUDGET", "synthetic_history", "trial"]
