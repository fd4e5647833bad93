"""The rule engine (pure: pandas in, events out; no I/O, no clock, nothing from bot/ or sources/).

    ruleset = load_rules(text, "rules.yaml")      # RulesError lists every problem
    ruleset.inputs                                # [InputSeries(name, source, id)]: to fetch
    backtest(ruleset, data, since, until, known=, zone=)  # the one pass: every transition,
                                                  # each with the instant it was announced
    evaluate(ruleset, data, states, as_of, now=, known=)  # live: (new events, new states,
                                                  # skipped), over a bounded window
    classify_regime(ruleset, data, as_of)         # Regime(regime, as_of, checks, ...)
    regime_history(ruleset, data, dates)          # the same for many dates, one pass

`data` maps a series id (e.g. "WALCL", "bill_share") to a float Series on a DatetimeIndex of
observation dates, as `sources` and `bot.store.Store.frame` return them.
"""

from rules.explain import Event
from rules.lifecycle import RuleState, Skipped, backtest, evaluate, states_at
from rules.loader import Problem, RulesError
from rules.regime import UNDETERMINED, Check, Regime, classify_regime, regime_history
from rules.ruleset import InputSeries, Rule, RuleSet, load_rules
from rules.states import RuleStatus, Transition

__all__ = [
    "UNDETERMINED",
    "Check",
    "Event",
    "InputSeries",
    "Problem",
    "Regime",
    "Rule",
    "RuleSet",
    "RuleState",
    "RuleStatus",
    "RulesError",
    "Skipped",
    "Transition",
    "backtest",
    "classify_regime",
    "evaluate",
    "load_rules",
    "regime_history",
    "states_at",
]
