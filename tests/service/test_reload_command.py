"""An admin's /reload in Telegram reloads the running service's rules; others are refused.

The service runs in-process over a data directory of one plainly synthetic series (TESTX),
with the wire-level fake Telegram Bot API in front of the real python-telegram-bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.app.service import Service
from bot.config import load_settings
from bot.i18n import text
from bot.runtime.scheduler import Timing
from tests.fakes.telegram import FakeTelegram
from tests.service.seeding import TESTX_RULES

RULES = TESTX_RULES
ADMIN, OTHER = 77, 88


async def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_reload_from_chat(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "TESTX.csv").write_text("observation_date,TESTX\n2026-11-04,1\n2026-11-11,2\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    telegram = await FakeTelegram().start()
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}", CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        CYCLEWATCH_ADMINS=f"telegram:{ADMIN}", TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.base_url,
    )
    timing = Timing.model_validate({"CYCLEWATCH_POLL_SECONDS": 0.3,
                                    "CYCLEWATCH_DELIVER_SECONDS": 0.2})
    service = Service(settings, timing, data_dir=data, rules_path=rules,
                      clock=lambda: datetime(2026, 11, 23, 15, tzinfo=UTC))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), timeout=30)
        telegram.push_message(OTHER, "/reload", user_id=OTHER)
        await until(lambda: bool(telegram.texts(OTHER)), "the refusal")
        assert telegram.texts(OTHER)[-1] == text("en", "bot_admins_only")

        telegram.push_message(ADMIN, "/reload", user_id=ADMIN)
        await until(lambda: bool(telegram.texts(ADMIN)), "the reload answer")
        assert telegram.texts(ADMIN)[-1] == "rules file unchanged"
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, timeout=30) == 0
        await telegram.close()
