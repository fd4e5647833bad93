"""The fakes themselves refuse what the real services refuse (through the real clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken

from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as b:
        yield b


async def test_telegram_counts_length_after_entity_parsing(bot: Bot) -> None:
    await bot.send_message(1, "&amp;" * 4096, parse_mode=ParseMode.HTML)  # 4096 shown
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(2, "x" * 4097)
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(3, "😀" * 2049)  # 4098 UTF-16 units


@pytest.mark.parametrize("broken", ["<b>open", "<script>x</script>", "a & b", "&nbsp;"])
async def test_telegram_refuses_broken_html(bot: Bot, broken: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(4, broken, parse_mode=ParseMode.HTML)
    await bot.send_message(4, broken)  # the same text without parse mode is fine


async def test_telegram_wrong_token_and_blocked(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.block(5)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(5, "x")
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=fake_telegram.base_url):
            pass


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, AsyncWebClient]]:
    fake = await FakeSlack().start()
    yield fake, AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)
    await fake.close()


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([_section("x")] * 51, "invalid_blocks"),
        ([_section("x" * 3001)], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
         "invalid_blocks"),
        ([_section("y" * 2900)] * 5, "msg_blocks_too_long"),
    ],
)
async def test_slack_block_kit_limits(
    slack: tuple[FakeSlack, AsyncWebClient], blocks: list[dict[str, object]], error: str
) -> None:
    fake, client = slack
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", blocks=blocks, text="t")
    assert caught.value.response["error"] == error
    assert "C1" not in fake.messages


async def test_slack_checks_the_bearer_token(slack: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, _ = slack
    intruder = AsyncWebClient(token="xoxb-wrong", base_url=fake.base_url)
    with pytest.raises(SlackApiError) as caught:
        await intruder.chat_postMessage(channel="C1", text="x")
    assert caught.value.response["error"] == "invalid_auth"
