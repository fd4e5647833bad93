"""Console and JSON-webhook notifiers: what they emit, and how HTTP outcomes map to flags."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.notifiers.base import Button, DeliveryError, Message
from bot.notifiers.console import ConsoleNotifier
from bot.notifiers.webhook import WebhookNotifier
from tests.fakes.webhook import FakeWebhook, Scripted

MESSAGE = Message(
    title="Milestone crossed: QT has ended",
    body="Value 0.59, threshold 0.2.\n\nSeverity: milestone",
    chart_png=b"\x89PNG\r\n\x1a\nxyz",
    buttons=(Button("Mute 7d", "/mute qt_ends 7d"),),
    tags={"rule": "qt_ends"},
)


@pytest.fixture
async def fake_webhook() -> AsyncIterator[FakeWebhook]:
    fake = await FakeWebhook().start()
    yield fake
    await fake.close()


@pytest.fixture
async def webhook(fake_webhook: FakeWebhook) -> AsyncIterator[WebhookNotifier]:
    async with httpx.AsyncClient(timeout=0.5) as client:
        yield WebhookNotifier(client, fake_webhook.url)


async def test_console_prints_title_body_and_buttons() -> None:
    stream = io.StringIO()
    notifier = ConsoleNotifier(stream)
    first = await notifier.send("console", MESSAGE)
    second = await notifier.send("console", Message("plain [b]title[/b]", "x", plain=True))
    out = stream.getvalue()
    assert "QT has ended" in out and "threshold 0.2" in out and "/mute qt_ends 7d" in out
    assert "[b]title[/b]" in out  # plain text is printed as is, never as markup
    assert first.message_ids != second.message_ids


async def test_webhook_posts_json_and_records_the_id(
    webhook: WebhookNotifier, fake_webhook: FakeWebhook
) -> None:
    sent = await webhook.send("ops", MESSAGE)
    assert sent.message_ids == ("w1",)
    [doc] = fake_webhook.received
    assert doc["chat_id"] == "ops" and doc["title"] == MESSAGE.title
    assert doc["buttons"] == [{"label": "Mute 7d", "action": "/mute qt_ends 7d"}]
    assert base64.b64decode(doc["chart_png_base64"]) == MESSAGE.chart_png


@pytest.mark.parametrize(
    ("reply", "flag"),
    [
        (Scripted(429, "slow down", {"Retry-After": "17"}), "retry_after"),
        (Scripted(503, "busy"), "retryable"),
        (Scripted(410, "gone"), "blocked"),
        (Scripted(400, "bad"), "permanent"),
        (Scripted(200, delay=1.5), "retryable"),  # timeout
    ],
)
async def test_webhook_errors_map_to_flags(
    webhook: WebhookNotifier, fake_webhook: FakeWebhook, reply: Scripted, flag: str
) -> None:
    fake_webhook.script.append(reply)
    with pytest.raises(DeliveryError) as caught:
        await webhook.send("ops", MESSAGE)
    err = caught.value
    assert {
        "retry_after": err.retry_after == 17 and err.retryable,
        "retryable": err.retryable and err.retry_after is None,
        "blocked": err.blocked and not err.retryable,
        "permanent": not (err.retryable or err.blocked or err.malformed),
    }[flag]
    assert fake_webhook.received == []


async def test_webhook_unreachable_is_retryable() -> None:
    async with httpx.AsyncClient(timeout=0.5) as client:
        notifier = WebhookNotifier(client, "http://127.0.0.1:9/hook")
        with pytest.raises(DeliveryError) as caught:
            await notifier.send("ops", MESSAGE)
    assert caught.value.retryable


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="CYCLEWATCH_WEBHOOK_URL"):
        WebhookNotifier(httpx.AsyncClient(), "ftp://example.org/hook")


async def test_console_keeps_a_long_title_whole() -> None:
    stream = io.StringIO()
    notifier = ConsoleNotifier(stream, width=60)
    short = "Milestone crossed: QT ended"
    long = "Milestone crossed: " + "reserves grow " * 5 + "END"
    await notifier.send("console", Message(title=short, body="body one"))
    await notifier.send("console", Message(title=long, body="body two"))
    lines = stream.getvalue().splitlines()
    assert short in lines[0]  # in the border
    text = " ".join(line.strip("│ ╭╮╰╯─") for line in lines)
    assert "END" in text and text.index("END") < text.index("body two")
