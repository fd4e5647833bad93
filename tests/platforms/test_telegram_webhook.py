"""Telegram's webhook port under bad input and idle floods (issue 22 item 5): unreadable
updates are acknowledged and skipped, wrong secrets are one line, idle sockets are capped and
closed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.platforms.telegram.frontend import TelegramFrontEnd, build_application
from bot.platforms.telegram.webhook import SECRET_HEADER
from bot.runtime.httpserver import HttpLimits
from bot.runtime.metrics import Metrics
from tests.fakes.telegram import MALFORMED, FakeTelegram
from tests.platforms.conftest import Recorder, until

SECRET = "s3cret-webhook-token"


@pytest.fixture
async def webhook(fake_telegram: FakeTelegram,
                  ) -> AsyncIterator[tuple[TelegramFrontEnd, Recorder, Metrics, str]]:
    recorder, metrics = Recorder(), Metrics()
    front = TelegramFrontEnd(
        build_application(fake_telegram.token, fake_telegram.base_url), recorder,
        webhook_url="https://bot.example/hook", webhook_secret=SECRET,
        webhook_listen=("127.0.0.1", 0),
        webhook_limits=HttpLimits(read_timeout=1.0, idle_timeout=1.0, max_connections=20))
    front.use_metrics(metrics)
    await front.start()
    yield front, recorder, metrics, f"http://127.0.0.1:{front.webhook_port}/hook"
    await front.stop()


async def test_unreadable_updates_are_acknowledged_skipped_and_logged_once(
    fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture,
    webhook: tuple[TelegramFrontEnd, Recorder, Metrics, str],
) -> None:
    caplog.set_level(logging.WARNING)
    _front, recorder, metrics, url = webhook
    bodies = [json.dumps({"update_id": 900 + n, **shape(700 + n)}).encode()
              for n, shape in enumerate(MALFORMED.values())]
    bodies += [b"not json at all", b'{"update_id": 999, "message": ', b"\xff\xfe"]
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        statuses = [(await client.post(url, content=body, headers=headers)).status_code
                    for body in bodies]
        good = await client.post(url, json=fake_telegram.push_message(777, "/help"),
                                 headers=headers)
    assert statuses == [200] * len(bodies) and good.status_code == 200
    await until(lambda: bool(recorder.calls))
    assert [t for _, t in recorder.calls] == ["/help"]
    assert metrics.chat_updates_skipped.labels("telegram")._value.get() == len(bodies)
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == len(bodies) and not any(r.exc_info for r in skipped)
    assert "telegram update 999 skipped" in skipped[-2].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_wrong_secrets_are_403_and_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
    webhook: tuple[TelegramFrontEnd, Recorder, Metrics, str],
) -> None:
    caplog.set_level(logging.DEBUG)
    _front, recorder, _metrics, url = webhook
    async with httpx.AsyncClient() as client:
        answers = [await client.post(url, json={"update_id": n}, headers=headers)
                   for n in range(30)
                   for headers in ({SECRET_HEADER: "wrong"}, {})]
    assert {a.status_code for a in answers} == {403}
    lines = [r for r in caplog.records
             if r.name.startswith(("bot.", "aiohttp", "telegram")) and r.levelno >= logging.INFO]
    assert [r.getMessage() for r in lines] == [
        "telegram webhook: refused a request without the right secret token (403)"]
    assert not lines[0].exc_info and not recorder.calls


async def test_idle_sockets_are_capped_and_closed_while_updates_get_through(
    fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture,
    webhook: tuple[TelegramFrontEnd, Recorder, Metrics, str],
) -> None:
    caplog.set_level(logging.WARNING)
    front, recorder, metrics, url = webhook
    server = front.webhook_server
    assert server is not None
    idle = [await asyncio.open_connection("127.0.0.1", front.webhook_port) for _ in range(100)]
    try:
        await until(lambda: server.guard.open <= 20)
        async with httpx.AsyncClient() as client:
            good = await client.post(url, json=fake_telegram.push_message(778, "/status"),
                                     headers={SECRET_HEADER: SECRET})
        assert good.status_code == 200
        await until(lambda: bool(recorder.calls))
        # every idle socket is closed by the server: evicted at the cap or after 1 s
        for reader, _writer in idle:
            assert await asyncio.wait_for(reader.read(), timeout=30) == b""
        assert metrics.http_connections_cut.labels("evicted")._value.get() >= 80
        cap_lines = [r.getMessage() for r in caplog.records if "at the cap" in r.getMessage()]
        assert cap_lines == ["Telegram webhook: connection evicted at the cap of 20 open "
                             "connections"]  # one line a minute, naming the port
    finally:
        for _reader, writer in idle:
            writer.close()
