"""Bad input of any kind gets a clear answer or error, and nothing else is lost."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.chat.types import Caller, Reply
from bot.config import load_settings
from bot.notifiers.base import DeliveryError, Message
from bot.platforms.slack.frontend import COMMAND_FAILED as SLACK_FAILED
from bot.platforms.slack.frontend import SlackFrontEnd
from bot.platforms.slack.notifier import SlackNotifier, slack_client
from bot.platforms.telegram.frontend import COMMAND_FAILED, TelegramFrontEnd, build_application
from bot.platforms.telegram.notifier import TelegramNotifier
from tests.fakes.slack import FakeSlack, block_text
from tests.fakes.telegram import FakeTelegram
from tests.platforms.conftest import Recorder, until


class Exploding(Recorder):
    """A command handler that fails on /boom (a bug in a command must not go unanswered)."""

    async def __call__(self, caller: Caller, text: str) -> Reply:
        if text.startswith("/boom"):
            raise RuntimeError("bug in a command")
        return await super().__call__(caller, text)



async def test_telegram_failing_command_is_answered_and_the_next_one_works(
    fake_telegram: FakeTelegram,
) -> None:
    handler = Exploding()
    front = TelegramFrontEnd(build_application(fake_telegram.token, fake_telegram.base_url),
                             handler)
    await front.start()
    try:
        fake_telegram.push_update({"message": {
            "message_id": 1, "date": 0, "chat": {"id": 950, "type": "private"},
            "from": {"id": 950, "is_bot": False, "first_name": "U"},
            "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]}})
        fake_telegram.push_message(950, "/boom")
        fake_telegram.push_message(950, "/help")
        await until(lambda: len(fake_telegram.messages.get("950", [])) >= 2)
    finally:
        await front.stop()
    shown = [m["shown"] for m in fake_telegram.messages["950"]]
    assert COMMAND_FAILED in shown and "ok </help>" in shown
    assert [t for _, t in handler.calls] == ["/help"]


async def test_empty_message_is_a_clear_delivery_error(
    telegram_notifier: TelegramNotifier, fake_slack: FakeSlack
) -> None:
    with pytest.raises(DeliveryError, match="empty message"):
        await telegram_notifier.send("1", Message(title=" ", body="\n\n"))
    slack = SlackNotifier(slack_client(fake_slack.bot_token, fake_slack.base_url))
    with pytest.raises(DeliveryError, match="empty message"):
        await slack.send("C1", Message(title="", body=""))


def test_missing_tokens_name_the_variable() -> None:
    settings = load_settings(TELEGRAM_BOT_TOKEN=None, SLACK_BOT_TOKEN=None)
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        TelegramNotifier.from_settings(settings)
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
        SlackNotifier.from_settings(settings)
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
        SlackFrontEnd.from_settings(settings, Recorder())


async def test_slack_socket_odd_envelopes_are_acked_and_failures_answered(
    fake_slack: FakeSlack,
) -> None:
    handler = Exploding()
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url), handler,
                          app_token=fake_slack.app_token)
    await front.start()
    try:
        odd = [fake_slack.send_envelope("interactive", {"type": "block_actions"}),
               fake_slack.send_envelope("events_api", {"event": {"type": "app_mention"}}),
               fake_slack.send_envelope("slash_commands", {"command": "/regime"})]
        boom = fake_slack.send_envelope("slash_commands", {
            "command": "/cyclewatch", "text": "boom", "channel_id": "C9", "user_id": "U9"})
        async with asyncio.timeout(3):
            acks = [await fake_slack.wait_ack(e) for e in [*odd, boom]]
    finally:
        await front.stop()
    assert acks[2]["payload"]["text"] == "Missing channel or user."
    assert acks[3]["payload"]["text"] == SLACK_FAILED
    assert handler.calls == [] and fake_slack.messages == {}


async def test_slack_http_rejects_unsigned_and_answers_garbage_clearly(
    fake_slack: FakeSlack,
) -> None:
    secret = "s"
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url), Recorder(),
                          signing_secret=secret)
    unconfigured = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url),
                                 Recorder())
    app = web.Application()
    app.router.add_post("/slack/commands", front.handle_http)
    app.router.add_post("/off", unconfigured.handle_http)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    garbage = b"{not: a form}"
    ts = str(int(time.time()))
    signed = SignatureVerifier(secret).generate_signature(timestamp=ts, body=garbage) or ""
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            unsigned = await client.post("/slack/commands", content=b"command=%2Fregime")
            bad_ts = await client.post("/slack/commands", content=b"x", headers={
                "X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=1"})
            weird = await client.post("/slack/commands", content=garbage, headers={
                "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signed})
            binary = await client.post("/slack/commands", content=b"\xff\xfe\x00", headers={
                "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signed})
            off = await client.post("/off", content=b"x")
    finally:
        await runner.cleanup()
    assert (unsigned.status_code, bad_ts.status_code) == (401, 401)
    assert weird.status_code == 200 and "Missing channel or user" in block_text(weird.json())
    assert binary.status_code == 400 and "UTF-8" in binary.json()["error"]
    assert off.status_code == 404


async def test_telegram_unreadable_updates_are_skipped_acked_counted_and_logged_once(
    fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.runtime.metrics import Metrics
    from tests.fakes.telegram import MALFORMED

    caplog.set_level(logging.WARNING)
    handler = Recorder()
    front = TelegramFrontEnd(build_application(fake_telegram.token, fake_telegram.base_url),
                             handler)
    metrics = Metrics()
    front.use_metrics(metrics)
    await front.start()
    try:
        for n, shape in enumerate(MALFORMED, start=1):
            bad = fake_telegram.push_malformed(shape)
            fake_telegram.push_message(960 + n, f"/help {n}")
            await until(lambda n=n: len(handler.calls) >= n)  # type: ignore[misc]
            bad_id = int(bad["update_id"])
            await until(lambda bad_id=bad_id: fake_telegram.acked_offset > bad_id)  # type: ignore[misc]
        polls = fake_telegram.polls
        await asyncio.sleep(0.5)
        assert fake_telegram.polls - polls <= 2  # long polling again, not spinning
    finally:
        await front.stop()
    assert [t for _, t in handler.calls] == [f"/help {n}" for n in range(1, 9)]
    assert front.reader is not None and front.reader.skipped == 8
    assert metrics.chat_updates_skipped.labels("telegram")._value.get() == 8
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 8 and not any(r.exc_info for r in skipped)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
