"""The Apprise platform: URLs with severity filters become subscribed chats, messages are
rendered in each service's own format with their chart, failures retry through the outbox, and
a replay reaches a JSON endpoint and a Discord webhook (local fakes) once per alert."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from apprise.plugins.discord import NotifyDiscord

from bot.alerts.pipeline import Pipeline
from bot.app.chatside import ChatSide
from bot.cli.replay import Replay
from bot.config import load_settings
from bot.evaluate.insight import Insight
from bot.notifiers.base import DeliveryError, Message
from bot.platforms.apprise import PLATFORM
from bot.platforms.apprise.notifier import AppriseNotifier
from bot.platforms.apprise.render import markdown_escape, render_body
from bot.platforms.apprise.targets import TargetError, chat_id_of, parse_targets
from bot.runtime.metrics import Metrics
from bot.store import Store
from bot.store.chats import Subscriptions
from rules import Event, Transition
from tests.fakes.discord import FakeDiscord
from tests.fakes.webhook import FakeWebhook, Scripted

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 12, 18, 22, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\nchart"
ALERT = Message(title="Milestone crossed: The Fed cut its policy rate",
                body="Rates *fell* to 3.75_4.00 %.\n- first line\n\nSeverity: milestone",
                chart_png=PNG, tags={"severity": "milestone", "state": "firing"})


@pytest.fixture
async def json_hook() -> AsyncIterator[FakeWebhook]:
    fake = await FakeWebhook().start()
    yield fake
    await fake.close()


@pytest.fixture
async def discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """The fake Discord; Apprise's discord:// has no host of its own to set, so the plugin's
    endpoint (https://discord.com/api/webhooks) is pointed at the fake."""
    fake = await FakeDiscord().start()
    monkeypatch.setattr(NotifyDiscord, "notify_url", fake.base)
    yield fake
    await fake.close()


def json_url(hook: FakeWebhook) -> str:
    return hook.url.replace("http://", "json://")


def test_entries_carry_their_filter_language_and_a_chat_id_without_the_token() -> None:
    targets = parse_targets(
        "milestone,warning=discord://111/secret-token\n"
        "  json://127.0.0.1:9/hook?format=markdown  lang:zh,qt_ends=ntfy://topic")
    assert [t.subscribe for t in targets] == [("milestone", "warning"), ("all",), ("qt_ends",)]
    assert [t.lang for t in targets] == ["en", "en", "zh"]
    assert targets[1].url == "json://127.0.0.1:9/hook?format=markdown"  # `=` in a query stays
    assert targets[0].chat_id == chat_id_of("discord://111/secret-token")
    assert targets[0].chat_id.startswith("discord-") and "secret" not in targets[0].chat_id
    with pytest.raises(TargetError, match="entry 2 is not a URL"):
        parse_targets("json://a/b milestone=not-a-url")


def test_connect_subscribes_each_url_as_its_filter_says(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    settings = load_settings(CYCLEWATCH_DB_URL=db, CYCLEWATCH_APPRISE_URLS=(
        "milestone,lang:zh=json://127.0.0.1:9/a all=json://127.0.0.1:9/b"))
    assert PLATFORM.configured(settings)
    PLATFORM.connect(settings)
    # a changed filter replaces the old subscriptions at the next start
    PLATFORM.connect(load_settings(CYCLEWATCH_DB_URL=db, CYCLEWATCH_APPRISE_URLS=(
        "warning,info,lang:zh=json://127.0.0.1:9/a all=json://127.0.0.1:9/b")))
    store = Store(db)
    subs = Subscriptions(store.engine)
    first, second = chat_id_of("json://127.0.0.1:9/a"), chat_id_of("json://127.0.0.1:9/b")
    assert subs.targets("apprise", first) == ["info", "warning"]
    assert subs.targets("apprise", second) == ["all"]
    assert subs.language("apprise", first) == "zh"
    store.close()
    assert not PLATFORM.configured(load_settings(CYCLEWATCH_APPRISE_URLS=" "))


def test_bodies_follow_the_service_format() -> None:
    assert markdown_escape("a*b_c [x](y)\n# not a heading") == (
        "a\\*b\\_c \\[x\\](y)\n\\# not a heading")
    html = render_body(ALERT, "html")
    assert html.startswith("<p>Rates *fell*") and "<br/>- first line</p><p>Severity" in html
    assert render_body(ALERT, "text") == ALERT.body
    assert "\\*fell\\*" in render_body(ALERT, "markdown")


async def test_json_service_gets_text_and_chart_and_failures_retry_with_one_log_line(
    json_hook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    target = parse_targets(json_url(json_hook))[0]
    notifier = AppriseNotifier([target])
    sent = await notifier.send(target.chat_id, ALERT)
    assert sent.message_ids
    [doc] = json_hook.received
    assert doc["title"] == ALERT.title and doc["message"] == ALERT.body  # json:// is plain text
    assert doc["type"] == "failure"  # a milestone
    [attached] = doc["attachments"]
    assert attached["mimetype"] == "image/png" and base64.b64decode(attached["base64"]) == PNG
    json_hook.script.extend([Scripted(status=503), Scripted(status=500)])
    caplog.set_level(logging.WARNING, logger="cyclewatch.apprise")
    for _ in range(2):
        with pytest.raises(DeliveryError) as raised:
            await notifier.send(target.chat_id, ALERT)
        assert raised.value.retryable
    await notifier.send(target.chat_id, ALERT)
    lines = [r.getMessage() for r in caplog.records if r.name == "cyclewatch.apprise"]
    assert len(lines) == 2 and "unreachable" in lines[0] and "reachable again" in lines[1]
    assert "127.0.0.1" in lines[0] and len(json_hook.received) == 2
    with pytest.raises(DeliveryError) as gone:
        await notifier.send("json-000000000000", ALERT)
    assert gone.value.blocked


async def test_discord_gets_text_or_an_embed_then_the_chart(discord: FakeDiscord) -> None:
    plain, rich = parse_targets(f"{discord.apprise_url} {discord.apprise_url}?format=markdown")
    notifier = AppriseNotifier([plain, rich])
    await notifier.send(plain.chat_id, ALERT)
    await notifier.send(rich.chat_id, ALERT)
    text, chart, embedded, chart_again = discord.posted
    assert text.payload["content"] == f"{ALERT.title}\r\n{ALERT.body}"  # as written
    [embed] = embedded.payload["embeds"]
    assert embed["title"] == ALERT.title and "Rates \\*fell\\*" in embed["description"]
    assert chart.files == chart_again.files == {"chart.png": PNG}


async def test_a_replay_reaches_json_and_discord_once_per_alert(
    history_dir: Path, tmp_path: Path, json_hook: FakeWebhook, discord: FakeDiscord
) -> None:
    settings = load_settings(
        CYCLEWATCH_DB_URL=f"sqlite:///{tmp_path / 'live.db'}", CYCLEWATCH_RULES=REPO / "rules.yaml",
        CYCLEWATCH_APPRISE_URLS=f"{json_url(json_hook)} milestone={discord.apprise_url} "
                                f"info,warning={json_url(json_hook)}?filtered=yes")
    discord.fail_next = 1  # the first alert is retried by the outbox, not lost or doubled
    replay = Replay(settings, history_dir, f"sqlite:///{tmp_path / 'replay.db'}", True)
    assert await replay.run(date(2025, 11, 1), date(2026, 1, 31)) == 0
    titles = [doc["title"] for doc in json_hook.received]
    assert len(titles) == 5 and len(set(titles)) == 5
    assert any("No longer holds" in t for t in titles)
    # the five are milestones: the Discord URL gets them all, the info/warning URL none
    texts = [p.payload["content"] for p in discord.posted if p.payload.get("content")]
    assert len(texts) == len(set(texts)) == 5
    assert all(t.startswith("[REPLAY ") for t in texts)


async def test_the_service_delivers_a_subscribed_alert_with_its_chart(
    tmp_path: Path, json_hook: FakeWebhook, files_insight: Insight
) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    store = Store(db)
    settings = load_settings(CYCLEWATCH_DB_URL=db, CYCLEWATCH_APPRISE_URLS=(
        f"qt_ends,lang:zh={json_url(json_hook)} warning={json_url(json_hook)}?other=1"))
    chat = ChatSide(settings, store, Metrics(), lambda: NOW)
    assert chat.chat_on and chat.implicit_recipients() == []  # apprise is a chat platform
    chat.build_front_ends()
    await chat.start(leader=True)
    chat.use_rules(files_insight.ruleset)  # draws alert charts, as for any chat platform
    qt_ends = files_insight.ruleset.rule("qt_ends")
    Pipeline(store).record([Event(rule=qt_ends, state=Transition.FIRING,
                                  date=date(2025, 12, 17), value=0.3)], NOW)
    assert await chat.deliver()
    await chat.stop()
    store.close()
    [doc] = json_hook.received  # the warning-only URL gets nothing
    assert doc["title"] == "已越过里程碑: 量化紧缩(QT)已结束"  # in the URL's language
    [attached] = doc["attachments"]
    assert base64.b64decode(attached["base64"]).startswith(b"\x89PNG")
    assert chat.metrics.deliveries.labels("apprise", "sent")._value.get() == 1
