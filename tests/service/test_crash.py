"""kill -9 at random moments during a fan-out of 1,000 alerts, then restart: none lost, at
most one repeat per crash. Bounded: a fixed number of crashes, each within seconds. The
series is plainly synthetic (TESTX).

Deterministic by construction: the receiver answers each send after SEND_LATENCY, so a round
(at most MAX_STEP sends awaited, plus what lands while the kill is on its way) delivers far
fewer than len(CHATS) / CRASHES messages, and the fan-out cannot finish before the last crash.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.fakes.webhook import FakeWebhook
from tests.service.conftest import BotProcess
from tests.service.seeding import TESTX_RULES, seed_subscribers

# 20 starts of a bot process: minutes on a busy machine; the timeout only catches a hang.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
StartBot = Callable[..., BotProcess]
CHATS = [f"hook-{i}" for i in range(1000)]
CRASHES = int(os.environ.get("CYCLEWATCH_CRASHES") or 20)  # `make crash` runs 50
SEND_LATENCY = 0.02  # s per webhook reply: ≤ ~10 extra sends in the ≤ 0.2 s a kill takes
# sends awaited per round before the kill: CRASHES × (MAX_STEP + 10) < 1,001 (20: 30, 50: 9)
MAX_STEP = min(30, (len(CHATS) + 1) // CRASHES - 11)
RULES = TESTX_RULES


def write_series(path: Path, values: list[float]) -> None:
    dates = pd.date_range(start="2026-10-01", periods=len(values), freq="7D")
    rows = "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True))
    path.write_text("observation_date,TESTX\n" + rows)
    stamp = time.time() + len(values)
    os.utime(path, (stamp, stamp))


async def test_kill_9_during_fan_out_loses_nothing(
    tmp_path: Path, bot_env: dict[str, str], start_bot: StartBot
) -> None:
    hook = await FakeWebhook(latency=SEND_LATENCY).start()
    data = tmp_path / "data"
    data.mkdir()
    write_series(data / "TESTX.csv", [1, 2, 3, 20])  # the fan-out: one event, 1,001 sends
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    seed_subscribers(bot_env["CYCLEWATCH_DB_URL"], "webhook", CHATS, RULES)
    env = dict(bot_env, CYCLEWATCH_RULES=str(rules), CYCLEWATCH_WEBHOOK_URL=hook.url,
               CYCLEWATCH_POLL_SECONDS="0.3", CYCLEWATCH_DELIVER_SECONDS="0.2")
    expected = {*CHATS, "webhook"}
    rng = random.Random(20261123)
    crashes = 0
    at_kill: list[int] = []  # distinct recipients reached when each crash happened
    per_round: list[int] = []  # sends that landed between a start and its kill
    try:
        while crashes < CRASHES and {d["chat_id"] for d in hook.received} != expected:
            bot = start_bot(env, "--data", str(data))
            before = len(hook.received)
            target = before + rng.randint(1, MAX_STEP)
            for _ in range(3000):  # up to 60 s for this round's sends to begin
                if len(hook.received) >= target or bot.proc.poll() is not None:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0, 0.05))  # a random moment inside a send batch
            bot.kill()
            crashes += 1
            per_round.append(len(hook.received) - before)
            at_kill.append(len({d["chat_id"] for d in hook.received}))
        hook.latency = 0.0  # the crashes are over: the rest of the fan-out at full speed
        bot = start_bot(env, "--data", str(data))
        await asyncio.to_thread(bot.wait_for, "cyclewatch running", 60)
        for _ in range(900):
            if {d["chat_id"] for d in hook.received} == expected:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # more delivery rounds: no late repeats
        assert await asyncio.to_thread(bot.stop) == 0
    finally:
        await hook.close()
    counts = Counter(d["chat_id"] for d in hook.received)
    assert set(counts) == expected  # none lost
    repeats = sum(n - 1 for n in counts.values())
    assert crashes == CRASHES, f"the fan-out finished after {crashes} crashes: {at_kill}"
    assert max(per_round) < len(expected) // CRASHES, per_round  # the premise of determinism
    assert sum(0 < n < len(expected) for n in at_kill) >= CRASHES // 2, at_kill  # mid-fan-out
    assert repeats <= crashes, counts.most_common(3)  # at most the one send in flight
