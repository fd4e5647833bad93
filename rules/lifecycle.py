"""The rule state machine and its two uses of one pass: `backtest` over all history (each
transition with the instant it was announced), and the live `evaluate`, which carries each
rule's state and reads only a bounded window of the data (`rules.window`), so it finds what
the pass finds without recomputing all history."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from rules.engine import Evaluator, Trace, read_by, shared_evaluator, to_date, trace_rule
from rules.explain import Event, make_event
from rules.functions import Unsettled
from rules.ruleset import Rule, RuleSet
from rules.states import RuleStatus, Transition
from rules.window import carried_points, rules_reach, window_data

# Release instants (UTC ns by observation date, per series id) of the data it is given.
KnownAt = Callable[[Mapping[str, pd.Series]], Mapping[str, pd.Series]]


@dataclass(frozen=True)
class RuleState:
    """Where one rule stands; JSON-serialisable through `to_json` / `from_json`.

    `last` is the newest clock date already processed (a known one), `seen` the newest one
    looked at (known or not), `count` the consecutive true observations while pending, `off`
    the consecutive clearing observations while firing, `skip` why the rule was skipped.
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
    seen: str | None = None
    skip: str | None = None

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
            for day in (state.baseline, state.seen):
                if day is not None:
                    date.fromisoformat(day)
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
    zone: str = "UTC",
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
            events.append(_event(rule, trace, i, kind, as_of, zone, began))
        if fired:
            since = trace.clock[i].date().isoformat()
    seen = trace.clock[stop - 1].date().isoformat() if stop > start else state.seen
    if last_known < 0:
        return events, replace(state, seen=seen)
    last = trace.clock[last_known].date().isoformat()
    value = _float(trace.value[last_known])
    return events, replace(
        state, status=status, count=count, off=off, last=last, since=since, value=value,
        seen=seen,
    )


def public_until(trace: Trace, now: pd.Timestamp | None) -> int:
    """How many clock points were public at `now` (all of them when `now` is None)."""
    if now is None or trace.announce is None:
        return len(trace.clock)
    instant = now.tz_convert("UTC") if now.tz is not None else now.tz_localize("UTC")
    return int(np.searchsorted(trace.announce, instant.as_unit("ns").value, side="right"))


def _event(
    rule: Rule, trace: Trace, i: int, kind: Transition, as_of: date | None, zone: str,
    since: date | None = None,
) -> Event:
    when = to_date(trace.clock[i])
    extras: dict[str, float | None] = {
        name: float(values[i]) for name, values in trace.extras.items()
    }
    observed = None
    if trace.observed is not None and trace.observed[i] >= 0:
        observed = to_date(pd.Timestamp(int(trace.observed[i])))
    announced = None
    if trace.announce is not None:
        announced = pd.Timestamp(int(trace.announce[i]), tz="UTC").to_pydatetime()
        as_of = as_of or announced.astimezone(ZoneInfo(zone)).date()
    return make_event(
        rule, kind, when, float(trace.value[i]), trace.threshold, extras, as_of or when, observed,
        since, announced,
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
    *,
    known: KnownAt | None = None,
    zone: str = "UTC",
) -> list[Event]:
    """Every transition of every rule over history (sorted by date), one pass per rule; each
    event carries the instant it was announced (`known` gives each observation's release
    instant; without it, a point is announced at the start of its day in `zone`)."""
    limit = pd.Timestamp(until) if until is not None else None
    if known is None and zone == "UTC":
        ev = shared_evaluator(ruleset, data, limit)
    else:
        ev = Evaluator(ruleset, data, limit, known=known(data) if known else None, zone=zone)
    events: list[Event] = []
    for rule in _selected(ruleset, only):
        trace = trace_rule(ev, rule)
        found, _ = scan(
            rule, trace, RuleState(rule.id, rule.definition_hash), 0, len(trace.clock),
            emit=True, zone=zone,
        )
        events.extend(e for e in found if since is None or e.date >= since)
    return sorted(events, key=lambda e: (e.date, e.rule_id, e.state))


def states_at(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: date, only: Iterable[str] | None = None
) -> tuple[dict[str, RuleState], list[Skipped], Evaluator, dict[str, Trace]]:
    """Every rule's state as of `as_of` (from all history), with the skipped ones and why."""
    stamp = pd.Timestamp(as_of)
    ev = shared_evaluator(ruleset, data, stamp)
    states, skipped, traces = {}, [], {}
    for rule in _selected(ruleset, only):
        trace = trace_rule(ev, rule)
        reason = _skip_reason(ev, rule, trace, stamp)
        traces[rule.id] = trace
        _, states[rule.id] = scan(
            rule, trace, RuleState(rule.id, rule.definition_hash), 0, len(trace.clock), emit=False
        )
        if reason:
            skipped.append(Skipped(rule.id, reason))
    return states, skipped, ev, traces


def _skip_reason(ev: Evaluator, rule: Rule, trace: Trace, stamp: pd.Timestamp) -> str | None:
    """Why the rule says nothing at `stamp` (its newest point is unknown), or None."""
    if len(trace.clock) and not np.isnan(trace.condition[-1]):
        return None
    return ev.stale_reason(rule.inputs, stamp) or "not enough history yet"


def _carried(rule: Rule, old: Mapping[str, Any] | None) -> RuleState | None:
    """The stored state if it belongs to this definition."""
    state = RuleState.from_json(old) if old is not None else None
    if state is None or state.definition_hash != rule.definition_hash:
        return None
    return state


Outcome = tuple[list[Event], dict[str, Any], list[Skipped]]  # one rule's events, state, skip


def evaluate(
    ruleset: RuleSet,
    data: Mapping[str, pd.Series],
    previous_states: Mapping[str, Mapping[str, Any]],
    as_of: date,
    *,
    now: pd.Timestamp | None = None,
    known: KnownAt | None = None,
    zone: str = "UTC",
    window: bool = True,
) -> tuple[list[Event], dict[str, dict[str, Any]], list[Skipped]]:
    """The live path: new transitions since each rule's last processed observation.

    `previous_states` maps rule id -> the JSON state returned last time. A rule seen for the
    first time, or whose definition changed, starts a state whose `baseline` is `as_of`:
    observations up to that date are replayed silently (history is never re-announced),
    later ones emit events. A rule whose inputs are missing or stale is skipped, its state
    kept. With `now`, points not yet public then (`known`) wait for a later evaluation.
    Rules with a carried state read only a window of the data (`window=False`: all of it)
    and are not computed at all when none of their inputs moved since they last looked.
    Returns (new events, new states as JSON, skipped rules with reasons).
    """
    carried = {rule.id: _carried(rule, previous_states.get(rule.id)) for rule in ruleset.rules}
    at = _At(as_of, now, known, zone, window)
    resumed = [r for r in ruleset.rules if window and (s := carried[r.id]) is not None and s.last]
    rest = [r for r in ruleset.rules if r not in resumed]
    found: dict[str, Outcome] = {}
    if resumed:
        found.update(_resumed(ruleset, data, previous_states, carried, at, resumed))
    if rest:  # no point processed yet: a rule's whole history is new to it
        found.update(_evaluate(ruleset, data, previous_states, carried, at, {}, rest))
    events = [e for rule in ruleset.rules for e in found[rule.id][0]]
    skipped = [s for rule in ruleset.rules for s in found[rule.id][2]]
    return events, {rule.id: found[rule.id][1] for rule in ruleset.rules}, skipped


def _resumed(
    ruleset: RuleSet, data: Mapping[str, pd.Series], previous_states: Mapping[str, Any],
    carried: Mapping[str, RuleState | None], at: _At, rules: list[Rule],
) -> dict[str, Outcome]:
    """Rules that carry a processed point, over the window their look-back needs."""
    since = min(pd.Timestamp(s.last) for r in rules if (s := carried[r.id]) and s.last)
    points = carried_points(ruleset, rules, since)
    if points is not None:
        view = window_data(ruleset, data, since, rules_reach(ruleset, rules))
        try:
            return _evaluate(ruleset, view, previous_states, carried, at, points, rules)
        except Unsettled:  # a settled value older than the window: read all history
            pass
    return _evaluate(ruleset, data, previous_states, carried, at, {}, rules)


@dataclass(frozen=True)
class _At:
    """When a live evaluation happens, and how."""

    as_of: date
    now: pd.Timestamp | None
    known: KnownAt | None
    zone: str
    window: bool


def _evaluate(
    ruleset: RuleSet, view: Mapping[str, pd.Series], previous_states: Mapping[str, Any],
    carried: Mapping[str, RuleState | None], at: _At, points: dict[str, tuple[int, int]],
    rules: list[Rule],
) -> dict[str, Outcome]:
    as_of, now, zone, window = at.as_of, at.now, at.zone, at.window
    stamp = pd.Timestamp(as_of)
    ev = Evaluator(ruleset, view, stamp, known=at.known(view) if at.known else None, zone=zone)
    ev.carried = points
    found: dict[str, Outcome] = {}
    for rule in rules:
        state = carried[rule.id]
        if window and state is not None and state.last and not _moved(ev, rule, state):
            # nothing new to look at
            found[rule.id] = ([], state.to_json(),
                              [Skipped(rule.id, state.skip)] if state.skip else [])
            continue
        old = previous_states.get(rule.id)
        trace = trace_rule(ev, rule)
        reason = _skip_reason(ev, rule, trace, stamp)
        if reason and state is None:
            fresh = RuleState(rule.id, rule.definition_hash, baseline=as_of.isoformat())
            kept = RuleState.from_json(old) if old is not None else None
            found[rule.id] = ([], replace(kept or fresh, skip=reason).to_json(),
                              [Skipped(rule.id, reason)])
            continue
        if state is None:  # a missing or unreadable state starts afresh from a silent baseline
            state = RuleState(rule.id, rule.definition_hash, baseline=as_of.isoformat())
        events, state = _advance(rule, trace, state, as_of, now, zone)
        found[rule.id] = (events, replace(state, skip=reason).to_json(),
                          [Skipped(rule.id, reason)] if reason else [])
    return found


def _moved(ev: Evaluator, rule: Rule, state: RuleState) -> bool:
    """Whether an input of the rule has a point (a value, or going stale) it has not seen."""
    if state.seen is None:
        return True
    seen = pd.Timestamp(state.seen)
    return any(len(ev.inputs[n].values) and ev.inputs[n].values.index[-1] > seen
               for n in read_by(rule))


def _advance(
    rule: Rule, trace: Trace, state: RuleState, as_of: date, now: pd.Timestamp | None, zone: str
) -> tuple[list[Event], RuleState]:
    """The state machine from the rule's last processed point to what is public at `now`:
    silently up to its baseline, with events after it."""
    start = 0
    if state.last is not None:
        start = int(trace.clock.searchsorted(pd.Timestamp(state.last), side="right"))
    stop = public_until(trace, now)
    quiet_end = start
    if state.baseline is not None:
        quiet_end = max(
            start, int(trace.clock.searchsorted(pd.Timestamp(state.baseline), side="right"))
        )
    quiet_end = min(quiet_end, max(stop, start))
    _, state = scan(rule, trace, state, start, quiet_end, emit=False, zone=zone)
    return scan(rule, trace, state, quiet_end, max(stop, quiet_end), emit=True, as_of=as_of,
                zone=zone)


def last_known(trace: Trace) -> int | None:
    """Position of the newest clock date with a known condition (None if none)."""
    known = np.flatnonzero(~np.isnan(trace.condition))
    return int(known[-1]) if known.size else None
