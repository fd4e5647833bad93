"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against
`cyclewatch dashboard --data ../shared/data` (scripts/ensure-browser.sh installs chromium)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path("/tmp/dashboard-shots")  # a copy to look at; the test's own are in tmp_path
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extras bring it
    sync_playwright = None


def _months(start: str, end: str, months: list[str]) -> list[str]:
    return [m for m in months if start <= m <= end]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if sync_playwright is None:
        pytest.skip("playwright (PyPI) is not installed: pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: run scripts/ensure-browser.sh (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("profile")  # a fresh --user-data-dir
    with sync_playwright() as play:
        context = play.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            locale="en-US", viewport={"width": 1440, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


class Watch:
    """Console errors and every host a page asked for."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.hosts.add(urlsplit(r.url).netloc))


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def _api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # our own server
        return json.load(response)


def test_the_dashboard_in_chromium(browser: BrowserContext, served: str, tmp_path: Path) -> None:
    page = browser.new_page()
    watch = Watch(page)
    page.goto(served + "/", wait_until="networkidle")

    regime = _api(served + "/api/regime?lang=en")
    sentence = page.locator("#regime-sentence").inner_text()
    assert regime["as_of"] in sentence and regime["name"] in sentence, sentence
    if not regime["determined"]:
        assert "undetermined" in sentence and regime["provisional_name"] in sentence
    assert page.locator("#checklist tbody tr").count() == sum(
        c["kind"] == "gauge" for c in regime["checks"])

    # The band, month by month, against /api/regime/history (what the CLI prints).
    history = _api(served + page.locator("#timeline-section a.json").get_attribute("href"))
    items = history["items"]
    assert items[0]["as_of"] == "1990-01-31"
    segs = page.eval_on_selector_all("#timeline .seg", "els => els.map(e => ({...e.dataset}))")
    months = [i["as_of"] for i in items]
    shown = [(m, s["regime"]) for s in segs for m in _months(s["from"], s["to"], months)]
    assert shown == [(i["as_of"], i["regime"]) for i in items]
    assert sum(int(s["months"]) for s in segs) == len(items)
    assert page.locator("#timeline .marker").count() > 20

    # Hover over March 2020: the tooltip names the month, its regime and its events.
    box = page.locator("#timeline").bounding_box()
    assert box is not None
    index = months.index("2020-03-31")
    page.mouse.move(box["x"] + (index + 0.5) / len(months) * box["width"], box["y"] + 50)
    tip = page.locator("#tip")
    assert tip.is_visible()
    assert "2020-03" in tip.inner_text() and history["names"][items[index]["regime"]] in \
        tip.inner_text()

    # A milestone card: its state, and the chart drawn by the bundled uPlot.
    card = page.locator("#rule-qt_ends")
    card.scroll_into_view_if_needed()
    assert card.locator("h3").inner_text()
    assert card.locator(".badge").inner_text()
    card.locator(".chart.drawn canvas").wait_for(timeout=10_000)
    # One-off milestones (issue 21): what last happened in the badge, events drawn as points,
    # and no firing band that runs on to today.
    rules = _api(served + "/api/rules?lang=en")
    one_off = [r for r in rules if r["one_off"]]
    assert {"rate_cut", "tightening_starts"} <= {r["id"] for r in one_off}
    for rule in one_off:
        card = page.locator(f"#rule-{rule['id']}")
        card.scroll_into_view_if_needed()
        card.locator(".chart.drawn canvas").wait_for(timeout=10_000)
        chart = card.locator(".chart")
        assert chart.get_attribute("data-bands") == "0", rule["id"]
        assert int(chart.get_attribute("data-points") or 0) == len(rule["events"]) > 0
        assert card.locator(".badge").inner_text() == rule["event_text"]
        assert "not firing" not in card.inner_text()
    page.locator("#rule-rate_cut").screenshot(path=str(tmp_path / "rate-cut.png"))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "rate-cut.png", SHOTS / "rate-cut.png")
    assert page.locator("#seed-numbers li").count() == len(regime["numbers"]["lines"]) == 4

    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, tmp_path, "desktop-en")

    # The switch to Chinese, which sticks.
    page.click("#lang-switch")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "截至" in page.locator("#regime-sentence").inner_text()
    _shot(page, tmp_path, "desktop-zh")

    # A phone: 390 px wide, nothing wider than the screen.
    phone = browser.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone_watch = Watch(phone)
    for lang in ("en", "zh"):
        phone.goto(served + f"/?lang={lang}", wait_until="networkidle")
        phone.locator("#rule-qt_ends .chart").scroll_into_view_if_needed()
        phone.locator("#rule-qt_ends .chart.drawn canvas").wait_for(timeout=10_000)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px phone ({lang})"
        phone.evaluate("window.scrollTo(0, 0)")
        _shot(phone, tmp_path, f"phone-{lang}")

    own = urlsplit(served).netloc
    assert watch.hosts | phone_watch.hosts == {own}
    assert watch.errors == [] and phone_watch.errors == []
