"""The dashboard's JSON and page over real HTTP: the numbers of the CLI, the token, the
headers that keep the page safe."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import aiohttp
import pytest

from bot.app.dashboard import DashboardModel
from bot.app.dashboard.texts import pick_lang
from bot.app.dashboard.vendor import problems
from bot.cli.main import main
from tests.conftest import HISTORY
from tests.dashboard.serving import serving

TOKEN = "s3cret-dashboard-token"


@pytest.fixture
async def base(model: DashboardModel) -> AsyncIterator[str]:
    async with serving(model) as url:
        yield url


@pytest.fixture
async def guarded(model: DashboardModel) -> AsyncIterator[str]:
    async with serving(model, TOKEN) as url:
        yield url


def test_history_matches_the_cli_month_by_month(
    model: DashboardModel, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(UTC).date()
    code = main(["regime", "--data", str(HISTORY), "--from", "1990-01-01",
                 "--to", today.isoformat(), "--every", "month", "--json"])
    assert code == 0
    cli = json.loads(capsys.readouterr().out)
    ours = model.history(date(1990, 1, 1), today, "month", "en")["items"]
    assert len(ours) == len(cli) > 400
    for mine, theirs in zip(ours, cli, strict=True):
        theirs.pop("checks")
        assert mine == theirs


async def test_every_view_answers_json_with_a_strict_policy(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/api/regime", "/api/regime?as_of=2021-12-31&lang=zh",
                     "/api/regime/history?from=2019-01-01&to=2020-12-31&every=week",
                     "/api/rules", "/api/rules/qt_ends/chart", "/api/events?from=2020-01-01",
                     "/api/series/WALCL?from=2025-01-01", "/api/freshness"):
            async with http.get(base + path) as response:
                assert response.status == 200, path
                assert response.content_type == "application/json"
                policy = response.headers["Content-Security-Policy"]
                assert "script-src 'self'" in policy and "default-src 'none'" in policy
                await response.json()
        async with http.get(base + "/api/regime?as_of=2021-12-31") as response:
            body = await response.json()
        assert body["as_of"] == "2021-12-31" and body["regime"] and body["checks"]
        async with http.get(base + "/api/rules/qt_ends/chart") as response:
            chart = await response.json()
        assert len(chart["dates"]) == len(chart["values"]) > 100
        assert chart["periods"] and chart["periods"][0][0] < "2020-01-01"


async def test_bad_queries_get_a_plain_answer_never_an_internal_error(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path, status in (("/api/regime?as_of=yesterday", 400),
                             ("/api/regime/history?every=hour", 400),
                             ("/api/regime/history?from=2020-01-01&to=2019-01-01", 400),
                             ("/api/rules/no_such_rule/chart", 404),
                             ("/static/../pyproject.toml", 404), ("/api/series/NOPE", 404)):
            async with http.get(base + path) as response:
                text = await response.text()
            assert response.status == status, path
            assert "Traceback" not in text and "File \"" not in text


async def test_the_page_is_server_rendered_and_loads_only_its_own_assets(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}) as r:
            page = await r.text()
        assert 'lang="zh-Hans"' in page and "截至" in page
        assert "<script>" not in page  # only src= scripts and a JSON data island
        for url in re.findall(r'(?:src|href)="([^"]+)"', page):
            assert url.startswith(("/", "#")), url
            async with http.get(base + url.replace("&amp;", "&")) as asset:
                assert asset.status == 200, url


async def test_the_token_is_asked_for_and_traded_for_a_cookie(guarded: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/api/regime", "/static/dashboard.js", "/chart/rule/qt_ends.png"):
            async with http.get(guarded + path) as response:
                assert response.status == 401, path
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(guarded + "/api/regime", headers=headers) as response:
            assert response.status == 200
        async with http.get(guarded + "/api/regime", headers={"Authorization": "Bearer x"}) as r:
            assert r.status == 401
    # unsafe=True: aiohttp's jar keeps no cookie of a bare IP address otherwise (browsers do)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(guarded + f"/?token={TOKEN}&lang=en") as response:
            assert response.status == 200
            assert TOKEN not in str(response.url) and "lang=en" in str(response.url)
            assert TOKEN not in await response.text()
        async with http.get(guarded + "/api/rules") as response:  # the cookie carries it
            assert response.status == 200


def test_language_follows_the_switch_then_the_browser() -> None:
    assert pick_lang(None, None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert pick_lang(None, None, "fr-FR, en;q=0.5, zh;q=0.4") == "en"
    assert pick_lang("en", "zh", "zh-CN") == "en"
    assert pick_lang(None, "zh", "en-US") == "zh"
    assert pick_lang(None, None, None) == "en"


def test_the_bundled_chart_library_is_the_pinned_one() -> None:
    assert problems() == []
