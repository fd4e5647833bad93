"""/feed.atom and /releases.ics over real HTTP, read back with feedparser and icalendar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import feedparser
import pytest
from icalendar import Calendar

from bot.app.dashboard import DashboardModel
from bot.chat.settings import checks_by_release
from tests.dashboard.serving import serving


@pytest.fixture
async def base(model: DashboardModel) -> AsyncIterator[str]:
    async with serving(model) as url:
        yield url


async def _get(url: str) -> tuple[str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, url
        return response.content_type, await response.read()


async def test_the_feed_has_every_alert_newest_first_in_either_language(
    base: str, model: DashboardModel
) -> None:
    kind, body = await _get(base + "/feed.atom")
    assert kind == "application/atom+xml"
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    entries = feed.entries
    assert len(entries) == len(model.events()) > 20
    stamps = [e.updated_parsed for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert len({e.id for e in entries}) == len(entries)
    assert any(e.title.startswith("Milestone crossed: ") for e in entries)
    assert all(e.link.startswith(base + "/?lang=en&as_of=") for e in entries)
    _, zh_body = await _get(base + "/feed.atom?lang=zh")
    zh = feedparser.parse(zh_body)
    assert zh.feed.title == "cyclewatch 提醒" and zh.feed.language == "zh"
    assert [e.id for e in zh.entries] == [e.id for e in entries]
    assert zh.entries[0].title != entries[0].title


async def test_the_calendar_lists_the_coming_releases_and_what_each_checks(
    base: str, model: DashboardModel
) -> None:
    kind, body = await _get(base + "/releases.ics")
    assert kind == "text/calendar"
    calendar = Calendar.from_ical(body)
    items = calendar.walk("VEVENT")
    starts = [item.decoded("dtstart") for item in items]
    today = datetime.combine(model.today(), datetime.min.time(), tzinfo=UTC)
    assert all(today <= s <= today + timedelta(days=121) for s in starts)
    kinds = {str(item.get("categories").cats[0]) for item in items}
    assert {"h41", "mspd", "refunding"} <= kinds <= {"h41", "fomc", "mspd", "refunding"}
    weekly = [i for i in items if str(i.get("summary")).startswith("H.4.1")]
    assert len(weekly) >= 16  # one a week
    checks = checks_by_release(model.insight.ruleset)
    assert all(rule in str(weekly[0].get("description")) for rule in checks["h41"])
    assert str(weekly[0].get("description")).startswith("Checks: ")
    assert len({str(i.get("uid")) for i in items}) == len(items)
    _, zh = await _get(base + "/releases.ics?lang=zh")
    assert "届时检查" in Calendar.from_ical(zh).walk("VEVENT")[0].get("description")
