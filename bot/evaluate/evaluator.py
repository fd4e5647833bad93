"""The live evaluator: the running rules over the store's data; new transitions go to the
pipeline, and each rule's state is kept in `rule_states` so a restart resumes where it was.

One failing rule cannot silence the others: when the whole set raises, the rules are
evaluated one by one, the failing ones are skipped (their state kept) and reported."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from bot.evaluate.frames import Seen, earliest, frames_of, published_on
from bot.evaluate.reload import RulesHolder
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.schema import rule_states
from rules import Event, RuleSet, RuleStatus, Skipped, evaluate
from rules.lifecycle import KnownAt

log = logging.getLogger("cyclewatch.evaluate")
# An observation fetched before the calendar expected it was known when fetched; only recent
# ones can be (the longest publication lag is GDP's ~120 days).
RECENT_DAYS = 400
# Each observation's release instant (UTC ns by observation date) for the data it is given.
Released = Callable[[RuleSet, Mapping[str, pd.Series]], Mapping[str, pd.Series]]

@dataclass(frozen=True)
class EvaluationResult:
    """One evaluation: transitions found, how many were new to the pipeline, rules skipped."""

    events: tuple[Event, ...]
    recorded: int
    skipped: tuple[Skipped, ...]
    newly_skipped: tuple[str, ...] = ()  # "rule (reason)" for skips that began this run
    resumed: tuple[str, ...] = ()  # rules evaluated again after a skip
    failed: tuple[tuple[str, str], ...] = ()  # (rule, error) of rules that raised this run


def load_states(store: Store) -> dict[str, dict[str, Any]]:
    """Every rule's last JSON state, by rule id."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(rule_states.c.rule_id, rule_states.c.data)).all()
    return {row.rule_id: dict(row.data) for row in rows if row.data}


def save_states(store: Store, states: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
    """Keep the new states (one transaction: all of them or none)."""
    with store.engine.begin() as conn:
        for rule_id, data in states.items():
            values = {
                "state": str(data.get("status", RuleStatus.INACTIVE)),
                "since": _date(data.get("since")),
                "last_obs_date": _date(data.get("last")),
                "definition_hash": data.get("definition_hash"),
                "data": dict(data),
                "updated_at": now,
            }
            updated = conn.execute(
                rule_states.update().where(rule_states.c.rule_id == rule_id).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(rule_states.insert().values(rule_id=rule_id, **values))


def _date(text: object) -> date | None:
    return date.fromisoformat(str(text)[:10]) if text else None


@dataclass(frozen=True)
class Found:
    """What one pass of the rules over the store found, before anything is kept."""

    events: tuple[Event, ...]
    states: dict[str, dict[str, Any]]
    skipped: tuple[Skipped, ...]
    seconds: float
    failed: tuple[tuple[str, str], ...] = ()


class LiveEvaluator:
    """The current rule set over the store's data; blocking (call it in a worker thread).

    `find` evaluates and `keep` saves the new rule states; between the two the caller records
    the events, so a crash in between re-finds the same transitions next time and the
    pipeline's uniqueness drops the repeats.
    """

    def __init__(self, store: Store, holder: RulesHolder, *, metrics: Metrics,
                 timezone: str, released: Released | None = None) -> None:
        self.store = store
        self.holder = holder
        self.metrics = metrics
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.released = released
        self.frames = frames_of(store)
        self._skipped_seen: dict[str, str] = {}
        # Per series id: (stored series, rule set, its publisher's dates and first fetches)
        # and the release instants worked out from them.
        self._instants: dict[str, tuple[tuple[object, ...], pd.Series]] = {}

    def find(self, now: datetime) -> Found:
        """Evaluate every rule as of today (in the configured zone) from the stored states:
        each rule moves over the points public at `now`, reading only the window it needs."""
        ruleset = self.holder.current
        if ruleset is None:
            raise RuntimeError("no valid rules loaded")
        started = time.monotonic()
        data = self.frames.frame(series.id for series in ruleset.inputs)
        previous = load_states(self.store)
        today = now.astimezone(self.zone).date()
        at = Moment(today, pd.Timestamp(now), self.timezone, self._known(ruleset, today))
        try:
            events, states, skipped = at.evaluate(ruleset, data, previous)
            failed: list[tuple[str, str]] = []
        except Exception as err:
            log.warning("evaluating the rule set failed (%s: %s); evaluating rule by rule",
                        type(err).__name__, err)
            events, states, skipped, failed = _one_by_one(ruleset, data, previous, at)
        return Found(tuple(events), states, tuple(skipped), time.monotonic() - started,
                     tuple(failed))

    def _known(self, ruleset: RuleSet, today: date) -> KnownAt | None:
        """Release instants by the publisher's date, else the calendar; or the first fetch
        where it came sooner."""
        released = self.released
        if released is None:
            return None
        seen = self.frames.first_seen((i.id for i in ruleset.inputs),
                                      today - timedelta(days=RECENT_DAYS))

        def known(data: Mapping[str, pd.Series]) -> dict[str, pd.Series]:
            return {s: self._released_at(ruleset, released, s, data[s], seen) for s in data}

        return known

    def _released_at(self, ruleset: RuleSet, released: Released, series_id: str,
                     values: pd.Series, seen: Seen) -> pd.Series:
        """Release instants of all of a stored series' observations (a window's rows are
        among them), worked out again only when the store has new rows for it, the rules
        change, or the store's first fetches do."""
        stored = self.frames.kept(series_id)
        stored = values if stored is None else stored
        key = (stored, ruleset, seen.published.get(series_id), seen.fetched.get(series_id))
        hit = self._instants.get(series_id)
        if hit is None or any(a is not b for a, b in zip(hit[0], key, strict=True)):
            times = released(ruleset, {series_id: stored})[series_id]
            hit = (key, earliest(published_on(times, key[2]), key[3]))
            self._instants[series_id] = hit
        return hit[1]

    def keep(self, found: Found, recorded: int, now: datetime) -> EvaluationResult:
        """Save the new states (after the events are safe) and say what changed."""
        save_states(self.store, found.states, now)
        self.metrics.evaluation_seconds.observe(found.seconds)
        self.metrics.evaluations.labels("ok").inc()
        for event in found.events:
            self.metrics.events.labels(event.state).inc()
        began, resumed = self._log_skips(found.skipped)
        for rule_id, _error in found.failed:
            self.metrics.rule_failures.labels(rule_id).inc()
        self.metrics.set_rule_states(
            {rule: str(data.get("status", RuleStatus.INACTIVE))
             for rule, data in found.states.items()},
            [s.rule for s in found.skipped])
        return EvaluationResult(found.events, recorded, found.skipped, began, resumed,
                                found.failed)

    def _log_skips(self, skipped: Sequence[Skipped]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        # Skips are reported when they start and when they end, in one line each, not on
        # every run (a fresh install without network would otherwise list every rule).
        now_skipped = {s.rule: s.reason for s in skipped}
        started = [f"{rule} ({reason})" for rule, reason in now_skipped.items()
                   if self._skipped_seen.get(rule) != reason]
        ended = sorted(self._skipped_seen.keys() - now_skipped.keys())
        if started:
            log.warning("%d rule(s) skipped: %s", len(started), "; ".join(started))
        if ended:
            log.info("evaluated again: %s", ", ".join(ended))
        self._skipped_seen = now_skipped
        return tuple(started), tuple(ended)


@dataclass(frozen=True)
class Moment:
    """One live evaluation's time: the day (in the zone), the instant, and release times."""

    today: date
    now: pd.Timestamp
    zone: str
    known: KnownAt | None

    def evaluate(
        self, ruleset: RuleSet, data: Mapping[str, Any], previous: Mapping[str, dict[str, Any]]
    ) -> tuple[list[Event], dict[str, dict[str, Any]], list[Skipped]]:
        """`rules.evaluate` at this moment."""
        return evaluate(ruleset, data, previous, self.today, now=self.now, known=self.known,
                        zone=self.zone)


def _one_by_one(
    ruleset: RuleSet, data: Mapping[str, Any], previous: Mapping[str, dict[str, Any]],
    at: Moment,
) -> tuple[list[Event], dict[str, dict[str, Any]], list[Skipped], list[tuple[str, str]]]:
    """Each rule in a rule set of its own; a rule that raises keeps its old state."""
    events: list[Event] = []
    states: dict[str, dict[str, Any]] = {}
    skipped: list[Skipped] = []
    failed: list[tuple[str, str]] = []
    for rule in ruleset.rules:
        alone = ruleset.with_rules((rule,))
        try:
            found, new_states, new_skips = at.evaluate(alone, data, previous)
        except Exception as err:
            text = f"{type(err).__name__}: {err}"[:300]
            log.error("rule %s failed and is skipped: %s", rule.id, text)
            failed.append((rule.id, text))
            if rule.id in previous:
                states[rule.id] = dict(previous[rule.id])
            continue
        events.extend(found)
        states.update(new_states)
        skipped.extend(new_skips)
    return events, states, skipped, failed
