"""The /healthz report: per-source freshness, the last evaluation, and the outbox backlog."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

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
    sources: list[str] = field(default_factory=list)


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


def _source_report(
    name: str, rows: list[SeriesStatus], state: ServiceState, limits: HealthLimits, now: datetime
) -> tuple[bool, dict[str, Any]]:
    successes = [r.last_success_at for r in rows if r.last_success_at is not None]
    last_success = max(successes) if successes else None
    errors = sorted({r.last_error for r in rows if r.last_error})
    if last_success is None:
        # A fresh install has nothing yet; give the first poll time before calling it stale.
        fresh = now - state.started_at < limits.startup_grace
    else:
        fresh = now - last_success <= limits.source_stale_after
    obs_dates = [r.last_obs_date for r in rows if r.last_obs_date is not None]
    return fresh, {
        "ok": fresh,
        "series": len(rows),
        "last_success_at": _iso(last_success),
        "age_seconds": None if last_success is None else (now - last_success).total_seconds(),
        "newest_observation": max(obs_dates).isoformat() if obs_dates else None,
        "errors": errors[:5],
    }


def check_health(
    store: Store, state: ServiceState, limits: HealthLimits, now: datetime
) -> Health:
    """Build the report from the store and the service's own state at `now`."""
    by_source: dict[str, list[SeriesStatus]] = {name: [] for name in state.sources}
    for row in store.status():
        by_source.setdefault(row.source, []).append(row)
    sources: dict[str, Any] = {}
    problems: list[str] = []
    for name, rows in sorted(by_source.items()):
        fresh, report = _source_report(name, rows, state, limits, now)
        sources[name] = report
        if not fresh:
            problems.append(f"source {name} stale")

    evaluation_ok = True
    if state.leader:
        reference = state.last_evaluation_at or state.started_at
        grace = limits.evaluation_stale_after if state.last_evaluation_at else limits.startup_grace
        evaluation_ok = now - reference <= grace and state.last_evaluation_error is None
        if not evaluation_ok:
            problems.append("evaluation stale or failing")

    depth, oldest_due = outbox_backlog(store, now)
    stuck = oldest_due is not None and now - oldest_due > limits.outbox_stuck_after
    if stuck:
        problems.append("outbox stuck")
    body = {
        "status": "ok" if not problems else "degraded",
        "problems": problems,
        "now": now.isoformat(),
        "leader": state.leader,
        "sources": sources,
        "evaluation": {
            "ok": evaluation_ok,
            "last_at": _iso(state.last_evaluation_at),
            "error": state.last_evaluation_error,
            "rules": state.rules_loaded,
        },
        "outbox": {"ok": not stuck, "depth": depth, "oldest_due_at": _iso(oldest_due)},
    }
    return Health(ok=not problems, body=body)
