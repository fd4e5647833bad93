"""kill -9 during a replay of January 2026 to the fake Telegram: a chat with `/briefing
weekly` and `/tz Asia/Shanghai` gets each of the four briefings once, however often the
replay is killed (after a briefing was recorded sent) and started again on its store.

Bounded: three crashes, each after the next briefing is marked sent in the replay's store
(read here), then one run to the end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.chat.commands import handle
from bot.chat.ratelimit import TokenBucket
from bot.chat.registry import CommandContext
from bot.chat.types import Caller
from bot.store import Store
from tests.fakes.telegram import FakeTelegram

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]
CHAT = "4242"
CRASHES = 3
WEEKS = ("2026-01-07", "2026-01-14", "2026-01-21", "2026-01-28")


def _sent(db: Path) -> int:
    """Briefing rows the replay has marked sent (0 before its store exists)."""
    if not db.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "select count(*) from outbox join events on events.id = outbox.event_id "
                "where events.rule_id = 'briefing' and outbox.status = 'sent'")).scalar() or 0)
    except sa.exc.OperationalError:  # tables not created yet
        return 0
    finally:
        engine.dispose()


async def test_kill_9_during_a_replay_sends_no_briefing_twice(
    tmp_path: Path, history_dir: Path
) -> None:
    telegram = await FakeTelegram().start()
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    live = Store(live_url)
    ctx = CommandContext(live, lambda: datetime(2026, 1, 1, tzinfo=UTC), None,
                         limiter=TokenBucket(capacity=100))
    for line in ("/briefing weekly", "/tz Asia/Shanghai"):  # as the chat's user types them
        await handle(ctx, Caller("telegram", CHAT, CHAT), line)
    live.close()
    db = tmp_path / "replay.db"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CYCLEWATCH_", "TELEGRAM_", "SLACK_"))}
    env.update(CYCLEWATCH_DB_URL=live_url, CYCLEWATCH_RULES=str(REPO / "rules.yaml"),
               TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.base_url,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    args = [sys.executable, "-m", "bot", "replay", "--data", str(history_dir),
            "--from", "2026-01-04", "--until", "2026-01-31", "--to-chats",
            "--db", f"sqlite:///{db}", "--speed", "864000"]  # ten days a second
    at_kill: list[int] = []  # briefings marked sent when each crash happened
    try:
        for crash in range(CRASHES):
            proc = await asyncio.create_subprocess_exec(
                *args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            for _ in range(6000):  # up to 10 min for the next briefing to be marked sent
                if _sent(db) > crash or proc.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
            at_kill.append(_sent(db))
        done = await asyncio.to_thread(subprocess.run, args, env=env, cwd=tmp_path,
                                       capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    finally:
        await telegram.close()
    assert at_kill[-1] < len(WEEKS)  # the crashes came before the end of the month
    briefings = [t for t in telegram.texts(CHAT) if "Weekly briefing" in t]
    assert [w for w in WEEKS if any(f"the H.4.1 of {w}" in t for t in briefings)] == list(WEEKS)
    assert len(briefings) == len(WEEKS)  # none twice
    assert all("Asia/Shanghai" in t for t in briefings)
