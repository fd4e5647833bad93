"""The Slack notifier through real slack-sdk (AsyncWebClient) against the fake Web API."""

from __future__ import annotations

import pytest

from bot.notifiers.base import Button, DeliveryError, Message
from bot.platforms.slack.notifier import SlackNotifier, slack_blocks, slack_client
from tests.fakes.slack import FakeSlack, block_text

PNG = b"\x89PNG\r\n\x1a\nchart"
MUTE = (Button("Mute 7d", "/mute qt_ends 7d"), Button("Why?", "/why qt_ends"))



@pytest.fixture
def notifier(fake_slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier(slack_client(fake_slack.bot_token, fake_slack.base_url, retries=1))


async def test_alert_is_block_kit_with_escaped_text_buttons_and_chart(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    sent = await notifier.send(
        "C1", Message("QT ends", "Holdings <rose> & grew", chart_png=PNG, buttons=MUTE))
    [posted] = fake_slack.messages["C1"]
    assert sent.message_ids == (posted["ts"],)
    types = [b["type"] for b in posted["blocks"]]
    assert types == ["header", "section", "actions"]
    assert posted["blocks"][1]["text"]["text"] == "Holdings &lt;rose&gt; &amp; grew"
    assert [e["value"] for e in posted["blocks"][2]["elements"]] == [b.action for b in MUTE]
    [chart] = fake_slack.files["C1"]
    assert chart["data"] == PNG


async def test_huge_alert_is_split_into_messages_within_limits(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    body = "\n\n".join(f"paragraph {i} " + "x" * 900 for i in range(120))
    sent = await notifier.send("C2", Message("T" * 200, body))
    posted = fake_slack.messages["C2"]
    assert len(posted) == len(sent.message_ids) >= 10
    text = "\n".join(block_text(m) for m in posted)
    assert all(f"paragraph {i} " in text for i in range(120))
    assert "T" * 200 in text  # the long title is kept whole in a section


def test_block_builder_respects_block_count() -> None:
    body = "\n\n".join("short paragraph" for _ in range(400))
    chunks = slack_blocks("t", "\n\n".join([body]), ())
    # each paragraph fits one section; many paragraphs share a section up to the limit
    assert all(len(c) <= 50 for c in chunks)
    many = slack_blocks("t", "\n\n".join("y" * 2999 for _ in range(60)), ())
    assert len(many) > 1 and all(len(c) <= 50 for c in many)


async def test_resolve_updates_the_original_message(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    first = await notifier.send("C3", Message("Firing", "value 1"))
    again = await notifier.send("C3", Message("Resolved", "value 2", replaces=first.message_ids))
    [only] = fake_slack.messages["C3"]
    assert again.message_ids == first.message_ids and only.get("edited")
    assert "Resolved" in block_text(only)


async def test_resolve_posts_when_original_is_gone(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    await notifier.send("C4", Message("Resolved", "x", replaces=("123.456",)))
    assert len(fake_slack.messages["C4"]) == 1


@pytest.mark.parametrize(
    ("error", "status", "flag"),
    [("channel_not_found", 200, "blocked"), ("is_archived", 200, "blocked"),
     ("not_in_channel", 200, "blocked"), ("invalid_blocks", 200, "malformed"),
     ("internal_error", 503, "retryable"), ("ratelimited", 429, "retry_after")],
)
async def test_errors_map_to_delivery_flags(
    fake_slack: FakeSlack, notifier: SlackNotifier, error: str, status: int, flag: str
) -> None:
    fake_slack.inject(error, method="chat.postMessage", status=status,
                      retry_after=2 if status == 429 else None, times=3)
    with pytest.raises(DeliveryError) as caught:
        await notifier.send("C5", Message("t", "b"))
    assert getattr(caught.value, flag)
    if flag == "retry_after":
        assert caught.value.retry_after == 2.0
    assert "C5" not in fake_slack.messages


async def test_single_429_is_waited_out_by_the_retry_handler(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    fake_slack.inject("ratelimited", method="chat.postMessage", status=429, retry_after=1)
    await notifier.send("C6", Message("t", "b"))
    assert len(fake_slack.messages["C6"]) == 1


async def test_failed_chart_upload_after_text_is_retried_not_resent(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    fake_slack.inject("internal_error", method="files.completeUploadExternal", status=500,
                      times=2)
    await notifier.send("C7", Message("t", "b", chart_png=PNG))
    assert len(fake_slack.messages["C7"]) == 1 and len(fake_slack.files["C7"]) == 1


async def test_silent_alert_mentions_nobody(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    # Slack has no per-message "no sound": it notifies on mentions (and in DMs). An alert never
    # carries one, so a quiet-hours alert notifies no channel; text that looks like a mention
    # is escaped, never a live @here.
    await notifier.send("C2", Message("<!here> QT ends", "<!channel> <@U1> rose",
                                      silent=True))
    [posted] = fake_slack.messages["C2"]
    live = [posted.get("text", "")] + [b["text"]["text"] for b in posted["blocks"]
                                        if b.get("text", {}).get("type") == "mrkdwn"]
    assert not any(token in str(live) for token in ("<!here>", "<!channel>", "<@U1>"))
