"""/tz, /quiet and /next through `handle`, and quiet hours' window arithmetic across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.chat.commands import CommandContext, handle
from bot.i18n import default_zone, text
from bot.ingest.calendar import ReleaseCalendar, next_release, release_of
from bot.store.chats import Subscriptions
from bot.store.quiet import QuietHours, parse_clock
from tests.chat.conftest import FakeClock, group_member, private

SHANGHAI, SYDNEY, NEW_YORK = (ZoneInfo(z) for z in
                              ("Asia/Shanghai", "Australia/Sydney", "America/New_York"))


async def test_tz_sets_checks_and_suggests(ctx: CommandContext) -> None:
    reply = await handle(ctx, private(), "/tz asia/shanghai")
    assert "Asia/Shanghai" in reply.text
    assert Subscriptions(ctx.store.engine).find("telegram", "100").tz == "Asia/Shanghai"  # type: ignore[union-attr]
    typo = await handle(ctx, private(), "/tz Asia/Shangai")
    assert "Did you mean" in typo.text and "Asia/Shanghai" in typo.text
    city = await handle(ctx, private(), "/tz sydney")
    assert "Australia/Sydney" in city.text
    assert "Asia/Shanghai" in (await handle(ctx, private(), "/tz")).text


async def test_new_chinese_chat_defaults_to_shanghai(ctx: CommandContext) -> None:
    await handle(ctx, private("9", lang="zh-hans"), "/start")
    assert Subscriptions(ctx.store.engine).find("telegram", "9").tz == "Asia/Shanghai"  # type: ignore[union-attr]
    await handle(ctx, private("8", lang="en"), "/start")
    assert Subscriptions(ctx.store.engine).find("telegram", "8").tz is None  # type: ignore[union-attr]
    assert default_zone("ja") == "Asia/Tokyo" and default_zone("es") is None


async def test_quiet_sets_shows_and_clears(ctx: CommandContext) -> None:
    reply = await handle(ctx, private(), "/quiet 23:00-07:00 hold except milestone")
    assert "23:00–07:00" in reply.text and "America/New_York" in reply.text
    chat = Subscriptions(ctx.store.engine).find("telegram", "100")
    assert chat is not None and chat.tz == "America/New_York"  # the zone is fixed with it
    assert chat.quiet == QuietHours(time(23), time(7), "hold", frozenset({"milestone"}))
    status = (await handle(ctx, private(), "/status")).text
    assert "23:00–07:00" in status and "America/New_York" in status
    assert (await handle(ctx, private(), "/quiet 25:00-07:00")).text == text("en", "usage_quiet")
    assert (await handle(ctx, private(), "/quiet off")).text == text("en", "quiet_none")
    zh = await handle(ctx, private("7", lang="zh"), "/quiet 22:30-06:00")
    assert "不响铃" in zh.text and "Asia/Shanghai" in zh.text
    refused = await handle(ctx, group_member(), "/quiet 23:00-07:00")
    assert refused.text == text("en", "admins_only")


def test_quiet_window_wraps_midnight_and_ends_right_across_dst() -> None:
    quiet = QuietHours.parse(["23:00-07:00", "hold"])
    assert quiet is not None and quiet.spec == "23:00-07:00 hold"
    at = datetime(2026, 6, 17, 18, 0, tzinfo=UTC)  # 02:00 in Shanghai
    assert quiet.inside(at, SHANGHAI) and not quiet.inside(at, NEW_YORK)
    assert quiet.holds("milestone", at, SHANGHAI) == datetime(2026, 6, 17, 23, tzinfo=UTC)
    # New York's clocks go forward on 2026-03-08: 07:00 that morning is 11:00 UTC, not 12:00.
    night = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert quiet.ends_after(night, NEW_YORK) == datetime(2026, 3, 8, 11, tzinfo=UTC)
    late = datetime(2026, 3, 7, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert quiet.ends_after(late, NEW_YORK) == datetime(2026, 3, 8, 11, tzinfo=UTC)
    breaking = QuietHours.parse(["23:00-07:00", "hold", "except", "milestone"])
    assert breaking is not None and breaking.holds("milestone", at, SHANGHAI) is None
    assert breaking.holds("info", at, SHANGHAI) is not None
    for bad in (["7-7"], ["23:00"], ["23:00-07:00", "loud"], ["1-2", "except", "x"]):
        assert QuietHours.parse(bad) is None
    assert parse_clock("0700") == time(7) and parse_clock("24:00") == time(0)


def test_release_series_map() -> None:
    assert release_of("fred", "WALCL") == "h41" and release_of("fred", "TREAST") == "h41"
    assert release_of("fred", "DFEDTARU") == "fomc" and release_of("fomc", "x") == "fomc"
    assert release_of("treasury", "x") == "mspd" and release_of("refunding", "x") == "refunding"
    assert release_of("fred", "DGS10") is None


@pytest.mark.parametrize(("now", "zone", "expected"), [
    # US clocks go forward on Sunday 2026-03-08: the H.4.1 (4:30 pm New York) moves an hour
    # earlier in Shanghai and Sydney.
    ("2026-03-04T12:00Z", "Asia/Shanghai", "Fri 2026-03-06 05:30 CST (Asia/Shanghai)"),
    ("2026-03-09T12:00Z", "Asia/Shanghai", "Fri 2026-03-13 04:30 CST (Asia/Shanghai)"),
    ("2026-03-04T12:00Z", "America/New_York", "Thu 2026-03-05 16:30 EST (America/New_York)"),
    ("2026-03-09T12:00Z", "America/New_York", "Thu 2026-03-12 16:30 EDT (America/New_York)"),
    # Sydney's clocks go back on Sunday 2026-04-05 (AEDT, UTC+11 -> AEST, UTC+10).
    ("2026-04-01T12:00Z", "Australia/Sydney", "Fri 2026-04-03 07:30 AEDT (Australia/Sydney)"),
    ("2026-04-06T12:00Z", "Australia/Sydney", "Fri 2026-04-10 06:30 AEST (Australia/Sydney)"),
])
async def test_next_h41_across_dst(
    ctx: CommandContext, clock: FakeClock, now: str, zone: str, expected: str
) -> None:
    clock.now = datetime.fromisoformat(now)
    await handle(ctx, private(), f"/tz {zone}")
    reply = (await handle(ctx, private(), "/next")).text
    h41 = next(line for line in reply.splitlines() if line.startswith("H.4.1"))
    assert expected in h41 and "qt_ends" in h41  # what it checks: rules on H.4.1 series


async def test_next_lists_every_release_in_both_languages(
    ctx: CommandContext, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 6, 16, 12, tzinfo=UTC)
    await handle(ctx, private("5", lang="zh"), "/start")
    reply = (await handle(ctx, private("5", lang="zh"), "/next")).text
    # FOMC 2026-06-17 2:00 pm EDT is 02:00 on the 18th in Shanghai.
    assert "FOMC 声明:2026-06-18(周四)02:00 CST(Asia/Shanghai)" in reply
    assert "rate_cut" in reply.split("FOMC")[1].splitlines()[0]
    english = (await handle(ctx, private(), "/next")).text
    for kind in ("H.4.1", "FOMC statement", "MSPD", "Quarterly refunding"):
        assert kind in english
    release = next_release(ReleaseCalendar(), "refunding", clock.now)
    assert release is not None and release.kind == "refunding_financing"
    assert release.at == datetime(2026, 8, 3, 19, tzinfo=UTC)  # Monday 3:00 pm EDT
