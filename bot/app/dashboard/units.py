"""The unit of a rule's deciding value: the rule's own `unit:` where rules.yaml gives one, else
read off its value expression (a percent change is in %, a change of a rate in pp)."""

from __future__ import annotations

import re

from rules import Rule, RuleSet
from rules.units import UNITS, change_unit

_CALL = re.compile(r"^\s*(?P<fn>[a-z_]+)\(\s*(?P<arg>[a-z_0-9]+)")
_NAME = re.compile(r"^\s*(?P<name>[a-z_0-9]+)\s*$")
_PERCENT_FUNCTIONS = {"pct_change", "yoy", "pct_from_high"}
_CHANGE_FUNCTIONS = {"change", "diff"}


def _series_unit(ruleset: RuleSet, name: str) -> str | None:
    spec = ruleset.series.get(name)
    return spec.units if spec is not None else None


def unit_of(ruleset: RuleSet, rule: Rule) -> str | None:
    """The unit to show a rule's value in (None: a plain number)."""
    declared = getattr(rule.spec, "unit", None)  # rules.yaml's own word wins where it has one
    if isinstance(declared, str) and declared in UNITS:
        return declared
    text = rule.spec.value
    if text is None:
        text = re.split(r"\s*(?:[<>]=?|==)\s*", rule.spec.when, maxsplit=1)[0]
    if (call := _CALL.match(text)) is not None:
        fn, arg = call["fn"], call["arg"]
        if fn in _PERCENT_FUNCTIONS:
            return "%"
        if fn == "pctrank":
            return "percentile"
        if fn in _CHANGE_FUNCTIONS:
            return change_unit(_series_unit(ruleset, arg))
        return _series_unit(ruleset, arg)
    if (plain := _NAME.match(text)) is not None:
        return _series_unit(ruleset, plain["name"])
    return None
