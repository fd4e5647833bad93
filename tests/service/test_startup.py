"""Start-up answers at once (issue 20, item 4): after a restart `/regime` is answered from the
stored data while the first refresh is still held up at its source, and the start-up makes one
evaluation, not one per poll.

The service runs in-process with the real chat commands over the wire-level fake Bot API; its
series (synthetic) are a file of its data directory (TESTY) and a CSV document (TESTX) on the
wire-level fake web server, which holds its reply until the test opens the gate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bot.app.service import Service
from bot.chat.views import regime_name
from bot.config import load_settings
from bot.runtime.scheduler import Timing
from tests.fakes.csvweb import CsvWebFake
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import until

RULES = """\
series:
  x: {source: csv, id: TESTX, url: URL, date: date, value: value, fresh: 100y}
  y: {source: fred, id: TESTY, fresh: 100y}
rules:
  - {id: x_high, title: Test series above its line, when: "x > 10"}
  - {id: y_high, title: The other one above its line, when: "y > 10"}
regimes:
  gauges:
    - {id: high, title: {en: x above 10}, when: "x > 10"}
  choose:
    - {id: easing_into_bubble, when: "high"}
    - {id: neutral, when: "not high"}
"""
CHAT = 4711
NOW = datetime(2026, 11, 23, 15, tzinfo=UTC)
HIGH, LOW = regime_name("easing_into_bubble", "en"), regime_name("neutral", "en")


def weekly(values: list[float], header: str = "date,value") -> str:
    """A series as CSV: weekly observations from 2026-10-07."""
    dates = pd.date_range("2026-10-07", periods=len(values), freq="7D")
    return f"{header}\n" + "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values,
                                                                       strict=True))


@asynccontextmanager
async def running(tmp_path: Path, web: CsvWebFake,
                  telegram: FakeTelegram) -> AsyncIterator[Service]:
    """The service over an empty data directory plus the web series; stopped on exit."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("URL", web.url("x.csv")))
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "TESTY.csv").write_text(weekly([5, 6, 7], "observation_date,TESTY"))
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'bot.db'}", CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
        TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.base_url,
    )
    timing = Timing.model_validate({"CYCLEWATCH_POLL_SECONDS": 600})  # no second poll here
    service = Service(settings, timing, data_dir=tmp_path / "data", rules_path=rules,
                      clock=lambda: NOW)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), timeout=30)
        yield service
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, timeout=30) == 0


async def regime(telegram: FakeTelegram) -> str:
    """Ask /regime in the chat; the text of the answer."""
    before = len(telegram.texts(CHAT))
    telegram.push_message(CHAT, "/regime", user_id=CHAT)
    await until(lambda: len(telegram.texts(CHAT)) > before, 30)
    return "\n".join(telegram.texts(CHAT)[before:])


def caught_up(service: Service) -> bool:
    return service.wiring is not None and service.wiring.producer.caught_up.is_set()


async def test_regime_is_answered_from_the_store_while_the_refresh_is_held(
    tmp_path: Path,
) -> None:
    web = CsvWebFake()
    telegram = await FakeTelegram().start()
    try:
        with web.server.running():
            web.serve_csv("x.csv", weekly([1, 2, 20]))
            gate = web.gate("x.csv")
            async with running(tmp_path, web, telegram) as service:  # the first run: cold
                # The directory's rows are stored first, the web's later: one evaluation.
                files = service.state.polls["files"]
                await until(lambda: files.last_ok_at is not None, 30)
                gate.set()
                await until(lambda: caught_up(service), 30)
                assert service.state.evaluations == 1
            web.serve_csv("x.csv", weekly([1, 2, 20, 3]))  # published while it was down
            gate = web.gate("x.csv")
            held = web.count("x.csv")
            async with running(tmp_path, web, telegram) as service:  # the restart: warm
                await until(lambda: web.count("x.csv") > held, 30)
                answer = await regime(telegram)
                assert HIGH in answer and LOW not in answer  # the stored 20, not the new 3
                assert not caught_up(service) and service.state.evaluations == 0
                gate.set()
                await until(lambda: caught_up(service), 30)
                assert LOW in await regime(telegram)  # the refresh did bring other data
                assert service.state.evaluations == 1
    finally:
        await telegram.close()
