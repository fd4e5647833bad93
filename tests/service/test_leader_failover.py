"""Leader failover without the claim timeout (issue 22, item 6): two `cyclewatch run` processes
on one PostgreSQL, each on a host of its own (a UTS namespace with its own hostname, as two
containers are), share a fan-out to 300 webhook chats; the leader is killed with -9 while it
holds claims. Its pid means nothing on the other host, so only its lease can free them: the
survivor sends every one of them within 30 s (the lease is 4 s here), none is lost, and no
chat gets an alert more than twice. The series is plainly synthetic (TESTX)."""

from __future__ import annotations

import asyncio
import ctypes
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import Store
from bot.store.schema import outbox
from tests.fakes.webhook import FakeWebhook
from tests.service.conftest import BotProcess
from tests.service.seeding import TESTX_RULES, seed_subscribers
from tests.service.test_crash import write_series
from tests.service.test_scale_out import health

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
CHATS = [f"hook-{i}" for i in range(300)]
CLONE_NEWUTS = 0x04000000


def on_host(name: str) -> Callable[[], None]:
    """A preexec_fn: the child gets a hostname of its own (root may unshare the UTS space)."""
    def enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWUTS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUTS)")
        socket.sethostname(name)
    return enter


def can_unshare() -> bool:
    """Whether this machine lets us give a child its own hostname."""
    try:
        subprocess.run([sys.executable, "-c", ""], preexec_fn=on_host("probe"), check=True)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def claims_of(pg_url: str, host: str) -> set[str]:
    """The chats whose rows a process of `host` holds claimed now."""
    store = Store(pg_url, migrate=False)
    with store.engine.connect() as conn:
        found = set(conn.execute(sa.select(outbox.c.chat_id).where(
            outbox.c.status == "sending", outbox.c.claimed_by.like(f"{host}:%"))).scalars())
    store.close()
    return found


async def test_the_survivor_sends_a_killed_leaders_claims_within_30_s(
    pg_url: str, tmp_path: Path, bot_env: dict[str, str]
) -> None:
    if not can_unshare():
        pytest.skip("cannot give a child process a hostname of its own here")
    hook = await FakeWebhook(latency=0.05).start()  # ~20 sends a second per process
    data = tmp_path / "data"
    data.mkdir()
    write_series(data / "TESTX.csv", [1, 2, 3])
    rules = tmp_path / "rules.yaml"
    rules.write_text(TESTX_RULES)
    seed_subscribers(pg_url, "webhook", CHATS, TESTX_RULES)
    env = dict(bot_env, CYCLEWATCH_DB_URL=pg_url, CYCLEWATCH_RULES=str(rules),
               CYCLEWATCH_WEBHOOK_URL=hook.url, CYCLEWATCH_POLL_SECONDS="0.3",
               CYCLEWATCH_DELIVER_SECONDS="0.2", CYCLEWATCH_LEADER_CHECK_SECONDS="1",
               CYCLEWATCH_OUTBOX_LEASE_SECONDS="4",
               XDG_STATE_HOME=str(tmp_path / "state"))  # the journals, not the user's
    expected = {*CHATS, "webhook"}
    bots: dict[str, BotProcess] = {}
    try:
        for host in ("host-a", "host-b"):  # the first to start leads
            bot = BotProcess(env, ["--data", str(data)], cwd=tmp_path, preexec_fn=on_host(host))
            addr = await asyncio.to_thread(bot.http_addr, 90)
            bots[host] = bot
            assert health(addr).get("leader") is (host == "host-a")
        write_series(data / "TESTX.csv", [1, 2, 3, 20])  # the fan-out: one event, 301 sends
        held: set[str] = set()
        for _ in range(1200):  # mid-fan-out, at a moment the leader holds claims
            held = await asyncio.to_thread(claims_of, pg_url, "host-a")
            if held and len(hook.received) >= 40:
                break
            await asyncio.sleep(0.05)
        bots["host-a"].kill()  # kill -9: no clean stop, no unlock, no release
        killed_at = time.monotonic()
        held = await asyncio.to_thread(claims_of, pg_url, "host-a")  # claims at its death
        assert held and len({d["chat_id"] for d in hook.received}) < len(expected)
        taken_over = None
        for _ in range(1200):
            reached = {d["chat_id"] for d in hook.received}
            if taken_over is None and held <= reached:
                taken_over = time.monotonic() - killed_at
            if reached == expected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # more delivery rounds: no late repeats
        assert await asyncio.to_thread(bots["host-b"].stop) == 0
    finally:
        for bot in bots.values():
            bot.kill()
        await hook.close()
    counts = Counter(d["chat_id"] for d in hook.received)
    assert set(counts) == expected  # none lost
    assert taken_over is not None and taken_over < 30, taken_over
    assert max(counts.values()) <= 2, counts.most_common(3)
