"""One Telegram user's flood of 300 commands (issue 13, row 2): one notice then silence for
that user, another user answered within 2 s, and the service stops within the grace.

The service runs in-process with the real chat commands, python-telegram-bot and the
wire-level fake Bot API at real (not compressed) flood limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.app.service import Service
from bot.config import load_settings
from bot.i18n import text
from bot.runtime.scheduler import Timing
from tests.fakes.telegram import FakeTelegram
from tests.service.seeding import TESTX_RULES

FLOODER, OTHER = 501, 502
GRACE = 3.0


async def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_flood_of_300_commands_does_not_delay_another_user(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "TESTX.csv").write_text("observation_date,TESTX\n2026-11-04,1\n2026-11-11,2\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(TESTX_RULES)
    telegram = await FakeTelegram().start()
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}", CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.base_url,
    )
    timing = Timing.model_validate({"CYCLEWATCH_POLL_SECONDS": 5,
                                    "CYCLEWATCH_STOP_GRACE_SECONDS": GRACE})
    service = Service(settings, timing, data_dir=data, rules_path=rules,
                      clock=lambda: datetime(2026, 11, 23, 15, tzinfo=UTC))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), timeout=30)
        for n in range(300):
            telegram.push_message(FLOODER, f"/help {n}", user_id=FLOODER)
        await until(lambda: bool(telegram.texts(FLOODER)), "the flooder's first answers")
        asked = time.monotonic()
        telegram.push_message(OTHER, "/help", user_id=OTHER)
        await until(lambda: bool(telegram.texts(OTHER)), "the other user's answer", 10)
        other_latency = time.monotonic() - asked
        await until(lambda: telegram.acked_offset > 301, "every update read")
        await asyncio.sleep(1.0)  # anything still queued for the flooder would show by now
    finally:
        stop_asked = time.monotonic()
        service.request_stop()
        assert await asyncio.wait_for(task, timeout=30) == 0
        stop_seconds = time.monotonic() - stop_asked
        await telegram.close()
    print(f"other user's answer after {other_latency:.2f} s; stop took {stop_seconds:.2f} s")
    assert other_latency < 2.0
    notice = text("en", "rate_limited", seconds=5).split("5")[0]
    flooder = telegram.texts(FLOODER)
    notices = [t for t in flooder if t.startswith(notice)]
    assert len(notices) == 1, flooder
    assert len(flooder) - len(notices) <= 7  # the burst of 5 (and a refill), never 300
    assert stop_seconds < GRACE + 8
