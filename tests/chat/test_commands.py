"""Commands through a fake chat: `await handle(ctx, caller, line)` as the front ends call it."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime

import pandas as pd

from bot.chat.commands import COMMANDS, CommandContext, handle
from bot.chat.parse import parse_duration
from bot.chat.ratelimit import TokenBucket
from bot.chat.types import Caller
from bot.chat.views import regime_name, skip_reason
from bot.evaluate.insight import Insight
from bot.i18n import text
from bot.store import Store
from bot.store.chats import Subscriptions
from rules import classify_regime
from sources.base import Fetched
from tests.chat.conftest import FakeClock, group_member, private


async def test_start_and_help_list_every_command(ctx: CommandContext) -> None:
    hello = await handle(ctx, private(), "/start")
    assert "/subscribe all" in hello.text
    helped = await handle(ctx, private(), "/help")
    for name, cmd in COMMANDS.items():
        assert f"/{name} — {cmd.run.__doc__.strip().splitlines()[0]}" in helped.text  # type: ignore[union-attr]
    assert "qt_ends" in helped.text


async def test_subscribe_unsubscribe_round_trip(ctx: CommandContext) -> None:
    subs = Subscriptions(ctx.store.engine)
    reply = await handle(ctx, private(), "/subscribe qt_ends")
    assert "qt_ends" in reply.text
    await handle(ctx, private(), "/subscribe milestone")
    assert subs.targets("telegram", "100") == ["milestone", "qt_ends"]
    again = await handle(ctx, private(), "/subscribe qt_ends")
    assert again.text == text("en", "already_subscribed", target="qt_ends")
    await handle(ctx, private(), "/unsubscribe qt_ends")
    assert subs.targets("telegram", "100") == ["milestone"]
    await handle(ctx, private(), "/unsubscribe")
    assert subs.targets("telegram", "100") == []


async def test_bad_subscription_target_suggests_and_stores_nothing(ctx: CommandContext) -> None:
    reply = await handle(ctx, private(), "/subscribe qt_end")
    assert '"qt_end"' in reply.text and "qt_ends" in reply.text
    assert Subscriptions(ctx.store.engine).targets("telegram", "100") == []


async def test_unknown_command_says_did_you_mean(ctx: CommandContext) -> None:
    reply = await handle(ctx, private(), "/regmie")
    assert "/regime" in reply.text and "/help" in reply.text
    nothing_close = await handle(ctx, private(), "/xyzzy")
    assert "Did you mean" not in nothing_close.text


async def test_slack_style_lines_without_slash(
    ctx: CommandContext, files_insight: Insight
) -> None:
    _, data = files_insight.data()
    expected = classify_regime(files_insight.ruleset, data, date(2020, 4, 30)).regime
    for line in ("regime 2020-04-30", "/cyclewatch regime 2020-04-30", "/regime@cwbot 2020-04-30"):
        reply = await handle(ctx, private(), line)
        if expected == "undetermined":  # the verdict sentence says so, once
            assert reply.text.startswith("Not determined as of 2020-04-30: ")
            assert "Regime as of" not in reply.text
        else:
            assert f"\nRegime as of 2020-04-30: {regime_name(expected, 'en')}" in reply.text


async def test_group_changes_need_an_admin(ctx: CommandContext) -> None:
    subs = Subscriptions(ctx.store.engine)
    refused = await handle(ctx, group_member(), "/subscribe all")
    assert refused.text == text("en", "admins_only") and refused.ephemeral
    for line in ("/mute qt_ends 1d", "/lang zh", "/unsubscribe"):
        assert (await handle(ctx, group_member(), line)).text == text("en", "admins_only")
    assert subs.targets("telegram", "-200") == []
    read_only = await handle(ctx, group_member(), "/rules")
    assert "qt_ends" in read_only.text
    await handle(ctx, group_member(admin=True), "/subscribe all")
    await handle(ctx, group_member(user="boss"), "/subscribe rate_cut")  # configured admin
    assert subs.targets("telegram", "-200") == ["all", "rate_cut"]


async def test_rate_limit_per_user_with_injected_clock(
    chat_store: Store, clock: FakeClock, files_insight: Insight
) -> None:
    ctx = CommandContext(chat_store, clock, files_insight,
                         limiter=TokenBucket(capacity=3, per_second=0.5, clock=clock.monotonic))
    for _ in range(3):
        assert "Commands" in (await handle(ctx, private(), "/help")).text
    limited = await handle(ctx, private(), "/help")
    assert limited.text == text("en", "rate_limited", seconds=2) and limited.ephemeral
    other_user = await handle(ctx, private("101"), "/help")
    assert "Commands" in other_user.text
    clock.advance(seconds=2)
    assert "Commands" in (await handle(ctx, private(), "/help")).text


async def test_language_per_chat(ctx: CommandContext) -> None:
    await handle(ctx, private("1"), "/lang zh")
    zh_regime = await handle(ctx, private("1"), "/regime 2021-06-30")
    en_regime = await handle(ctx, private("2"), "/regime 2021-06-30")
    assert zh_regime.text.startswith("自 2021-01-12 起处于泡沫中的宽松阶段:")
    assert en_regime.text.startswith("Easing into a bubble since 2021-01-12: ")  # no CAPE here
    assert "\n截至 2021-06-30 的阶段:" in zh_regime.text
    assert re.search(r"[\u4e00-\u9fff]", (await handle(ctx, private("1"), "/rules")).text)
    assert not re.search(r"[\u4e00-\u9fff]", (await handle(ctx, private("2"), "/rules")).text)
    today_zh = await handle(ctx, private("1"), "/regime")  # data ends before "today": stale
    assert "跳过" in today_zh.text and "数据已过期" in today_zh.text
    for english in ("stale", "firing", "inactive", "skipped", "no data"):
        assert english not in today_zh.text
        assert english not in (await handle(ctx, private("1"), "/rules")).text
    bad = await handle(ctx, private("2"), "/lang fr")
    assert bad.text == text("en", "usage_lang")


async def test_new_chat_takes_language_from_locale(ctx: CommandContext) -> None:
    reply = await handle(ctx, private("9", lang="zh-hans"), "/start")
    assert reply.text.startswith(text("zh", "welcome"))
    assert Subscriptions(ctx.store.engine).language("telegram", "9") == "zh"


async def test_mute_and_unmute(ctx: CommandContext, clock: FakeClock) -> None:
    reply = await handle(ctx, private(), "/mute qt_ends 7d")
    until = "Mon 2026-11-30 10:00 EST (America/New_York)"  # the chat's zone: CYCLEWATCH_TZ
    assert reply.text == text("en", "muted", rule="qt_ends", until=until)
    assert (await handle(ctx, private(), "/mute qt_ends forever")).text == text(
        "en", "bad_duration", value="forever")
    assert (await handle(ctx, private(), "/mute qt_ends 400d")).text == text(
        "en", "bad_duration", value="400d")
    assert (await handle(ctx, private(), "/mute nope 1d")).text == text(
        "en", "unknown_rule", rule="nope")
    listed = (await handle(ctx, private(), "/mute")).text
    assert listed == text("en", "usage_mute") + "\n" + text("en", "muted_list", rules="qt_ends")
    assert (await handle(ctx, private(), "/unmute qt_ends")).text == text(
        "en", "unmuted", rule="qt_ends")
    assert (await handle(ctx, private(), "/unmute qt_ends")).text == text(
        "en", "not_muted", rule="qt_ends")


def test_parse_duration() -> None:
    assert parse_duration("12h") == pd.Timedelta(hours=12)
    assert parse_duration("2w") == pd.Timedelta(days=14)
    for bad in ("0d", "7", "d7", "1y", "366d", ""):
        assert parse_duration(bad) is None


async def test_why_reports_state_and_last_change(
    ctx: CommandContext, files_insight: Insight
) -> None:
    as_of = ctx.clock().date()
    view = next(v for v in files_insight.rules(as_of) if v.id == "qt_ends")
    last = files_insight.last_event("qt_ends", as_of)
    assert last is not None
    reply = await handle(ctx, private(), "/why qt_ends")
    assert reply.text.startswith(f"Why: {view.title}")
    assert last.date.isoformat() in reply.text and last.render("en")[1] in reply.text
    assert (await handle(ctx, private(), "/why")).text == text("en", "usage_why")
    assert "qt_ends" in (await handle(ctx, private(), "/why qt_end")).text


async def test_status_lists_every_series(ctx: CommandContext, clock: FakeClock) -> None:
    assert text("en", "status_none") in (await handle(ctx, private(), "/status")).text
    values = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2026-11-11", "2026-11-18"]))
    ctx.store.record("fred", Fetched("WALCL", values), clock.now)
    clock.advance(hours=5)
    ctx.store.note_failure("WALCL", "fred", "HTTP 503", clock.now)
    clock.advance(hours=1)
    reply = await handle(ctx, private(), "/status")
    assert "WALCL (fred): latest 2026-11-18, checked 1h ago — last error: HTTP 503" in reply.text
    # the history the rules read (ctx.insight) ends before today: WALCL is flagged as stale
    reason = ctx.insight.stale_series(clock.now.date())["WALCL"]  # type: ignore[union-attr]
    assert "⚠ WALCL (fred)" in reply.text and skip_reason(reason, "en") in reply.text
    assert "is stale: last observation" in skip_reason(reason, "en")
    fresh = CommandContext(ctx.store, clock, None, limiter=TokenBucket(capacity=100))
    assert "⚠" not in (await handle(fresh, private(), "/status")).text


async def test_no_data_is_said_plainly(
    chat_store: Store, clock: FakeClock, files_insight: Insight
) -> None:
    empty = Insight(files_insight.ruleset, lambda: {})
    ctx = CommandContext(chat_store, clock, empty, limiter=TokenBucket(capacity=100))
    for line in ("/regime", "/rules", "/why qt_ends"):
        assert (await handle(ctx, private(), line)).text == text("en", "no_data")
    for bad in ("2020-13-01", "1899-12-31", "2026-11-24", "9999-12-31"):
        assert (await handle(ctx, private(), f"/regime {bad}")).text == text(
            "en", "bad_date", value=bad, today="2026-11-23")
    assert (await handle(ctx, private(), "/history")).text == text("en", "history_none")


async def test_button_actions_are_command_lines(ctx: CommandContext) -> None:
    caller = Caller("slack", "C1", "U1", is_group=True, is_chat_admin=True)
    reply = await handle(ctx, caller, "/mute qt_ends 1d")
    assert reply.text.startswith("Muted qt_ends")
    assert datetime.fromisoformat("2026-11-24T15:00+00:00").strftime("%Y-%m-%d") in reply.text


async def test_garbage_input_gets_a_short_clear_answer(ctx: CommandContext) -> None:
    longest = max(1200, len((await handle(ctx, private(), "/help")).text))  # "/" is /help
    for line in ("/", "//", "/\x00\x07", "/why " + "x" * 5000, "/subscribe " + "é" * 3000,
                 "/mute qt_ends 99999999999d", "/unmute " + "y" * 999, "\u202e/regime"):
        reply = await handle(ctx, private(), line)
        assert reply.text and len(reply.text) <= longest
        assert "\x00" not in reply.text and "x" * 100 not in reply.text
    assert Subscriptions(ctx.store.engine).targets("telegram", "100") == []


async def test_any_text_is_answered_without_raising(ctx: CommandContext) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    answered = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(["", "/", "/subscribe ", "/mute ", "/why ", "/lang ", "/regime "])
           .flatmap(lambda head: st.text(max_size=80).map(lambda tail: head + tail)))
    def check(line: str) -> None:
        reply = asyncio.run(handle(ctx, private(), line))
        assert reply.text
        answered.append(line)

    await asyncio.to_thread(check)
    assert len(answered) >= 60


async def test_configured_admins_are_written_platform_colon_id(ctx: CommandContext) -> None:
    # CYCLEWATCH_ADMINS documents entries such as `telegram:u7`; a caller carries the bare id.
    ctx.admins = frozenset({"telegram:u7", "slack:u7"})
    subs = Subscriptions(ctx.store.engine)
    await handle(ctx, group_member(user="u7"), "/subscribe all")
    assert subs.targets("telegram", "-200") == ["all"]
    refused = await handle(ctx, group_member(user="u8"), "/subscribe rate_cut")
    assert refused.text == text("en", "admins_only")


async def test_reload_is_for_bot_admins_and_reports_the_outcome(ctx: CommandContext) -> None:
    calls: list[str] = []

    async def reload() -> str:
        calls.append("reload")
        return "rules.yaml:3:5: unknown key (kept the running rules)"

    assert (await handle(ctx, private(), "/reload")).text == text("en", "bot_admins_only")
    chat_admin = await handle(ctx, group_member(admin=True), "/reload")
    assert chat_admin.text == text("en", "bot_admins_only")  # a chat admin is not a bot admin
    unavailable = await handle(ctx, group_member(user="boss"), "/reload")
    assert unavailable.text == text("en", "reload_unavailable")
    ctx.reload = reload
    answer = await handle(ctx, group_member(user="boss"), "/reload")
    assert answer.text == "rules.yaml:3:5: unknown key (kept the running rules)"
    assert calls == ["reload"]
