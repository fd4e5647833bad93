"""Claims under contention (issue 22, item 3): several claimers, each with its own engine (as
processes have), claim at once; none fails with `database is locked`, none waits on another's
rows, and every row is claimed by exactly one. One claim is one statement and one commit."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import sqlalchemy as sa

from bot.alerts.claims import Job, OutboxRows
from bot.store import Store
from bot.store.schema import events, outbox
from tests.chat.conftest import FakeClock

ROWS = 240
CLAIMERS = 4


def _fill(store: Store, clock: FakeClock) -> None:
    """One plainly synthetic event (2030) to ROWS chats, one evaluation."""
    with store.engine.begin() as conn:
        event_id = conn.execute(events.insert().values(
            rule_id="qt_ends", state="firing", obs_date=date(2030, 1, 2), payload={"rule": "x"},
            created_at=clock.now)).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(outbox.insert(), [
            {"event_id": event_id, "platform": "telegram", "chat_id": f"c{n}",
             "status": "pending", "attempts": 0, "next_attempt_at": clock.now,
             "created_at": clock.now} for n in range(ROWS)])


def test_concurrent_claimers_each_take_their_own_rows(store: Store, clock: FakeClock) -> None:
    _fill(store, clock)
    claimed: dict[str, list[Job]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(CLAIMERS)

    def claimer(name: str) -> None:
        own = Store(store.url, migrate=False)  # its own engine and pool, as a process has
        rows = OutboxRows(own.engine, name)
        mine: list[Job] = []
        try:
            start.wait()
            while batch := rows.claim(clock.now, limit=7):
                mine.extend(batch)
        except BaseException as err:  # reported below, with the others
            errors.append(err)
        finally:
            claimed[name] = mine
            own.close()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    ids = [job.id for jobs in claimed.values() for job in jobs]
    assert len(ids) == ROWS and len(set(ids)) == ROWS  # every row once, no row twice
    with store.engine.connect() as conn:
        counted = conn.execute(sa.select(outbox.c.claimed_by, sa.func.count())
                               .group_by(outbox.c.claimed_by)).all()
    owners: dict[str, int] = dict(counted)
    assert owners == {name: len(jobs) for name, jobs in claimed.items() if jobs}


def test_a_claim_is_one_statement_and_one_commit(store: Store, clock: FakeClock) -> None:
    _fill(store, clock)
    rows = OutboxRows(store.engine, "w")
    rows.claim(clock.now, limit=10)  # the first claim takes the lease and reads the event
    statements: list[str] = []
    commits: list[None] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2].split()[0]))
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(None))
    jobs = rows.claim(clock.now, limit=50)
    assert len(jobs) == 50 and jobs[0].payload == {"rule": "x"}
    assert [s for s in statements if s.upper() != "BEGIN"] == ["WITH"] and len(commits) == 1


def test_a_claim_is_taken_over_once_its_owners_lease_lapses(
    store: Store, clock: FakeClock
) -> None:
    _fill(store, clock)
    lease = timedelta(seconds=20)
    dead = OutboxRows(store.engine, "elsewhere:1:dead", lease=lease)  # another host's process
    alive = OutboxRows(store.engine, "here:2:live", lease=lease)
    taken = {job.id for job in dead.claim(clock.now, limit=10)}
    clock.advance(seconds=15)
    alive.claim(clock.now, limit=ROWS)  # everything else; the dead one's lease still runs
    assert alive.claim(clock.now, limit=ROWS) == []
    clock.advance(seconds=6)  # 21 s after its last renewal: lapsed
    assert {job.id for job in alive.claim(clock.now, limit=ROWS)} == taken
    alive.keep_lease(clock.now)  # a live owner that renews keeps its claims however old
    clock.advance(minutes=4)
    alive.keep_lease(clock.now)
    assert dead.claim(clock.now, limit=ROWS) == []
