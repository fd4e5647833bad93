"""Storage faults heal by themselves (issue 22, item 2): the SQLite database turns read-only
for 20 s (SQLite's own `query_only` on every connection opened meanwhile: the writes fail with
"attempt to write a readonly database", as with a read-only file) in the middle of a fan-out
to 300 chats. Time is a fake clock that the storage retries and the deliver job's backoff
advance, so the 20 s cost none; the attempts are bounded by count.

Without a restart every chat gets its alert exactly once; with a restart (the process dies
during the spell, a new one starts after it) at most once more, and in fact not at all: the
sends the dead process had not recorded are read from its journal."""

from __future__ import annotations

import os
import random
import socket
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.notifiers.base import Message, Sent
from bot.store import Store
from bot.store.chats import add_subscribers
from bot.store.faults import Retry
from bot.store.schema import outbox
from rules import Event, RuleSet
from tests.chat.conftest import FakeClock
from tests.chat.recording import RecordingNotifier

CHATS = 300
SPELL = timedelta(seconds=20)
JOB_BACKOFF = timedelta(seconds=5)  # the deliver job's first retry delay (CYCLEWATCH_RETRY_MIN)


class ReadOnlySpell:
    """From `begin` until SPELL later on the clock, every new connection is read-only; the
    pool is emptied at the start (connections opened during the spell linger after it, as
    they would: the first write on one fails and the pool starts over)."""

    def __init__(self, store: Store, clock: FakeClock) -> None:
        self.store, self.clock = store, clock
        self.until: datetime | None = None
        self.refused = 0
        sa.event.listen(store.engine, "connect", self._connect)
        sa.event.listen(store.engine, "handle_error", self._error)

    def _connect(self, dbapi_conn: Any, _record: Any) -> None:
        if self.until is not None and self.clock.now < self.until:
            dbapi_conn.execute("PRAGMA query_only=1")

    def _error(self, context: Any) -> None:
        if "readonly" in str(context.original_exception):
            self.refused += 1

    def begin(self) -> None:
        self.until = self.clock.now + SPELL
        self.store.engine.dispose()


class FaultAfter(RecordingNotifier):
    """Starts the spell right after the 100th send."""

    spell: ReadOnlySpell | None = None

    async def send(self, chat_id: str, message: Message) -> Sent:
        sent = await super().send(chat_id, message)
        if len(self.sent) == 100 and self.spell is not None:
            self.spell.begin()
        return sent


def _fan_out(store: Store, clock: FakeClock, ruleset: RuleSet) -> None:
    add_subscribers(store.engine, "telegram", [f"c{n}" for n in range(CHATS)], clock.now)
    Pipeline(store).record([Event(rule=ruleset.rule("qt_ends"), state="firing",  # type: ignore[arg-type]
                                  date=date(2030, 1, 2), value=2.0, threshold=0.2)], clock.now)


def _worker(store: Store, notifier: RecordingNotifier, clock: FakeClock,
            owner: str, retried: list[None] | None = None) -> DeliveryWorker:
    retry = Retry(sleep=lambda seconds: clock.advance(seconds=seconds),
                  on_fault=None if retried is None else lambda: retried.append(None))
    return DeliveryWorker(store, {"telegram": notifier}, clock=clock, rng=random.Random(1),
                          worker_id=owner, batch=40, retry=retry)


async def _deliver(worker: DeliveryWorker, clock: FakeClock, rounds: int = 40) -> int:
    """The service's deliver job: drain; after a failure wait the job's backoff and go again;
    how many rounds failed."""
    failed = 0
    for _ in range(rounds):
        try:
            await worker.drain()
        except sa.exc.OperationalError:
            failed += 1
            clock.now += JOB_BACKOFF
            continue
        return failed
    raise AssertionError("delivery did not resume")


def _statuses(store: Store) -> Counter[str]:
    with store.engine.connect() as conn:
        return Counter(conn.execute(sa.select(outbox.c.status)).scalars())


def _dead_owner() -> str:
    """This host, a pid no process can have (above the kernel's pid_max), an earlier start."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text()) if os.path.exists(
        "/proc/sys/kernel/pid_max") else 4_194_304
    return f"{socket.gethostname()}:{pid_max + 1}:0ld"


async def test_a_read_only_spell_heals_without_a_restart_and_sends_each_once(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet,
) -> None:
    store = Store(sqlite_url)
    _fan_out(store, clock, ruleset)
    notifier = FaultAfter()
    spell = notifier.spell = ReadOnlySpell(store, clock)
    started = clock.now
    retried: list[None] = []  # what the service counts in cyclewatch_storage_retries_total
    failed = await _deliver(_worker(store, notifier, clock, "w", retried), clock)
    assert spell.until is not None and clock.now >= spell.until  # it lasted its 20 s
    assert failed >= 1 and spell.refused >= 5  # really refused, retried, and given up on
    assert len(retried) >= 5
    assert clock.now - started < SPELL + 4 * JOB_BACKOFF  # resumed soon after, same process
    per_chat = Counter(chat for chat, _ in notifier.sent)
    assert len(per_chat) == CHATS and max(per_chat.values()) == 1
    assert _statuses(store) == {"sent": CHATS}
    store.close()


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "journal-lost"])
async def test_a_restart_after_a_spell_repeats_at_most_once_per_chat(
    sqlite_url: str, clock: FakeClock, ruleset: RuleSet, journal: bool,
) -> None:
    """The process dies during the spell with sends it could not record; a new one starts
    after it: it records them from the dead one's journal (when the journal is lost too, it
    sends them again, once)."""
    store = Store(sqlite_url)
    _fan_out(store, clock, ruleset)
    notifier = FaultAfter()
    spell = notifier.spell = ReadOnlySpell(store, clock)
    dead = _worker(store, notifier, clock, _dead_owner())
    for _ in range(3):  # it delivers into the spell, fails to record, then dies
        try:
            await dead.drain()
        except sa.exc.OperationalError:
            break
    assert spell.until is not None and dead.rows.unmarked  # sends it could not record
    if not journal:
        assert dead.rows.journal.path is not None
        dead.rows.journal.path.unlink()
    clock.now = spell.until + timedelta(seconds=1)
    survivor = _worker(store, notifier, clock, "restarted")
    await _deliver_after_restart(survivor, clock)
    per_chat = Counter(chat for chat, _ in notifier.sent)
    assert len(per_chat) == CHATS and max(per_chat.values()) <= 2
    repeats = sum(n - 1 for n in per_chat.values())
    assert repeats == (0 if journal else len(dead.rows.unmarked))
    assert _statuses(store) == {"sent": CHATS}
    store.close()


async def _deliver_after_restart(worker: DeliveryWorker, clock: FakeClock) -> None:
    worker.release_dead_claims()  # what the service does first at start
    await _deliver(worker, clock)
