"""Rules can never silence the bot at run time (issue 13, row 4 and row 7): one rule that
raises is skipped while the others alert, the admins hear of it and /healthz names it; the
rules file watcher survives any file and any error, and stops when asked."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from bot.alerts.pipeline import Pipeline, Recipient
from bot.app.health import HealthLimits, ServiceState, check_health
from bot.app.produce import Producer
from bot.evaluate.evaluator import LiveEvaluator
from bot.evaluate.reload import ReloadResult, RulesHolder, watch_rules
from bot.runtime.metrics import Metrics
from bot.store import Store
from rules import RuleSet
from rules.expr import compile_expression
from sources.base import Fetched

GOOD = """\
series:
  x: {source: fred, id: TESTX, fresh: 100y}
rules:
  - id: x_high
    title: Test series above its line
    when: "x > 10"
  - id: x_broken
    title: A rule that raises at evaluation
    when: "%s"
"""
START = datetime(2026, 11, 4, 15, tzinfo=UTC)


def with_a_bug(ruleset: RuleSet) -> RuleSet:
    """`ruleset` with x_broken reading a series the file does not define: a rule set the loader
    never produces, so evaluating it raises the way an engine bug would (every expression a
    valid file can hold evaluates without raising)."""
    broken = dataclasses.replace(ruleset.rule("x_broken"),
                                 when=compile_expression("ghost > 1", ["ghost"]))
    return ruleset.with_rules(tuple(broken if r.id == broken.id else r for r in ruleset.rules))


def _week(store: Store, day: str, value: float, at: datetime) -> None:
    store.record("fred", Fetched("TESTX", pd.Series([value], index=pd.DatetimeIndex([day]))), at)


async def test_one_failing_rule_is_skipped_and_named_while_the_others_alert(
    tmp_path: Path, sqlite_url: str,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD % "x < 0")
    holder = RulesHolder(rules)
    holder.current = with_a_bug(holder.load())
    store = Store(sqlite_url)
    state, told = ServiceState(started_at=START), []

    async def tell_admins(title: str, body: str) -> None:
        told.append(f"{title}: {body}")

    metrics = Metrics()
    producer = Producer(
        holder=holder, evaluator=LiveEvaluator(store, holder, metrics=metrics, timezone="UTC"),
        pipeline=Pipeline(store, implicit=[Recipient("console", "console")]), state=state,
        metrics=metrics, tell_admins=tell_admins, wake_delivery=lambda: None,
        is_leader=lambda: True,
    )
    try:
        _week(store, "2026-10-28", 1.0, START)
        _week(store, "2026-11-04", 2.0, START)
        assert await producer.evaluate(START)
        later = START + timedelta(days=7)
        _week(store, "2026-11-11", 20.0, later)
        assert await producer.evaluate(later)
        health = check_health(store, state, HealthLimits(), later)
    finally:
        store.close()
    assert state.last_evaluation_error is None and state.evaluations == 2
    assert list(state.failing_rules) == ["x_broken"]
    assert any("x_broken" in p for p in health.body["problems"]) and not health.ok
    assert sum("rule failed and is skipped" in t for t in told) == 1  # once, not every run
    with store.engine.connect() as conn:
        import sqlalchemy as sa

        from bot.store.schema import events
        fired = conn.execute(sa.select(events.c.rule_id, events.c.state)).all()
    assert ("x_high", "firing") in [tuple(r) for r in fired]


async def _until(condition: Callable[[], bool], seconds: float = 20) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the watcher has no event per outcome
            await asyncio.sleep(0.05)


async def test_the_rules_watcher_survives_any_file_and_any_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD % "x < 0")
    holder = RulesHolder(rules)
    holder.load()
    results: list[ReloadResult] = []

    async def announce(result: ReloadResult) -> None:
        results.append(result)
        if len(results) == 1:
            raise RuntimeError("the admins' notifier is down")

    stop = asyncio.Event()
    task = asyncio.create_task(watch_rules(holder, announce, stop, debounce_ms=50))
    await asyncio.sleep(0.3)
    cycle = "\n".join(f"  m{i}: \"m{(i + 1) % 2000} + 1\"" for i in range(2000))
    files = [
        b"\xff\xfe\x00garbage\x80\x81",
        (GOOD % ("x > " + "9" * 400)).encode(),
        ("series:\n  x: {source: fred, id: TESTX}\nmetrics:\n" + cycle
         + "\nrules:\n  - id: r\n    title: r\n    when: \"m0 > 1\"\n").encode(),
        (GOOD % "x > 5").encode(),
    ]
    for n, content in enumerate(files, start=1):
        rules.write_bytes(content)
        await _until(lambda n=n: len(results) >= n)  # type: ignore[misc]
    assert [r.ok for r in results] == [False, False, False, True]
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert holder.current is not None and "x_broken" in [r.id for r in holder.current.rules]
