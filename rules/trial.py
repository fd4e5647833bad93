"""A trial run of a loaded rule set over history, within a work budget: what `check` and
every reload do after loading, so a file that passes does not fail at evaluation.

All rules are computed over the whole history in one pass (when it fails, rule by rule, so
a failure names the rule), each rule's first and last events are rendered in both
languages, then the live path and the regime run once at the newest date. Without stored
history a small synthetic one stands in.

The budget is CPU time of the evaluating thread (`time.thread_time`), never wall time: a
busy machine stretches the wall clock, not the work, so the same file over the same data
gets the same verdict idle or loaded. It is checked between steps; a step that never comes
back is cut by the caller's watchdog (bot/runtime/cpulimit.py).
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

TRIAL_CPU_SECONDS = 10.0  # CPU time of the evaluating thread for the whole trial


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


def over_budget(filename: str, budget: float) -> Problem:
    """The one problem of a trial over its CPU budget (the same wherever it stopped)."""
    return Problem(filename, 1, 1,
                   f"evaluation over history needs more than {budget:g} s of CPU time")


def trial(
    ruleset: RuleSet,
    data: Mapping[str, pd.Series] | None = None,
    budget: float = TRIAL_CPU_SECONDS,
) -> list[Problem]:
    """Every problem of evaluating `ruleset` over `data` (synthetic when None or empty): a
    rule that raises, or a run over `budget` seconds of this thread's CPU time."""
    history = dict(data) if data else synthetic_history(ruleset)
    started = time.thread_time()
    problems: list[Problem] = []

    def spent() -> bool:
        return time.thread_time() - started > budget

    def note(what: str, err: BaseException) -> None:
        message = f"{what} fails on history: {type(err).__name__}: {str(err)[:200]}"
        problems.append(Problem(ruleset.filename, 1, 1, message))

    try:  # one pass for all rules; only when it fails, rule by rule to name the culprit
        _run(ruleset, history, None)
    except Exception:
        for rule in ruleset.rules:
            if spent():  # only this problem: what was found before depends on where it stopped
                return [over_budget(ruleset.filename, budget)]
            try:
                _run(ruleset, history, rule.id)
            except Exception as err:
                note(f'rule "{rule.id}":', err)
    if spent():
        return [over_budget(ruleset.filename, budget)]
    newest = _newest(history)
    if problems or newest is None:
        return problems
    try:
        evaluate(ruleset, history, {}, newest)
        if ruleset.gauges:
            classify_regime(ruleset, history, newest)
    except Exception as err:
        note("the rules file", err)
    return [over_budget(ruleset.filename, budget)] if spent() else problems


__all__ = ["TRIAL_CPU_SECONDS", "over_budget", "synthetic_history", "trial"]
