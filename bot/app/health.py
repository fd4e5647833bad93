"""The /healthz report: per-source freshness, the last evaluation, and the outbox backlog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.app.vitals import public_body, service_problems
from bot.ingest.held import held_back
from bot.ingest.poller import PollHealth
from bot.store import SeriesStatus, Store
from bot.store.schema import outbox


@dataclass(frozen=True)
class HealthLimits:
    """When something counts as stale or stuck."""

    source_stale_after: timedelta = timedelta(hours=6)
    evaluation_stale_after: timedelta = timedelta(hours=6)
    outbox_stuck_after: timedelta = timedelta(minutes=15)
    startup_grace: timedelta = timedelta(minutes=5)


@dataclass
class ServiceState:
    """What the running service knows about itself (written by its jobs, read by /healthz)."""

    started_at: datetime
    leader: bool = True
    last_evaluation_at: datetime | None = None
    last_evaluation_error: str | None = None
    rules_loaded: int = 0
    evaluations: int = 0  # successful runs since start
    polls: dict[str, PollHealth] = field(default_factory=dict)
    failing_rules: dict[str, str] = field(default_factory=dict)  # rule id -> its error
    skipped_rules: dict[str, str] = field(default_factory=dict)  # rule id -> why, last run
    platforms_down: dict[str, str] = field(default_factory=dict)  # chat platform -> why
    # Held-back values by series (None: every live fetcher's, bot.ingest.held.held_back).
    held: Callable[[], dict[str, str]] | None = None

    @property
    def sources(self) -> list[str]:
        """The names of the sources this service polls."""
        return list(self.polls)


@dataclass(frozen=True)
class Health:
    """The report: `ok` decides the HTTP status; `body` is the JSON answer."""

    ok: bool
    body: dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def outbox_backlog(store: Store, now: datetime) -> tuple[int, datetime | None]:
    """How many deliveries are pending, and when the oldest of them became due."""
    query = sa.select(sa.func.count(), sa.func.min(outbox.c.next_attempt_at)).where(
        outbox.c.status == "pending"
    )
    with store.engine.connect() as conn:
        count, oldest = conn.execute(query).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return int(count), oldest


def _poll_report(
    poll: PollHealth, state: ServiceState, limits: HealthLimits, now: datetime
) -> tuple[bool, dict[str, Any]]:
    if poll.last_ok_at is None:
        # A fresh start has not polled yet; give the first polls time before calling it stale.
        fresh = now - state.started_at < limits.startup_grace
    else:
        fresh = now - poll.last_ok_at <= limits.source_stale_after
    return fresh, {
        "ok": fresh,
        "last_ok_at": _iso(poll.last_ok_at),
        "age_seconds": None if poll.last_ok_at is None
        else (now - poll.last_ok_at).total_seconds(),
        "consecutive_failures": poll.failures,
        "last_error": poll.last_error,
    }


def _series_report(rows: list[SeriesStatus]) -> dict[str, Any]:
    successes = [r.last_success_at for r in rows if r.last_success_at is not None]
    obs_dates = [r.last_obs_date for r in rows if r.last_obs_date is not None]
    return {
        "series": len(rows),
        "last_success_at": _iso(max(successes)) if successes else None,
        "newest_observation": max(obs_dates).isoformat() if obs_dates else None,
        "errors": sorted({f"{r.series}: {r.last_error}" for r in rows if r.last_error})[:5],
    }


def check_health(
    store: Store, state: ServiceState, limits: HealthLimits, now: datetime
) -> Health:
    """Build the report from the store and the service's own state at `now`.

    Sources are judged by the leader only (followers do not poll); the store's series are
    shown for every process, as information.
    """
    problems: list[str] = []
    sources: dict[str, Any] = {}
    for name, poll in sorted(state.polls.items()):
        fresh, report = _poll_report(poll, state, limits, now)
        sources[name] = report
        if state.leader and not fresh:
            problems.append(f"source {name} stale")
    by_store_source: dict[str, list[SeriesStatus]] = {}
    for row in store.status():
        by_store_source.setdefault(row.source, []).append(row)
    series = {name: _series_report(rows) for name, rows in sorted(by_store_source.items())}

    evaluation_ok = True
    if state.leader:
        reference = state.last_evaluation_at or state.started_at
        grace = limits.evaluation_stale_after if state.last_evaluation_at else limits.startup_grace
        evaluation_ok = now - reference <= grace and state.last_evaluation_error is None
        if not evaluation_ok:
            problems.append("evaluation stale or failing")
        problems.extend(f"rule {rule} failing: {error}"
                        for rule, error in sorted(state.failing_rules.items()))
    held = state.held() if state.held is not None else held_back()
    problems.extend(f"series {series} held back: {why}" for series, why in sorted(held.items()))

    problems.extend(service_problems(
        polls=state.polls, leader=state.leader, rules_loaded=state.rules_loaded,
        evaluations=state.evaluations, skipped_rules=state.skipped_rules,
        platforms_down=state.platforms_down))

    depth, oldest_due = outbox_backlog(store, now)
    stuck = oldest_due is not None and now - oldest_due > limits.outbox_stuck_after
    if stuck:
        problems.append("outbox stuck")
    starting = now - state.started_at < limits.startup_grace
    body = {
        # during the start-up grace a problem reads "starting": the failures so far
        "status": "ok" if not problems else "starting" if starting else "degraded",
        "problems": problems,
        "now": now.isoformat(),
        "leader": state.leader,
        "sources": sources,
        "series": series,
        "evaluation": {
            "ok": evaluation_ok,
            "last_at": _iso(state.last_evaluation_at),
            "error": state.last_evaluation_error,
            "rules": state.rules_loaded,
            "runs": state.evaluations,
            "failing_rules": dict(sorted(state.failing_rules.items())),
        },
        "held_back": dict(sorted(held.items())),
        "outbox": {"ok": not stuck, "depth": depth, "oldest_due_at": _iso(oldest_due)},
        "platforms": {name: {"ok": False, "problem": why}
                      for name, why in sorted(state.platforms_down.items())},
    }
    return Health(ok=not problems, body=public_body(body))
