"""The /regime classification: each gauge and milestone checked as of a date, then the first
regime whose condition is known true once every earlier one is known false; `undetermined`
(with reasons, the last determined regime and a provisional reading) when an unknown gauge
could change the verdict. `regime_history` gives the same answers for many dates at once."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from rules.alerttext import input_titles
from rules.column import Val
from rules.engine import Evaluator, on_clock, shared_evaluator, to_date
from rules.explain import number
from rules.lifecycle import states_at
from rules.model import pick_language
from rules.regime_frame import UNDETERMINED, RegimeFrame, regime_frame
from rules.ruleset import RuleSet
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
    unit: str | None = None  # of `value` and `threshold`
    legs: tuple[tuple[str, bool | None], ...] = ()  # (title, on) of the metrics behind a gauge
    value_title: str = ""  # what `value` is, in the answer's language ("" : no single value)
    # Why `value` is unknown although the state is known (a firing rule whose input went
    # stale keeps firing): the engine's stale reason, else None.
    stale: str | None = None

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
            "unit": self.unit,
            "legs": [{"title": title, "on": on} for title, on in self.legs],
            "value_title": self.value_title,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class Regime:
    """The regime as of a date and the checklist behind it.

    When `regime` is "undetermined", `reasons` says which gauges are unknown and why,
    `last_regime` (with `last_since`..`last_until`) is the newest determined answer, and
    `provisional` the reading with each unknown gauge at its last known value.
    """

    regime: str
    as_of: date
    checks: list[Check] = field(default_factory=list)
    title: str = ""
    reasons: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()  # the input series ids whose news would decide it
    provisional: str | None = None
    provisional_title: str | None = None
    last_regime: str | None = None
    last_since: date | None = None
    last_until: date | None = None
    since: date | None = None  # when the current (determined) regime began
    # Inputs whose source has ended (`until:`) behind a leg that is unknown, each said once:
    # (series id, date of its last observation). Never awaited.
    no_longer_published: tuple[tuple[str, str], ...] = ()
    # Input name or series id -> (title in the answer's language, code to cite or None):
    # what a person reads instead of `waiting_for` ids and the ids in skip reasons.
    inputs: Mapping[str, tuple[str, str | None]] = field(default_factory=dict, compare=False)

    @property
    def determined(self) -> bool:
        """False when an unknown gauge could change the verdict."""
        return self.regime != UNDETERMINED

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: {regime, as_of, title, checks: [...], ...}."""
        out: dict[str, Any] = {
            "regime": self.regime,
            "as_of": self.as_of.isoformat(),
            "title": self.title,
            "determined": self.determined,
            "since": _iso(self.since),
            "checks": [c.to_dict() for c in self.checks],
            "no_longer_published": [{"id": sid, "last": last}
                                    for sid, last in self.no_longer_published],
        }
        if not self.determined:
            out["reasons"] = list(self.reasons)
            out["waiting_for"] = list(self.waiting_for)
            out["provisional"] = self.provisional
            out["provisional_title"] = self.provisional_title
            out["last_determined"] = (
                None
                if self.last_regime is None
                else {
                    "regime": self.last_regime,
                    "since": _iso(self.last_since),
                    "until": _iso(self.last_until),
                }
            )
        return out


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day(stamp: int) -> date | None:
    return to_date(pd.Timestamp(int(stamp))) if stamp >= 0 else None


def _none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _observed(
    ev: Evaluator, names: frozenset[str], at: pd.Timestamp
) -> tuple[str | None, tuple[str, ...]]:
    """The oldest of the inputs' newest observations known at `at`, and the sources."""
    dates = []
    for name in names:
        item = ev.inputs[name]
        pos = int(item.position(pd.DatetimeIndex([at]))[0])
        if pos >= 0:
            dates.append(item.observed[pos])
    sources = tuple(
        sorted(f"{ev.ruleset.series[n].source}:{ev.ruleset.series[n].id}" for n in names)
    )
    return (min(dates).date().isoformat() if dates else None), sources


def _title(ruleset: RuleSet, regime_id: str, lang: str) -> str:
    for choice in ruleset.file.regimes.choose if ruleset.file.regimes else []:
        if choice.id == regime_id and choice.title:
            return pick_language(choice.title, lang)
    return regime_id.replace("_", " ")


def ended_inputs(ruleset: RuleSet, at: pd.Timestamp) -> frozenset[str]:
    """The inputs whose source has ended (`until:`) before `at`: no longer published, never
    awaited."""
    day = to_date(at)
    return frozenset(n for n, spec in ruleset.series.items()
                     if spec.until is not None and day > spec.until)


def leg_inputs(ruleset: RuleSet, name: str) -> frozenset[str]:
    """The input series a metric (or series) reads, through every metric it uses."""
    found: set[str] = set()
    stack, seen = [name], set()
    while stack:
        item = stack.pop()
        if item in seen:
            continue
        seen.add(item)
        if item in ruleset.series:
            found.add(item)
            continue
        expr = ruleset.expression_of(item)
        if expr is not None:
            stack.extend(expr.names)
    return frozenset(found)


def _ended_reason(ev: Evaluator, name: str) -> str:
    item = ev.inputs[name]
    last = item.observed[-1].date().isoformat() if len(item.observed) else "—"
    return f"{item.series_id} no longer published (last {last})"


class _Reader:
    """Turns a RegimeFrame into Regime answers at given dates (values, reasons, titles)."""

    def __init__(self, ruleset: RuleSet, ev: Evaluator, frame: RegimeFrame, lang: str) -> None:
        self.ruleset, self.ev, self.frame, self.lang = ruleset, ev, frame, lang
        grid = frame.grid
        self.values: dict[str, np.ndarray] = {}
        for g in ruleset.gauges:
            if g.value is not None:
                found: Val = g.value.compute(ev)
            elif g.when.comparison is not None:
                found = g.when.comparison[0](ev)
            else:
                found = math.nan
            self.values[g.spec.id] = on_clock(found, grid)
        # Per gauge, the newest of its inputs' observations at each grid point (ns; -1 where
        # no input has any yet), and its sources.
        stamps = grid.as_unit("ns").asi8
        newest: dict[str, np.ndarray] = {}
        for name, item in ev.inputs.items():
            obs = item.observed.as_unit("ns").asi8
            pos = np.searchsorted(item.available.as_unit("ns").asi8, stamps, side="right") - 1
            if not len(obs):
                newest[name] = np.full(len(grid), -1, dtype="int64")
                continue
            newest[name] = np.where(pos >= 0, obs[np.clip(pos, 0, len(obs) - 1)], -1)
        self.observed: dict[str, np.ndarray] = {}
        self.sources: dict[str, tuple[str, ...]] = {}
        self.legs: dict[str, list[tuple[str, np.ndarray]]] = {}
        for g in ruleset.gauges:
            # The newest input behind the gauge: a series kept on purpose for decades (DFF,
            # "fresh: 100y") must not make a current policy rate look months old.
            arrays = [newest[n] for n in g.inputs]
            self.observed[g.spec.id] = (np.maximum.reduce(arrays) if arrays
                                        else np.full(len(grid), -1))
            self.sources[g.spec.id] = _observed(ev, g.inputs, pd.Timestamp(0))[1]
            self.legs[g.spec.id] = [(leg, on_clock(ev.column(leg), grid)) for leg in g.spec.legs]
        self.gauge_names = {
            k: expr.names & {g.spec.id for g in ruleset.gauges}
            for k, (_, expr) in enumerate(ruleset.choices)
        }
        # Every leg of every gauge (the bubble's verdict weighs the downturn's legs too), with
        # the inputs it reads: what names the inputs that actually decide an unknown gauge.
        self.all_legs: dict[str, np.ndarray] = {}
        self.leg_inputs: dict[str, frozenset[str]] = {}
        for legs in self.legs.values():
            for leg, values in legs:
                self.all_legs.setdefault(leg, values)
                self.leg_inputs.setdefault(leg, leg_inputs(ruleset, leg))

    def _unknown_legs(self, pos: int, gauge_inputs: frozenset[str] | None = None) -> list[str]:
        unknown = [leg for leg, values in self.all_legs.items()
                   if pos >= 0 and values[pos] != values[pos]]
        if gauge_inputs is None:
            return unknown
        own = {leg for g in self.ruleset.gauges if g.inputs == gauge_inputs
               for leg in g.spec.legs}
        mine = [leg for leg in unknown if leg in own]
        return mine or unknown

    def deciding(self, gauge_inputs: frozenset[str], pos: int, at: pd.Timestamp
                 ) -> tuple[list[str], list[str]]:
        """The inputs that keep a gauge unknown at `at`: the stale inputs of its unknown legs
        (an interchangeable input that is fresh leaves its leg known), ended sources left
        out. Returns (live inputs, ended inputs), both only those with a reason."""
        ended = ended_inputs(self.ruleset, at)
        # The gauge's own unknown legs first; another gauge's legs (the bubble weighs the
        # downturn's) only when all of its own are known.
        legs = self._unknown_legs(pos, gauge_inputs)
        live: set[str] = set()
        gone: set[str] = set()
        for leg in legs:
            names = self.leg_inputs[leg] & gauge_inputs
            stale = {n for n in names if self.ev.inputs[n].reason_at(at)}
            live |= stale - ended
            if not stale - ended:  # only an ended source leaves this leg unknown
                gone |= stale & ended
        if not legs:
            stale = {n for n in gauge_inputs if self.ev.inputs[n].reason_at(at)}
            live, gone = stale - ended, set()
        return sorted(live), sorted(gone)

    def reason_of(self, names: frozenset[str], at: pd.Timestamp) -> str | None:
        """The first reason an input among `names` says nothing at `at`, live sources first
        (an ended source is said as no longer published)."""
        ended = ended_inputs(self.ruleset, at)
        live = self.ev.stale_reason(frozenset(n for n in names if n not in ended), at)
        if live:
            return live
        gone = [n for n in sorted(names & ended) if self.ev.inputs[n].reason_at(at)]
        return _ended_reason(self.ev, gone[0]) if gone else None

    def gauge_checks(self, pos: int, at: pd.Timestamp) -> list[Check]:
        """The gauge lines of the checklist at grid point `pos` (as of `at`)."""
        checks = []
        for gauge in self.ruleset.gauges:
            gid = gauge.spec.id
            truth = self.frame.gauges[gid][pos] if pos >= 0 else math.nan
            value = self.values[gid][pos] if pos >= 0 else math.nan
            reason = None
            if truth != truth:
                live, gone = self.deciding(gauge.inputs, pos, at)
                found = [r for r in (self.ev.inputs[n].reason_at(at) for n in live) if r]
                found += [_ended_reason(self.ev, n) for n in gone if not live]
                reason = (found[0] if found else self.reason_of(gauge.inputs, at)
                          or "not enough history yet")
            day = _day(int(self.observed[gid][pos])) if pos >= 0 else None
            observed = day.isoformat() if day is not None else None
            sources = self.sources[gid]
            threshold = gauge.when.comparison[1] if gauge.when.comparison is not None else None
            value_title = pick_language(
                self.ruleset.file.metric_titles.get(gauge.spec.value or ""), self.lang)
            checks.append(
                Check(
                    gid,
                    "gauge",
                    None if reason else bool(truth),
                    _none(float(value)),
                    reason or pick_language(gauge.spec.detail, self.lang) or gauge.spec.when,
                    pick_language(gauge.spec.title, self.lang),
                    observed,
                    sources,
                    threshold,
                    gauge.spec.unit,
                    self._legs(gid, pos),
                    value_title,
                )
            )
        return checks

    def _legs(self, gid: str, pos: int) -> tuple[tuple[str, bool | None], ...]:
        """Each leg of the gauge at `pos`: its title and whether it holds (None: unknown)."""
        titles = self.ruleset.file.metric_titles
        out = []
        for name, values in self.legs[gid]:
            x = float(values[pos]) if pos >= 0 else math.nan
            title = pick_language(titles.get(name), self.lang) or name
            out.append((title, None if x != x else bool(x)))
        return tuple(out)

    def answer(self, pos: int, as_of: date, checks: list[Check]) -> Regime:
        """The Regime at grid point `pos` for the date `as_of`."""
        at = pd.Timestamp(as_of)
        f = self.frame
        names = input_titles(self.ruleset.file, self.lang)
        if pos < 0:
            title = _title(self.ruleset, UNDETERMINED, self.lang)
            nothing = ("no input has any data yet",)
            return Regime(UNDETERMINED, as_of, checks, title, reasons=nothing, inputs=names)
        regime = str(f.regime[pos])
        title = _title(self.ruleset, regime, self.lang)
        if regime != UNDETERMINED:
            return Regime(regime, as_of, checks, title, since=_day(f.last_since[pos]),
                          inputs=names, no_longer_published=self._gone(pos, at))
        reasons: list[str] = []
        waiting: list[str] = []
        gone_all: list[str] = []
        for gid in sorted(self.gauge_names.get(int(f.blocking[pos]), set())):
            if f.gauges[gid][pos] == f.gauges[gid][pos]:
                continue
            gauge = next(g for g in self.ruleset.gauges if g.spec.id == gid)
            live, gone = self.deciding(gauge.inputs, pos, at)
            why = [r for r in (self.ev.inputs[n].reason_at(at) for n in live) if r]
            reasons.append(f"{gid} unknown: " + ("; ".join(why) or "not enough history yet"))
            waiting += [self.ev.inputs[n].series_id for n in live]
            gone_all += gone
        ended = [_ended_reason(self.ev, n) for n in dict.fromkeys(gone_all)]
        reasons += ended
        if not reasons:
            choice = self.ruleset.choices[int(f.blocking[pos])][0]
            reasons.append(f"regime {choice} unknown")
        provisional = f.provisional[pos]
        last = f.last_regime[pos]
        return Regime(
            UNDETERMINED,
            as_of,
            checks,
            title,
            reasons=tuple(reasons),
            waiting_for=tuple(dict.fromkeys(waiting)),
            provisional=provisional,
            provisional_title=_title(self.ruleset, provisional, self.lang) if provisional else None,
            last_regime=last,
            last_since=_day(f.last_since[pos]) if last else None,
            last_until=_day(f.last_until[pos]) if last else None,
            inputs=names,
            no_longer_published=self._gone(pos, at),
        )

    def _gone(self, pos: int, at: pd.Timestamp) -> tuple[tuple[str, str], ...]:
        """Ended inputs behind a leg unknown at `pos`: (series id, last observation)."""
        ended = ended_inputs(self.ruleset, at)
        out = []
        for leg in self._unknown_legs(pos):
            stale = [n for n in sorted(self.leg_inputs[leg]) if self.ev.inputs[n].reason_at(at)]
            if any(n not in ended for n in stale):
                continue  # a live input is awaited for this leg; the ended one is no news
            for name in stale:
                item = self.ev.inputs[name]
                if len(item.observed):
                    out.append((item.series_id, item.observed[-1].date().isoformat()))
        return tuple(dict.fromkeys(out))


def _milestone_checks(ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: date,
                      lang: str) -> tuple[Evaluator, list[Check]]:
    states, skipped, ev, traces = states_at(ruleset, data, as_of)
    skip_reason = {s.rule: s.reason for s in skipped}
    checks = []
    at = pd.Timestamp(as_of)
    ended = ended_inputs(ruleset, at)
    ended_ids = {ruleset.series[n].id for n in ended}
    for rule in ruleset.rules:
        state, trace = states[rule.id], traces[rule.id]
        reason = skip_reason.get(rule.id)
        if reason and any(reason.startswith(f"{sid} ") for sid in ended_ids):
            # Name a live input that is awaited, not a source that has ended.
            reason = ev.stale_reason(rule.inputs - ended, at) or reason
        _, sources = _observed(ev, rule.inputs, pd.Timestamp(as_of))
        # The newest observation behind the rule's latest point (its `on:` series, else any
        # input), as its alerts date it -- not the oldest input (DFF, kept for decades).
        stamp = int(trace.observed[-1]) if trace.observed is not None and len(trace.clock) else -1
        day = _day(stamp)
        observed = day.isoformat() if day is not None else None
        value = float(trace.value[-1]) if len(trace.clock) else math.nan
        detail = reason or (
            f"firing since {state.since}" if state.status == RuleStatus.FIRING else state.status
        )
        firing = state.status == RuleStatus.FIRING
        if firing and reason is None and value == value and trace.threshold is not None:
            detail += f" (value {number(value)}, threshold {number(trace.threshold)})"
        has_value = rule.value is not None or rule.when.comparison is not None
        stale = None
        if reason is None and has_value and value != value:
            stale = ev.stale_reason(rule.inputs - ended, at) or ev.stale_reason(rule.inputs, at)
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
                rule.spec.unit,
                value_title=pick_language(rule.spec.value_title, lang) if has_value else "",
                stale=stale,
            )
        )
    return ev, checks


def classify_regime(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: date, lang: str = "en"
) -> Regime:
    """Classify the regime with what was known on `as_of`; every gauge and milestone listed."""
    at = pd.Timestamp(as_of)
    ev, milestones = _milestone_checks(ruleset, data, as_of, lang)
    frame = regime_frame(ruleset, ev)
    reader = _Reader(ruleset, ev, frame, lang)
    pos = int(frame.positions(pd.DatetimeIndex([at]))[0])
    return reader.answer(pos, as_of, [*reader.gauge_checks(pos, at), *milestones])


def regime_history(
    ruleset: RuleSet, data: Mapping[str, pd.Series], dates: Iterable[date], lang: str = "en"
) -> list[Regime]:
    """The regime at each date in one vectorized pass: the same answers `classify_regime`
    gives date by date, with the gauge checks (milestone states are left out)."""
    days = sorted(set(dates))
    if not days:
        return []
    stamps = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    ev = shared_evaluator(ruleset, data, stamps[-1])
    frame = regime_frame(ruleset, ev)
    reader = _Reader(ruleset, ev, frame, lang)
    positions = frame.positions(stamps)
    return [
        reader.answer(int(pos), day, reader.gauge_checks(int(pos), at))
        for pos, day, at in zip(positions, days, stamps, strict=True)
    ]


__all__ = ["UNDETERMINED", "Check", "Regime", "classify_regime", "on_clock", "regime_history"]
