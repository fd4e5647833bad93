"""Storage faults during delivery (issue 13, rows 8 and 9): a read-only spell is retried,
the pool is recycled (connections opened read-only do not linger), every alert goes out once;
a restart that reuses the pid takes back its own dead claims at once."""

from __future__ import annotations

import os
import random
import socket
import threading
from collections import Counter
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from bot.alerts.claims import OutboxRows, worker_id
from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.notifiers.base import Message, Sent
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import events, outbox
from rules import Event, RuleSet
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier

CHATS = 30


class ReadOnlySpell:
    """Makes the database read-only for new connections (root ignores file modes, so the
    fault is SQLite's own query_only switch, set as each connection opens)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.on = False
        sa.event.listen(store.engine, "connect", self._connect)

    def _connect(self, dbapi_conn: Any, _record: Any) -> None:
        if self.on:
            dbapi_conn.execute("PRAGMA query_only=1")

    def begin(self, seconds: float) -> None:
        self.on = True
        self.store.engine.dispose()  # every connection from now on opens read-only
        timer = threading.Timer(seconds, self.end)
        timer.daemon = True
        timer.start()

    def end(self) -> None:
        self.on = False  # the file is writable again; read-only connections may linger


class FaultAfter(RecordingNotifier):
    """Starts the read-only spell right after the fifth send."""

    spell: ReadOnlySpell | None = None

    async def send(self, chat_id: str, message: Message) -> Sent:
        sent = await super().send(chat_id, message)
        if len(self.sent) == 5 and self.spell is not None:
            self.spell.begin(1.0)
        return sent


async def test_a_read_only_spell_during_delivery_sends_everything_once(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet,
) -> None:
    store = Store(sqlite_url)
    try:
        await _deliver_through_a_spell(store, clock, ruleset)
    finally:
        store.close()


async def _deliver_through_a_spell(store: Store, clock: FakeClock, ruleset: RuleSet) -> None:
    subs = Subscriptions(store.engine)
    for n in range(CHATS):
        subs.ensure_chat("telegram", f"c{n}", is_group=False, language_code="en", now=clock.now)
        subs.subscribe("telegram", f"c{n}", "all", clock.now)
    Pipeline(store).record([Event(rule=ruleset.rule("qt_ends"), state="firing",  # type: ignore[arg-type]
                                  date=date(2030, 1, 2), value=2.0, threshold=0.2)], clock.now)
    notifier = FaultAfter()
    notifier.spell = ReadOnlySpell(store)
    worker = DeliveryWorker(store, {"telegram": notifier}, clock=clock, rng=random.Random(1),
                            worker_id=worker_id())
    for _ in range(5):  # the service's deliver job runs again (with backoff) after a failure
        try:
            await worker.drain()
        except sa.exc.OperationalError:
            clock.now += timedelta(seconds=5)
            continue
        with store.engine.connect() as conn:
            pending = conn.execute(sa.select(sa.func.count()).where(
                outbox.c.status != "sent")).scalar()
        if pending == 0:
            break
    with store.engine.connect() as conn:
        statuses = Counter(conn.execute(sa.select(outbox.c.status)).scalars())
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS probe (x int)"))  # writable again
    assert statuses == {"sent": CHATS}
    per_chat = Counter(chat for chat, _message in notifier.sent)
    assert len(per_chat) == CHATS and max(per_chat.values()) == 1  # no duplicates at all


def _claimed_by(store: Store, owner: str, clock: FakeClock, day: int) -> None:
    with store.engine.begin() as conn:
        event_id = conn.execute(events.insert().values(
            rule_id="qt_ends", state="firing", obs_date=date(2030, 1, day), payload={},
            created_at=clock.now)).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(outbox.insert().values(
            event_id=event_id, platform="telegram", chat_id=owner, status="sending",
            attempts=1, next_attempt_at=clock.now, created_at=clock.now, claimed_by=owner,
            claimed_at=clock.now))


def test_a_restart_with_the_same_pid_reclaims_its_own_dead_claims_at_once(
    store: Store, clock: FakeClock,
) -> None:
    host, pid = socket.gethostname(), os.getpid()
    me = worker_id()
    assert me.startswith(f"{host}:{pid}:") and me != f"{host}:{pid}"
    _claimed_by(store, f"{host}:{pid}:0ld5tart", clock, 1)  # pid 1 again, an earlier start
    _claimed_by(store, f"{host}:{pid}", clock, 2)  # the old naming, from before this version
    _claimed_by(store, me, clock, 3)  # this very process: alive
    _claimed_by(store, "elsewhere:1:abcd", clock, 4)  # another host: not ours to judge
    assert OutboxRows(store.engine, me).release_dead(clock.now) == 2
    with store.engine.connect() as conn:
        still = set(conn.execute(sa.select(outbox.c.claimed_by).where(
            outbox.c.status == "sending")).scalars())
    assert still == {me, "elsewhere:1:abcd"}
