"""Every listening port under an idle flood (issue 22 item 5): `cyclewatch run` with 1,024
open files at most, 2,000 idle connections held on the HTTP port and 2,000 on Telegram's
webhook; /healthz still answers, an update still gets through, the process never runs out of
files, and the log stays short."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import time
from pathlib import Path

import aiohttp
import pytest

from bot.platforms.telegram.webhook import SECRET_HEADER
from bot.runtime.httpserver import raise_file_limit
from tests.fakes.telegram import FakeTelegram
from tests.service.conftest import BotProcess

pytestmark = pytest.mark.slow  # a `cyclewatch run` process

FILES = 1024
IDLE = 2000
SECRET = "webhook-secret-of-the-flood-test"
OUT_OF_FILES = re.compile(r"Too many open files|out of system resource|cannot accept")
# Loggers of the listening ports: none of their lines may be an error (a traceback is one).
PORTS = re.compile(r" (ERROR|CRITICAL) (asyncio|aiohttp|bot\.runtime\.httpserver|"
                   r"bot\.platforms\.telegram|telegram)")


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILES, FILES))


async def _hold(port: int, count: int) -> list[asyncio.StreamWriter]:
    held = []
    for _ in range(count):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        held.append(writer)
    return held


async def test_2000_idle_connections_on_each_port_under_1024_open_files(
    bot_env: dict[str, str], tmp_path: Path,
) -> None:
    if raise_file_limit(2 * IDLE + 1024) < 2 * IDLE + 512:
        pytest.skip("this test holds 4,000 sockets itself; the hard file limit is lower")
    telegram = await FakeTelegram(enforce_limits=False).start()
    env = dict(bot_env, TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.base_url,
               TELEGRAM_WEBHOOK_URL="https://bot.example/tg/hook",
               TELEGRAM_WEBHOOK_SECRET=SECRET, TELEGRAM_WEBHOOK_LISTEN="127.0.0.1:0")
    bot = BotProcess(env, [], tmp_path, preexec_fn=_limit_files)
    held: list[asyncio.StreamWriter] = []
    try:
        addr = await asyncio.to_thread(bot.http_addr)
        [line] = await asyncio.to_thread(bot.wait_for, r"telegram webhook listening on ")
        hook = line.split("listening on ", 1)[1].strip()
        hook_port = int(hook.rsplit(":", 1)[1].split("/", 1)[0])
        held += await _hold(int(addr.rsplit(":", 1)[1]), IDLE)
        held += await _hold(hook_port, IDLE)
        async with aiohttp.ClientSession() as session:
            asked = time.monotonic()
            async with session.get(f"http://{addr}/healthz") as response:
                assert response.status in (200, 503)  # it answers (sources are refused here)
                assert "sources" in await response.json()
            answered = time.monotonic() - asked  # reported, not judged (the machine is shared)
            update = telegram.push_message(4242, "/help")
            async with session.post(hook, json=update, headers={SECRET_HEADER: SECRET}) as got:
                assert got.status == 200
        open_files = len(os.listdir(f"/proc/{bot.proc.pid}/fd"))
        assert open_files < FILES
    finally:
        for writer in held:
            writer.close()
        code = await asyncio.to_thread(bot.stop)
        await telegram.close()
    output = bot.output()
    assert code == 0
    assert [line for line in output if OUT_OF_FILES.search(line)] == []
    assert [line for line in output if PORTS.search(line)] == []
    assert len(output) < 100, output[-30:]
    print(f"{len(output)} log lines; {open_files} open files with {len(held)} sockets held; "
          f"/healthz answered in {answered:.3f} s")
