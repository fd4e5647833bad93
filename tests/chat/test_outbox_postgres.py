"""Several delivery workers on one PostgreSQL: SKIP LOCKED claims, no duplicates."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import outbox
from rules import Event, RuleSet
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier, record_each

pytestmark = pytest.mark.postgres
ONE_DAY = timedelta(days=1)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """A migrated store on a fresh PostgreSQL database."""
    s = Store(pg_url)
    yield s
    s.close()


def _fill(store: Store, clock: FakeClock, ruleset: RuleSet, chats: int, days: int) -> int:
    subs = Subscriptions(store.engine)
    for i in range(chats):
        subs.ensure_chat("telegram", f"c{i}", is_group=False, language_code="en", now=clock.now)
        subs.subscribe("telegram", f"c{i}", "all", clock.now)
    found = [
        Event(rule=ruleset.rule(rule), state="firing", date=date(2030, 1, 1) + day * ONE_DAY)
        for day in range(days) for rule in ("qt_ends", "rate_cut")
    ]
    record_each(store, found, clock.now)
    return len(found) * chats


async def test_two_workers_deliver_each_row_once(
    pg_store: Store, pg_url: str, clock: FakeClock, ruleset: RuleSet
) -> None:
    total = _fill(pg_store, clock, ruleset, chats=5, days=30)
    notifier = RecordingNotifier(failure_rate=0.1, rng=random.Random(3))
    other = Store(pg_url)  # a second process's own engine and pool
    workers = [
        DeliveryWorker(s, {"telegram": notifier}, clock=clock, worker_id=name, batch=4,
                       rng=random.Random(i))
        for i, (name, s) in enumerate((("w1", pg_store), ("w2", other)))
    ]
    for _ in range(50):
        handled = await asyncio.gather(*(w.drain() for w in workers))
        if sum(handled) == 0:
            clock.advance(minutes=10)
            if sum(await asyncio.gather(*(w.drain() for w in workers))) == 0:
                break
    other.close()
    delivered = Counter((chat, m.tags["rule"], m.tags["date"]) for chat, m in notifier.sent)
    assert len(delivered) == total and set(delivered.values()) == {1}
    with pg_store.engine.connect() as conn:
        by_worker: dict[str, int] = dict(conn.execute(
            sa.select(outbox.c.claimed_by, sa.func.count()).group_by(outbox.c.claimed_by)).all())
    assert set(by_worker) == {"w1", "w2"} and sum(by_worker.values()) == total


async def test_claim_skips_rows_another_worker_has_locked(
    pg_store: Store, clock: FakeClock, ruleset: RuleSet
) -> None:
    _fill(pg_store, clock, ruleset, chats=1, days=5)  # 10 rows
    worker = DeliveryWorker(pg_store, {}, clock=clock, worker_id="w", batch=100)
    with pg_store.engine.connect() as holder:
        holder.execute(sa.text("SET lock_timeout = '5s'"))
        locked = set(holder.execute(
            sa.select(outbox.c.id).order_by(outbox.c.id).limit(3).with_for_update()).scalars())
        claimed = await asyncio.wait_for(asyncio.to_thread(worker.claim), timeout=10)
        holder.rollback()
    assert len(locked) == 3
    assert {job.id for job in claimed}.isdisjoint(locked) and len(claimed) == 7
