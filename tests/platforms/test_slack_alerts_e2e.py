"""Slack end to end: /cyclewatch subscribe (Socket Mode, signed HTTP) -> a real history event
through bot.alerts.pipeline -> bot.alerts.outbox -> SlackNotifier -> the fake Web API;
resolve edits it."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.alerts.outbox import DeliveryWorker
from bot.alerts.pipeline import Pipeline
from bot.chat import charts
from bot.chat.types import Caller, Reply
from bot.evaluate.insight import Insight
from bot.platforms.slack.frontend import SlackFrontEnd
from bot.platforms.slack.notifier import SlackNotifier, slack_client
from bot.runtime.backoff import Backoff
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import outbox
from rules import Event, backtest
from tests.fakes.slack import FakeSlack, block_text
from tests.platforms.conftest import NOW

Handler = Callable[[Caller, str], Awaitable[Reply]]
SECRET = "slack-signing-secret"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    fake.admins.add("UADMIN")
    yield fake
    await fake.close()


@pytest.fixture
def qt_ends_event(files_insight: Insight) -> Event:
    _, data = files_insight.data()
    return [e for e in backtest(files_insight.ruleset, data, only=["qt_ends"])
            if e.state == "firing" and e.date.year == 2025][-1]


async def drain(store: Store, fake: FakeSlack, insight: Insight) -> None:
    version, data = insight.data()
    worker = DeliveryWorker(
        store, {"slack": SlackNotifier(slack_client(fake.bot_token, fake.base_url, retries=1))},
        clock=lambda: NOW + timedelta(days=1), rng=random.Random(3),
        backoff=Backoff(base_seconds=1, max_seconds=2),
        chart_for=lambda alert, lang: charts.rule_chart(data, insight.ruleset, alert.rule,
                                                        alert.date, version, lang=lang))
    await worker.drain()
    with store.engine.connect() as conn:
        statuses = set(conn.execute(sa.select(outbox.c.status)).scalars())
    assert statuses == {"sent"}


def title_of(event: Event) -> str:
    title, _ = event.render("en")
    return title


async def test_subscribe_over_socket_mode_then_alert_then_resolve_edits_it(
    fake_slack: FakeSlack, commands_handler: Handler, platform_store: Store,
    files_insight: Insight, qt_ends_event: Event,
) -> None:
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url),
                          commands_handler, app_token=fake_slack.app_token)
    await front.start()
    try:
        envelope = fake_slack.send_envelope("slash_commands", {
            "command": "/cyclewatch", "text": "subscribe all", "channel_id": "C10",
            "user_id": "UADMIN"})
        async with asyncio.timeout(3):
            await fake_slack.wait_ack(envelope)
    finally:
        await front.stop()
    Pipeline(platform_store).record([qt_ends_event], NOW)
    await drain(platform_store, fake_slack, files_insight)
    [alert] = fake_slack.messages["C10"]
    assert title_of(qt_ends_event) in block_text(alert)
    assert fake_slack.files["C10"][0]["data"].startswith(PNG_MAGIC)
    resolved = Event(rule=qt_ends_event.rule, state="resolved", date=date(2030, 1, 2))
    Pipeline(platform_store).record([resolved], NOW)
    await drain(platform_store, fake_slack, files_insight)
    [edited] = fake_slack.messages["C10"]  # chat.update, not a second message
    assert edited.get("edited") and "2030-01-02" in block_text(edited)


async def test_subscribe_over_signed_http_then_alert_arrives(
    fake_slack: FakeSlack, commands_handler: Handler, platform_store: Store,
    files_insight: Insight, qt_ends_event: Event,
) -> None:
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url),
                          commands_handler, signing_secret=SECRET)
    app = web.Application()
    app.router.add_post("/slack/commands", front.handle_http)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    body = urlencode({"command": "/cyclewatch", "text": "subscribe all", "channel_id": "D20",
                      "user_id": "U20"})
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body) or ""
    try:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"http://127.0.0.1:{port}/slack/commands", content=body,
                headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
                         "Content-Type": "application/x-www-form-urlencoded"})
    finally:
        await front.stop()
        await runner.cleanup()
    assert answer.status_code == 200
    Pipeline(platform_store).record([qt_ends_event], NOW)
    await drain(platform_store, fake_slack, files_insight)
    [alert] = fake_slack.messages["D20"]
    assert title_of(qt_ends_event) in block_text(alert)
    assert fake_slack.files["D20"][0]["data"].startswith(PNG_MAGIC)


async def test_every_slack_alert_arrives_exactly_once_despite_30_percent_failures(
    fake_slack: FakeSlack, platform_store: Store, qt_ends_event: Event,
) -> None:
    channels = [f"C{700 + i}" for i in range(6)]
    subs = Subscriptions(platform_store.engine)
    for channel in channels:
        subs.ensure_chat("slack", channel, is_group=True, language_code="en", now=NOW)
        subs.subscribe("slack", channel, "all", NOW)
    fake_slack.failure_rate = 0.3
    Pipeline(platform_store).record([qt_ends_event], NOW)
    clock = [NOW]
    worker = DeliveryWorker(
        platform_store,
        {"slack": SlackNotifier(slack_client(fake_slack.bot_token, fake_slack.base_url,
                                             retries=0))},
        clock=lambda: clock[0], rng=random.Random(5),
        backoff=Backoff(base_seconds=1, max_seconds=2, max_attempts=40))
    for _ in range(100):
        await worker.drain()
        with platform_store.engine.connect() as conn:
            statuses = list(conn.execute(sa.select(outbox.c.status)).scalars())
        if set(statuses) == {"sent"}:
            break
        clock[0] += timedelta(minutes=5)
    title = title_of(qt_ends_event)
    failed_calls = sum(1 for m, _ in fake_slack.calls if m == "chat.postMessage") - len(channels)
    assert failed_calls >= 1  # the faults really happened
    assert {c: [title in block_text(m) for m in fake_slack.messages.get(c, [])]
            for c in channels} == {c: [True] for c in channels}
