"""The rule state machine and the two evaluation paths: `backtest` over all history, and the
live `evaluate` that only emits transitions after the last observation already processed."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from rules.engine import Evaluator, Trace, to_date, trace_rule
from rules.explain import Event, make_event
from rules.ruleset import Rule, RuleSet
from rules.states import RuleStatus, Transition


@dataclass(frozen=True)
class RuleState:
    """Where one rule stands; JSON-serialisable through `to_json` / `from_json`.

    `last` is the newest clock date already processed (a known one), `count` the consecutive true
    observations while pending, `off` the consecutive clearing observations while firing.
    """

    rule: str
    definition_hash: str
    status: RuleStatus = RuleStatus.INACTIVE
    count: int = 0
    off: int = 0
    last: str | None = None
    since: str | None = None
    value: float | None = None
    baseline: str | None = None  # clock dates up to here are replayed without events

    def to_json(self) -> dict[str, Any]:
        """A plain dict of str/int/float/None."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleState | None:
        """Rebuild from `to_json` output (unknown keys ignored); None if it is not one."""
        if not isinstance(data, Mapping):
            return None
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            fields["status"] = RuleStatus(fields.get("status", RuleStatus.INACTIVE))
            state = cls(**fields)
            if state.last is not None:
                date.fromisoformat(state.last)
            if state.baseline is not None:
                date.fromisoformat(state.baseline)
        except (TypeError, ValueError):
            return None
        valid = (
            isinstance(state.count, int)
            and isinstance(state.off, int)
            and isinstance(state.definition_hash, str)
        )
        return state if valid else None


@dataclass(frozen=True)
class Skipped:
    """A rule not evaluated, and why ("no data for bill_share", "WALCL stale: ...")."""

    rule: str
    reason: str


def _float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def scan(
    rule: Rule,
    trace: Trace,
    state: RuleState,
    start: int,
    stop: int,
    *,
    emit: bool,
    as_of: date | None = None,
) -> tuple[list[Event], RuleState]:
    """Run the state machine over clock positions [start, stop); unknown points are skipped."""
    spec = rule.spec
    status, count, off, since = state.status, state.count, state.off, state.since
    events: list[Event] = []
    cond, clear = trace.condition, trace.clearing
    last_known = -1
    for i in range(start, stop):
        c = cond[i]
        if c != c:  # NaN: inputs missing or stale at this date, so the state holds
            continue
        last_known = i
        fired = resolved = False
        if status == RuleStatus.FIRING:
            cl = clear[i]
            if cl != cl:
                continue
            if cl != 0 and (c == 0 or rule.clear_when is not None):
                off += 1
                if off > spec.keep_firing_for:
                    status, count, off, resolved = RuleStatus.INACTIVE, 0, 0, True
            else:
                off = 0
        elif c != 0:
            count += 1
            status = RuleStatus.PENDING
            if count >= spec.for_:
                status, off, fired = RuleStatus.FIRING, 0, True
        else:
            status, count = RuleStatus.INACTIVE, 0
        if emit and (fired or (resolved and spec.announce_resolved)):
            kind = Transition.FIRING if fired else Transition.RESOLVED
            began = date.fromisoformat(since) if resolved and since else None
            events.append(_event(rule, trace, i, kind, as_of, began))
        if fired:
            since = trace.clock[i].date().isoformat()
    if last_known < 0:
        return events, state
    last = trace.clock[last_known].date().isoformat()
    value = _float(trace.value[last_known])
    return events, replace(
        state, status=status, count=count, off=off, last=last, since=since, value=value
    )


def _event(
    rule: Rule, trace: Trace, i: int, kind: Transition, as_of: date | None,
    since: date | None = None,
) -> Event:
    when = to_date(trace.clock[i])
    extras: dict[str, float | None] = {
        name: float(values[i]) for name, values in trace.extras.items()
    }
    observed = None
    if trace.observed is not None and trace.observed[i] >= 0:
        observed = to_date(pd.Timestamp(int(trace.observed[i])))
    return make_event(
        rule, kind, when, float(trace.value[i]), trace.threshold, extras, as_of or when, observed,
        since,
    )


def _selected(ruleset: RuleSet, only: Iterable[str] | None) -> list[Rule]:
    wanted = set(only) if only is not None else None
    return [r for r in ruleset.rules if wanted is None or r.id in wanted]


def backtest(
    ruleset: RuleSet,
    data: Mapping[str, pd.Series],
    since: date | None = None,
    until: date | None = None,
    only: Iterable[str] | None = None,
) -> list[Event]:
    """Every transition of every rule over history (sorted by date), one pass per rule."""
    limit = pd.Timestamp(until) if until is not None else None
    ev = Evaluator(ruleset, data, limit)
    events: list[Event] = []
    for rule in _selected(ruleset, only):
        trace = trace_rule(ev, rule)
        found, _ = scan(
            rule, trace, RuleState(rule.id, rule.definition_hash), 0, len(trace.clock), emit=True
        )
        events.extend(e for e in found if since is None or e.date >= since)
    return sorted(events, key=lambda e: (e.date, e.rule_id, e.state))


def states_at(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: date, only: Iterable[str] | None = None
) -> tuple[dict[str, RuleState], list[Skipped], Evaluator, dict[str, Trace]]:
    """Every rule's state as of `as_of` (from all history), with the skipped ones and why."""
    stamp = pd.Timestamp(as_of)
    ev = Evaluator(ruleset, data, stamp)
    states, skipped, traces = {}, [], {}
    for rule in _selected(ruleset, only):
        trace = trace_rule(ev, rule)
        reason = None
        if not len(trace.clock) or np.isnan(trace.condition[-1]):
            reason = ev.stale_reason(rule.inputs, stamp) or "not enough history yet"
        traces[rule.id] = trace
        _, states[rule.id] = scan(
            rule, trace, RuleState(rule.id, rule.definition_hash), 0, len(trace.clock), emit=False
        )
        if reason:
            skipped.append(Skipped(rule.id, reason))
    return states, skipped, ev, traces


def evaluate(
    ruleset: RuleSet,
    data: Mapping[str, pd.Series],
    previous_states: Mapping[str, Mapping[str, Any]],
    as_of: date,
) -> tuple[list[Event], dict[str, dict[str, Any]], list[Skipped]]:
    """The live path: new transitions since each rule's last processed observation.

    `previous_states` maps rule id -> the JSON state returned last time. A rule seen for the
    first time, or whose definition changed, starts a state whose `baseline` is `as_of`:
    observations up to that date are replayed silently (history is never re-announced),
    later ones emit events. A rule whose inputs are missing or stale is skipped, its state
    kept. Returns (new events, new states as JSON, skipped rules with reasons).
    """
    stamp = pd.Timestamp(as_of)
    ev = Evaluator(ruleset, data, stamp)
    events: list[Event] = []
    new_states: dict[str, dict[str, Any]] = {}
    skipped: list[Skipped] = []
    for rule in ruleset.rules:
        old = previous_states.get(rule.id)
        trace = trace_rule(ev, rule)
        if not len(trace.clock) or np.isnan(trace.condition[-1]):
            reason = ev.stale_reason(rule.inputs, stamp) or "not enough history yet"
            skipped.append(Skipped(rule.id, reason))
            fresh = RuleState(rule.id, rule.definition_hash, baseline=as_of.isoformat())
            kept = RuleState.from_json(old) if old is not None else None
            new_states[rule.id] = (kept or fresh).to_json()
            continue
        # A missing or unreadable state starts afresh from a silent baseline.
        state = RuleState.from_json(old) if old is not None else None
        if state is None or state.definition_hash != rule.definition_hash:
            state = RuleState(rule.id, rule.definition_hash, baseline=as_of.isoformat())
        start = 0
        if state.last is not None:
            start = int(trace.clock.searchsorted(pd.Timestamp(state.last), side="right"))
        quiet_end = start
        if state.baseline is not None:
            quiet_end = max(
                start, int(trace.clock.searchsorted(pd.Timestamp(state.baseline), side="right"))
            )
        _, state = scan(rule, trace, state, start, quiet_end, emit=False)
        found, state = scan(rule, trace, state, quiet_end, len(trace.clock), emit=True, as_of=as_of)
        events.extend(found)
        new_states[rule.id] = state.to_json()
    return events, new_states, skipped


def last_known(trace: Trace) -> int | None:
    """Position of the newest clock date with a known condition (None if none)."""
    known = np.flatnonzero(~np.isnan(trace.condition))
    return int(known[-1]) if known.size else None
