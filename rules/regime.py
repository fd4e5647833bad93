"""The /regime classification: each gauge and milestone checked as of a date, then the first
regime whose condition holds (or the default)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from rules.engine import Evaluator, ev_truth, on_clock, to_date
from rules.explain import number
from rules.functions import Value
from rules.lifecycle import states_at
from rules.model import pick_language
from rules.ruleset import Gauge, RuleSet
from rules.states import RuleStatus


@dataclass(frozen=True)
class Check:
    """One line of the checklist: a gauge or a milestone, on/off/unknown, with its value."""

    id: str
    kind: str  # "gauge" or "milestone"
    on: bool | None  # None: skipped (inputs missing or stale)
    value: float | None
    detail: str
    title: str
    observed: str | None = None  # date of the newest input observation used
    sources: tuple[str, ...] = ()
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "on": self.on,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
            "title": self.title,
            "observed": self.observed,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class Regime:
    """The regime as of a date and the checklist behind it."""

    regime: str
    as_of: date
    checks: list[Check] = field(default_factory=list)
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: {regime, as_of, title, checks: [...]}."""
        return {
            "regime": self.regime,
            "as_of": self.as_of.isoformat(),
            "title": self.title,
            "checks": [c.to_dict() for c in self.checks],
        }


def _last(value: Value, at: pd.Timestamp) -> float:
    if not isinstance(value, pd.Series):
        return float(value)
    known = value[value.index <= at].dropna()
    return float(known.iloc[-1]) if not known.empty else math.nan


def _observed(ev: Evaluator, names: frozenset[str]) -> tuple[str | None, tuple[str, ...]]:
    dates = [ev.inputs[n].observed[-1] for n in names if len(ev.inputs[n].observed)]
    sources = tuple(
        sorted(f"{ev.ruleset.series[n].source}:{ev.ruleset.series[n].id}" for n in names)
    )
    return (min(dates).date().isoformat() if dates else None), sources


def _none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _gauge_check(ev: Evaluator, gauge: Gauge, at: pd.Timestamp, lang: str) -> Check:
    truth = _last(ev_truth(gauge.when.run(ev)), at)
    fresh = bool(ev.fresh_mask(gauge.inputs, pd.DatetimeIndex([at]))[0])
    reason = None if fresh and truth == truth else (ev.stale_reason(gauge.inputs, at) or "unknown")
    value = _last(gauge.value.run(ev), at) if gauge.value is not None else math.nan
    if value != value and gauge.when.comparison is not None:
        value = _last(gauge.when.comparison[0](ev), at)
    observed, sources = _observed(ev, gauge.inputs)
    on = None if reason or truth != truth else bool(truth)
    detail = reason or pick_language(gauge.spec.detail, lang) or gauge.spec.when
    threshold = gauge.when.comparison[1] if gauge.when.comparison is not None else None
    return Check(
        gauge.spec.id,
        "gauge",
        on,
        _none(value),
        detail,
        pick_language(gauge.spec.title, lang),
        observed,
        sources,
        threshold,
    )


class _Scalars:
    """Names as single values at one date, with gauges as 1/0/NaN (for `choose:`)."""

    def __init__(self, ev: Evaluator, gauges: Mapping[str, float], at: pd.Timestamp) -> None:
        self.ev, self.gauges, self.at = ev, gauges, at

    def lookup(self, name: str) -> Value:
        if name in self.gauges:
            return self.gauges[name]
        return _last(self.ev.lookup(name), self.at)


def classify_regime(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: date, lang: str = "en"
) -> Regime:
    """Classify the regime with what was known on `as_of`; every gauge and milestone listed."""
    at = pd.Timestamp(as_of)
    states, skipped, ev, traces = states_at(ruleset, data, as_of)
    checks = [_gauge_check(ev, g, at, lang) for g in ruleset.gauges]
    skip_reason = {s.rule: s.reason for s in skipped}
    for rule in ruleset.rules:
        state, trace = states[rule.id], traces[rule.id]
        reason = skip_reason.get(rule.id)
        observed, sources = _observed(ev, rule.inputs)
        known = np.flatnonzero(~np.isnan(trace.value)) if len(trace.clock) else np.array([])
        value = float(trace.value[known[-1]]) if known.size else math.nan
        detail = reason or (
            f"firing since {state.since}" if state.status == RuleStatus.FIRING else state.status
        )
        if (
            state.status == RuleStatus.FIRING
            and reason is None
            and value == value
            and trace.threshold is not None
        ):
            detail += f" (value {number(value)}, threshold {number(trace.threshold)})"
        checks.append(
            Check(
                rule.id,
                "milestone",
                None if reason else state.status == RuleStatus.FIRING,
                _none(value),
                detail,
                pick_language(rule.spec.title, lang),
                observed,
                sources,
                trace.threshold,
            )
        )
    gauge_values = {
        c.id: (math.nan if c.on is None else float(c.on)) for c in checks if c.kind == "gauge"
    }
    env = _Scalars(ev, gauge_values, at)
    chosen = ruleset.default_regime
    for regime_id, expr in ruleset.choices:
        if ev_truth(expr.run(env)) == 1.0:
            chosen = regime_id
            break
    title = next(
        (
            pick_language(c.title, lang)
            for c in (ruleset.file.regimes.choose if ruleset.file.regimes else [])
            if c.id == chosen and c.title
        ),
        chosen.replace("_", " "),
    )
    return Regime(chosen, as_of, checks, title)


__all__ = ["Check", "Regime", "classify_regime", "on_clock", "to_date"]
