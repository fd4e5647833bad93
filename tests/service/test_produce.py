"""The producing half in one function: a poll with news goes fetch → store → evaluate → record
events and outbox rows, once, however many polls arrive together. The series is synthetic."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from bot.alerts.pipeline import Pipeline, Recipient
from bot.app.health import ServiceState
from bot.app.produce import Producer
from bot.evaluate.evaluator import LiveEvaluator
from bot.evaluate.reload import RulesHolder
from bot.ingest.fetcher import Fetcher
from bot.ingest.poller import PollHealth, PollOnce, fetcher_poll
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.schema import events, outbox, rule_states
from sources.files import FileSource
from tests.service.seeding import TESTX_RULES

RULES = TESTX_RULES
FIRST = datetime(2026, 10, 16, 15, 0, tzinfo=UTC)  # the day after the third week
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def producer(
    tmp_path: Path, values: list[float]
) -> tuple[Producer, PollOnce, Store, list[str]]:
    data = tmp_path / "data"
    data.mkdir()
    write_series(data, values)
    (tmp_path / "rules.yaml").write_text(RULES)
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    holder = RulesHolder(tmp_path / "rules.yaml")
    holder.load()
    state = ServiceState(started_at=NOW, polls={"files": PollHealth()})
    woken: list[str] = []

    async def tell_admins(title: str, _body: str) -> None:
        woken.append(f"admins: {title}")

    made = Producer(
        holder=holder, evaluator=LiveEvaluator(store, holder, metrics=Metrics(), timezone="UTC"),
        pipeline=Pipeline(store, implicit=[Recipient("console", "console")]), state=state,
        metrics=Metrics(), tell_admins=tell_admins, wake_delivery=lambda: woken.append("deliver"),
        is_leader=lambda: True,
    )
    poll = fetcher_poll(Fetcher(store, FileSource(data), clock=lambda: NOW), lambda: ["TESTX"])
    return made, poll, store, woken


def write_series(data: Path, values: list[float]) -> None:
    dates = pd.date_range("2026-10-01", periods=len(values), freq="7D")
    rows = "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True))
    path = data / "TESTX.csv"
    path.write_text("observation_date,TESTX\n" + rows)
    stamp = time.time() + len(values)  # a newer file is a new release (FileSource reads mtime)
    os.utime(path, (stamp, stamp))


async def baseline_then_news(tmp_path: Path) -> tuple[Producer, PollOnce, Store, list[str]]:
    """A first poll sets the rule's baseline (history is not news); then a new week is."""
    made, poll, store, woken = producer(tmp_path, [1, 2, 3])
    await made.produce("files", poll, FIRST)
    assert count(store, events) == 0 and count(store, rule_states) == 1
    write_series(tmp_path / "data", [1, 2, 3, 20])
    return made, poll, store, woken


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


async def test_a_poll_with_news_ends_as_an_event_and_an_outbox_row(tmp_path: Path) -> None:
    made, poll, store, woken = await baseline_then_news(tmp_path)
    polled = await made.produce("files", poll, NOW)
    assert polled.ok and polled.new_rows == 1
    assert count(store, events) == 1 and count(store, outbox) == 1
    with store.engine.connect() as conn:  # the state moved on after the event was safe
        assert conn.execute(sa.select(rule_states.c.state)).scalar_one() == "firing"
    assert woken == ["deliver"]
    assert made.state.evaluations == 2 and made.state.last_evaluation_error is None
    store.close()


async def test_a_poll_and_timed_runs_arriving_together_record_once(tmp_path: Path) -> None:
    made, poll, store, woken = await baseline_then_news(tmp_path)
    await asyncio.gather(made.produce("files", poll, NOW), *(made.evaluate(NOW) for _ in range(5)))
    assert count(store, events) == 1 and count(store, outbox) == 1
    assert woken == ["deliver"]  # repeats of the same transition wake nobody
    assert made.state.evaluations == 7
    store.close()


async def test_no_news_no_evaluation_and_a_follower_never_evaluates(tmp_path: Path) -> None:
    made, poll, store, woken = await baseline_then_news(tmp_path)
    made.is_leader = lambda: False
    await made.produce("files", poll, NOW)
    assert count(store, events) == 0 and made.state.evaluations == 1
    made.is_leader = lambda: True
    again = await made.produce("files", poll, NOW)
    assert again.new_rows == 0  # nothing new in the file: no evaluation either
    assert count(store, events) == 0 and woken == [] and made.state.evaluations == 1
    store.close()
