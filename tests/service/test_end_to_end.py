"""The whole service in-process over a data directory, with an injected clock: new data →
alert on the console; rules reloaded while running without re-firing history; a restart
sends what changed while it was down as one digest, and nothing twice.

The series is plainly synthetic (TESTX), not history.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from bot.app.service import Service
from bot.config import load_settings
from bot.runtime.scheduler import Timing
from bot.store import Store
from bot.store.schema import events, outbox

RULES = """\
series:
  x: {source: fred, id: TESTX, fresh: 100y}
rules:
  - id: x_high
    title: Test series above its line
    when: "x > LINE"
"""
TITLE = "Test series above its line"
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


class Clock:
    """The service's clock: starts at START, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def write(path: Path, text: str) -> None:
    path.write_text(text)


def write_rules(path: Path, line: int) -> None:
    write(path, RULES.replace("LINE", str(line)))


def write_series(path: Path, values: list[float]) -> None:
    """Weekly synthetic observations from 2026-11-04; the file's mtime marks a new release."""
    dates = pd.date_range(start="2026-11-04", periods=len(values), freq="7D")
    rows = "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True))
    path.write_text("observation_date,TESTX\n" + rows)
    stamp = time.time() + len(values)  # strictly newer than any earlier write
    os.utime(path, (stamp, stamp))


async def until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path, str]:
    data = tmp_path / "data"
    data.mkdir()
    rules = tmp_path / "rules.yaml"
    write_rules(rules, 10)
    write_series(data / "TESTX.csv", [1, 2, 3])
    return data, rules, f"sqlite:///{tmp_path / 'bot.db'}"


@asynccontextmanager
async def running(paths: tuple[Path, Path, str], clock: Clock) -> AsyncIterator[Service]:
    data, rules, db_url = paths
    settings = load_settings(CYCLEWATCH_DB_URL=db_url, CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
                             CYCLEWATCH_ADMINS="console:admin")
    timing = Timing.model_validate({"CYCLEWATCH_POLL_SECONDS": 0.3,
                                    "CYCLEWATCH_DELIVER_SECONDS": 0.2})
    service = Service(settings, timing, data_dir=data, rules_path=rules, clock=clock)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.started.wait(), timeout=30)
    try:
        yield service
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, timeout=30) == 0


def evaluated(service: Service) -> Callable[[], bool]:
    before = service.state.evaluations
    return lambda: service.state.evaluations > before


def delivered(db_url: str) -> list[tuple[str, str, str]]:
    store = Store(db_url, migrate=False)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(events.c.state, events.c.obs_date, outbox.c.status)
                .join(outbox, outbox.c.event_id == events.c.id).order_by(outbox.c.id)
            ).all()
    finally:
        store.close()
    return [(r.state, r.obs_date.isoformat(), r.status) for r in rows]


async def test_alerts_reload_and_catch_up_after_restart(
    paths: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    data, rules, db_url = paths
    clock = Clock()
    async with running(paths, clock) as service:
        await until(lambda: service.state.last_evaluation_at is not None, "an evaluation")
        assert TITLE not in capsys.readouterr().out  # history is not announced

        clock.now = START + timedelta(days=7)
        write_series(data / "TESTX.csv", [1, 2, 3, 20])  # 2026-11-25 crosses the line
        await until(lambda: TITLE in capsys.readouterr().out, "the alert on the console")
        # printed first, then recorded as sent: wait for the record, not the print
        await until(lambda: delivered(db_url) == [("firing", "2026-11-25", "sent")], "the record")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for m in service.metrics.registry.collect() for s in m.samples}
        assert samples[("cyclewatch_events_total", (("state", "firing"),))] == 1
        sent = (("outcome", "sent"), ("platform", "console"))
        assert samples[("cyclewatch_deliveries_total", sent)] == 1
        assert samples[("cyclewatch_evaluations_total", (("outcome", "ok"),))] >= 2

        # A changed definition is caught up silently: nothing about 20 vs the new line.
        reevaluated = evaluated(service)
        write_rules(rules, 30)
        await until(lambda: "rules reloaded (changed: x_high)" in caplog.text, "the reload")
        await until(reevaluated, "an evaluation with the new rules")
        # A broken file keeps the running rules and names the place of the problem.
        write(rules, RULES.replace("x > LINE", "y > 30"))
        await until(lambda: 'unknown series "y"' in caplog.text, "the rejected reload")
        assert f"{rules}:6:" in caplog.text
        told = capsys.readouterr().out  # the admin (on the console here) is told where
        assert "running rules stay in place" in told and f"{rules.name}:6:" in told

        clock.now = START + timedelta(days=14)
        write_series(data / "TESTX.csv", [1, 2, 3, 20, 40])  # above 30: fires anew
        await until(lambda: len(delivered(db_url)) == 2, "the second alert")
        await until(lambda: all(s == "sent" for *_, s in delivered(db_url)), "its delivery")

    # Down for two weeks: the series fell back, then rose again. The restart sends both
    # changes as one digest, and nothing that was already sent.
    write_rules(rules, 30)
    write_series(data / "TESTX.csv", [1, 2, 3, 20, 40, 5, 50])
    clock.now = START + timedelta(days=28)
    capsys.readouterr()
    async with running(paths, clock):
        await until(lambda: len(delivered(db_url)) == 4, "the catch-up events")
        await until(lambda: all(s == "sent" for *_, s in delivered(db_url)), "their delivery")
        await asyncio.sleep(1.0)  # more delivery rounds: nothing else may come
    assert delivered(db_url) == [
        ("firing", "2026-11-25", "sent"), ("firing", "2026-12-02", "sent"),
        ("resolved", "2026-12-09", "sent"), ("firing", "2026-12-16", "sent"),
    ]
    out = capsys.readouterr().out
    assert out.count("2 changes while cyclewatch was not running") == 1
    assert out.count(TITLE) == 2  # both alerts, inside the one digest


async def test_stale_input_pauses_the_rule_tells_the_admins_and_resumes(
    paths: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    data, rules, _db_url = paths
    write(rules, RULES.replace("fresh: 100y", "fresh: 14d").replace("LINE", "10"))
    clock = Clock()
    clock.now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the newest week is 2 days old
    async with running(paths, clock) as service:
        await until(lambda: service.state.evaluations > 0, "an evaluation")
        assert "paused" not in capsys.readouterr().out
        clock.now = datetime(2026, 12, 20, 15, 0, tzinfo=UTC)  # a month without data
        await until(lambda: "rules paused on stale data" in capsys.readouterr().out,
                    "the staleness notice to the admin")
        write_series(data / "TESTX.csv", [1, 2, 3, 4, 5, 6, 7])  # through 2026-12-16
        await until(lambda: "rules evaluated again" in capsys.readouterr().out,
                    "the notice that the rule is back")
        assert TITLE not in capsys.readouterr().out  # no false alert on the way


async def test_the_dashboard_is_computed_after_an_evaluation_before_anyone_asks(
    paths: tuple[Path, Path, str],
) -> None:
    async with running(paths, Clock()) as service:
        await until(lambda: service.state.evaluations > 0, "an evaluation")
        model_of = service._dashboard_model
        assert model_of is not None
        model = model_of()
        assert model is not None
        await until(model.warmed, "the dashboard precomputed", seconds=30)
