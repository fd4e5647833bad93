"""The Slack front end against the fake: Socket Mode envelopes and signed HTTP slash commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.platforms.slack.frontend import SlackFrontEnd, command_line
from bot.platforms.slack.notifier import slack_client
from tests.fakes.slack import FakeSlack, block_text
from tests.platforms.conftest import Recorder, until

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_795_000_000.0



@pytest.fixture
async def socket_front(fake_slack: FakeSlack) -> AsyncIterator[tuple[SlackFrontEnd, Recorder]]:
    recorder = Recorder(chart=b"\x89PNG-chart")
    front = SlackFrontEnd(slack_client(fake_slack.bot_token, fake_slack.base_url), recorder,
                          app_token=fake_slack.app_token)
    await front.start()
    yield front, recorder
    await front.stop()


class HttpFront:
    """The signed endpoint mounted on a real aiohttp server, with a settable clock."""

    def __init__(self, fake: FakeSlack) -> None:
        self.now = NOW
        self.recorder = Recorder()
        self.front = SlackFrontEnd(slack_client(fake.bot_token, fake.base_url), self.recorder,
                                   signing_secret=SECRET, clock=lambda: self.now)
        self.url = ""

    async def post(self, body: str, *, timestamp: float, signature: str | None = None
                   ) -> httpx.Response:
        ts = str(int(timestamp))
        sig = signature or SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        async with httpx.AsyncClient() as client:
            return await client.post(self.url, content=body, headers={
                "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig or "",
                "Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture
async def http_front(fake_slack: FakeSlack) -> AsyncIterator[HttpFront]:
    holder = HttpFront(fake_slack)
    app = web.Application()
    app.router.add_post("/slack/commands", holder.front.handle_http)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    holder.url = f"http://127.0.0.1:{port}/slack/commands"
    yield holder
    await holder.front.stop()
    await runner.cleanup()


def test_command_line_forms() -> None:
    assert command_line("/cyclewatch", "regime 2024-01-05") == "/regime 2024-01-05"
    assert command_line("/cyclewatch", "  ") == "/help"
    assert command_line("/cyclewatch", "/why qt_ends") == "/why qt_ends"
    assert command_line("/regime", "") == "/regime"
    assert command_line("/regime", "2020-03-01") == "/regime 2020-03-01"


def _slash(command: str, text: str, channel: str = "C100", user: str = "U1") -> dict[str, str]:
    return {"command": command, "text": text, "channel_id": channel, "user_id": user,
            "response_url": "https://hooks.invalid/x", "trigger_id": "t"}


async def test_socket_mode_slash_command_is_acked_with_blocks_and_chart(
    fake_slack: FakeSlack, socket_front: tuple[SlackFrontEnd, Recorder]
) -> None:
    _, recorder = socket_front
    fake_slack.locales["U1"] = "zh-CN"
    envelope = fake_slack.send_envelope("slash_commands", _slash("/cyclewatch", "regime"))
    async with asyncio.timeout(3):  # Slack's ack deadline
        ack = await fake_slack.wait_ack(envelope)
    [(caller, text)] = recorder.calls
    assert text == "/regime" and caller.language_code == "zh" and caller.is_group
    assert "ok &lt;/regime&gt;" in block_text(ack["payload"])
    await until(lambda: bool(fake_slack.files.get("C100")))
    assert fake_slack.files["C100"][0]["data"] == b"\x89PNG-chart"


async def test_socket_mode_button_runs_its_action(
    fake_slack: FakeSlack, socket_front: tuple[SlackFrontEnd, Recorder]
) -> None:
    _, recorder = socket_front
    payload = {"type": "block_actions", "user": {"id": "U2"}, "channel": {"id": "C200"},
               "actions": [{"action_id": "cyclewatch_0", "value": "/mute qt_ends 7d"}]}
    envelope = fake_slack.send_envelope("interactive", payload)
    async with asyncio.timeout(3):
        await fake_slack.wait_ack(envelope)
    await until(lambda: bool(fake_slack.messages.get("C200")))
    assert [t for _, t in recorder.calls] == ["/mute qt_ends 7d"]
    assert "/mute qt_ends 7d" in fake_slack.texts("C200")[0]


async def test_workspace_admin_flag_comes_from_users_info(
    fake_slack: FakeSlack, socket_front: tuple[SlackFrontEnd, Recorder]
) -> None:
    _, recorder = socket_front
    fake_slack.admins.add("UADMIN")
    for user in ("UADMIN", "UADMIN", "UOTHER"):
        envelope = fake_slack.send_envelope("slash_commands", _slash("/regime", "", user=user))
        async with asyncio.timeout(3):
            await fake_slack.wait_ack(envelope)
    assert [c.is_chat_admin for c, _ in recorder.calls] == [True, True, False]
    assert sum(1 for m, _ in fake_slack.calls if m == "users.info") == 2


async def test_signed_http_command_is_answered(http_front: HttpFront) -> None:
    body = urlencode(_slash("/cyclewatch", "status"))
    response = await http_front.post(body, timestamp=NOW - 10)
    assert response.status_code == 200
    assert response.json()["response_type"] == "in_channel"
    assert "ok &lt;/status&gt;" in block_text(response.json())
    assert [t for _, t in http_front.recorder.calls] == ["/status"]


async def test_forged_old_and_replayed_requests_get_401(http_front: HttpFront) -> None:
    body = urlencode(_slash("/regime", ""))
    forged = await http_front.post(body, timestamp=NOW, signature="v0=" + "0" * 64)
    old = await http_front.post(body, timestamp=NOW - 301)
    tampered_sig = SignatureVerifier(SECRET).generate_signature(timestamp=str(int(NOW)),
                                                                body=body)
    tampered = await http_front.post(body + "&text=x", timestamp=NOW, signature=tampered_sig)
    first = await http_front.post(body, timestamp=NOW)
    replay = await http_front.post(body, timestamp=NOW)
    statuses = [r.status_code for r in (forged, old, tampered, first, replay)]
    assert statuses == [401, 401, 401, 200, 401]
    assert len(http_front.recorder.calls) == 1


async def test_slow_command_is_acked_then_posted(
    fake_slack: FakeSlack, http_front: HttpFront
) -> None:
    gate = asyncio.Event()
    original = http_front.recorder.__call__

    async def slow(caller, text):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await original(caller, text)

    http_front.front.handler = slow
    body = urlencode(_slash("/regime", "", channel="C300"))
    task = asyncio.create_task(http_front.post(body, timestamp=NOW))
    response = await asyncio.wait_for(task, 5)
    assert response.status_code == 200 and "Working" in response.json()["text"]
    gate.set()
    await until(lambda: bool(fake_slack.messages.get("C300")))
    assert "/regime" in fake_slack.texts("C300")[0]
