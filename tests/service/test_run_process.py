"""`cyclewatch run` as a real process: starts with defaults, serves HTTP, stops cleanly."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.service.conftest import BotProcess

StartBot = Callable[..., BotProcess]


def _get(addr: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{addr}{path}", timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_starts_serves_and_stops_cleanly(
    start_bot: StartBot, bot_env: dict[str, str], sig: int
) -> None:
    bot = start_bot(bot_env)
    addr = bot.http_addr()
    status, body = _get(addr, "/healthz")
    report: dict[str, Any] = json.loads(body)
    assert status in (200, 503)
    assert {"sources", "evaluation", "outbox"} <= report.keys()
    status, body = _get(addr, "/metrics")
    assert status == 200
    assert b"cyclewatch_fetches" in body
    assert bot.stop(sig) == 0
    assert any("cyclewatch stopped" in line for line in bot.output())
    assert not any("Traceback" in line for line in bot.output())


def test_port_in_use_is_one_clear_error(start_bot: StartBot, bot_env: dict[str, str]) -> None:
    first = start_bot(bot_env)
    second = start_bot(dict(bot_env, CYCLEWATCH_HTTP_ADDR=first.http_addr()))
    assert second.proc.wait(timeout=60) == 1
    second.wait_for(r"cannot listen on 127\.0\.0\.1:\d+")
    assert not any("Traceback" in line for line in second.output())
    assert first.stop() == 0


def test_bad_data_dir_is_refused(
    start_bot: StartBot, bot_env: dict[str, str], tmp_path: Any
) -> None:
    bot = start_bot(bot_env, "--data", str(tmp_path / "missing"))
    assert bot.proc.wait(timeout=60) == 1
    bot.wait_for(r"--data .*missing: not a directory")


def test_unreachable_database_is_one_line_without_the_password(
    start_bot: StartBot, bot_env: dict[str, str]
) -> None:
    env = dict(bot_env, CYCLEWATCH_DB_URL="postgresql+psycopg://u:s3cretpw@127.0.0.1:1/db")
    bot = start_bot(env)
    assert bot.proc.wait(timeout=60) == 1
    bot.wait_for(r"^cyclewatch: cannot open the database postgresql\+psycopg://u:\*\*\*@")
    assert len(bot.output()) == 1 and "s3cretpw" not in bot.output()[0]


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("CYCLEWATCH_POLL_SECONDS", "soon", r"configuration error: CYCLEWATCH_POLL_SECONDS: "),
    ("TELEGRAM_WEBHOOK_URL", "https://bot.example/hook",
     r"TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET"),
])
def test_bad_service_settings_are_one_clear_line(
    start_bot: StartBot, bot_env: dict[str, str], name: str, value: str, expected: str
) -> None:
    env = dict(bot_env, TELEGRAM_BOT_TOKEN="123456:TEST-token-of-the-fake-telegram-012",
               **{name: value})
    bot = start_bot(env)
    assert bot.proc.wait(timeout=60) in (1, 2)
    bot.wait_for(expected)
    assert not any("Traceback" in line for line in bot.output())


def _metric(text: str, name: str, source: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'{name}{{source="{source}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_no_network_one_line_per_source_retries_and_keeps_serving(
    start_bot: StartBot, bot_env: dict[str, str]
) -> None:
    bot = start_bot(bot_env)
    addr = bot.http_addr()
    lines = bot.wait_for(r"unreachable", timeout=30, count=4)
    # Keep watching while the polls retry (backoff 0.2 s → 1 s): until every source has
    # failed three times, however long this machine takes for it.
    sources = ("fred", "treasury", "fomc", "refunding")
    deadline = time.monotonic() + 60
    while True:
        status, body = _get(addr, "/metrics")
        assert status == 200
        text = body.decode()
        failures = {s: _metric(text, "cyclewatch_fetch_failures_total", s) for s in sources}
        if min(failures.values()) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for source in sources:
        assert failures[source] >= 3, source
    unreachable = [line for line in bot.output() if "unreachable" in line]
    labels = [line.split(" unreachable:", 1)[0].rsplit(": ", 1)[-1] for line in unreachable]
    assert len(labels) == len(set(labels)), unreachable  # one line a source, however many tries
    for label in ("FRED", "treasury", "Fed press releases", "Treasury press releases"):
        assert sum(f" {label} unreachable:" in line for line in unreachable) == 1, label
    assert lines[0] in unreachable
    status, body = _get(addr, "/healthz")
    report = json.loads(body)
    for source in ("fred", "treasury", "fomc", "refunding"):
        assert "Connection refused" in report["sources"][source]["last_error"], source
        assert report["sources"][source]["consecutive_failures"] >= 3
    assert bot.stop() == 0
    assert not any("Traceback" in line for line in bot.output())
