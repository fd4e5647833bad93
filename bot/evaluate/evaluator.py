"""The live evaluator: the running rules over the store's data; new transitions go to the
pipeline, and each rule's state is kept in `rule_states` so a restart resumes where it was."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot.evaluate.reload import RulesHolder
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.schema import rule_states
from rules import Event, Skipped, evaluate

log = logging.getLogger("cyclewatch.evaluate")

# Hands new events to the pipeline (which must ignore ones it already has) at `now`;
# returns how many were new.
RecordEvents = Callable[[Sequence[Event], datetime], int]


@dataclass(frozen=True)
class EvaluationResult:
    """One evaluation: transitions found, how many were new to the pipeline, rules skipped."""

    events: tuple[Event, ...]
    recorded: int
    skipped: tuple[Skipped, ...]
    newly_skipped: tuple[str, ...] = ()  # "rule (reason)" for skips that began this run
    resumed: tuple[str, ...] = ()  # rules evaluated again after a skip


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
                "state": str(data.get("status", "inactive")),
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


class LiveEvaluator:
    """Runs the current rule set once; blocking (call it in a worker thread)."""

    def __init__(
        self,
        store: Store,
        holder: RulesHolder,
        record_events: RecordEvents,
        *,
        metrics: Metrics,
        timezone: str,
    ) -> None:
        self.store = store
        self.holder = holder
        self.record_events = record_events
        self.metrics = metrics
        self.zone = ZoneInfo(timezone)
        self._skipped_seen: dict[str, str] = {}

    def run(self, now: datetime) -> EvaluationResult:
        """Evaluate as of today (in the configured zone); events first, then states.

        Events are recorded before the states move on, so a crash in between re-finds the
        same transitions next time and the pipeline's uniqueness drops the repeats.
        """
        ruleset = self.holder.current
        if ruleset is None:
            raise RuntimeError("no valid rules loaded")
        started = time.monotonic()
        ids = sorted({series.id for series in ruleset.inputs})
        data = self.store.frame(ids)
        events, states, skipped = evaluate(
            ruleset, data, load_states(self.store), now.astimezone(self.zone).date()
        )
        recorded = self.record_events(events, now) if events else 0
        save_states(self.store, states, now)
        self.metrics.evaluation_seconds.observe(time.monotonic() - started)
        self.metrics.evaluations.labels("ok").inc()
        for event in events:
            self.metrics.events.labels(event.state).inc()
        began, resumed = self._log_skips(skipped)
        return EvaluationResult(tuple(events), recorded, tuple(skipped), began, resumed)

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
