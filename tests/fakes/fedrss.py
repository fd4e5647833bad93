"""Wire-level fake of the Fed's feeds (press_monetary.xml, statement pages, calendar.json) and
the Treasury press-release feed, on 127.0.0.1:0.

RSS 2.0 as the Fed serves it: titles plain or with entities, `<link>`/`<guid>`/`<description>`
in CDATA, and `<pubDate><![CDATA[Wed, 16 Sep 2026 18:00:00 GMT]]></pubDate>`. calendar.json
starts with a UTF-8 BOM. Faults (500, 429, truncated, non-XML) come from `FakeServer.inject`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape

from tests.fakes.fiscaldata import FakeServer, Reply


@dataclass
class Item:
    """One press release: feed entry plus its page."""

    title: str
    path: str
    published_at: datetime
    body_html: str
    description: str = ""


def _rss(title: str, base: str, items: list[Item]) -> bytes:
    entries = "".join(
        "<item>"
        f"<title>{escape(i.title)}</title>"
        f"<link><![CDATA[{base}{i.path}]]></link>"
        f"<guid isPermaLink=\"true\"><![CDATA[{base}{i.path}]]></guid>"
        f"<description><![CDATA[{i.description}]]></description>"
        "<category>Monetary Policy</category>"
        f"<pubDate><![CDATA[{format_datetime(i.published_at.astimezone(UTC), usegmt=True)}]]>"
        "</pubDate>"
        "</item>"
        for i in sorted(items, key=lambda i: i.published_at, reverse=True)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{base}/</link>"
        f"<description>{escape(title)}</description>{entries}</channel></rss>"
    ).encode()


def _page(title: str, stamp: str, body_html: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>" + escape(title) + "</title>"
        "<script>var x = 'decided to raise the target range';</script></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/newsevents.htm'>News &amp; Events</a></nav>"
        f"<div id='article'><h3>{escape(title)}</h3><p class='article__time'>{stamp}</p>"
        f"<p>For release at 2:00 p.m. EDT</p>{body_html}</div>"
        "<footer>Board of Governors of the Federal Reserve System</footer></body></html>"
    ).encode()


class FedFeedsFake:
    """Fed monetary feed + statement pages + calendar.json, and the Treasury press feed."""

    def __init__(self) -> None:
        self.monetary: list[Item] = []
        self.treasury: list[Item] = []
        self.calendar_json: bytes = b"\xef\xbb\xbf" + b'{"events": []}'
        self.server = FakeServer(self._route)

    @property
    def base(self) -> str:
        """The fake's origin, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def feeds_url(self) -> str:
        """Like FED_FEEDS_URL."""
        return f"{self.base}/feeds"

    @property
    def treasury_press_url(self) -> str:
        """Like TREASURY_PRESS_URL."""
        return f"{self.base}/news/press-releases/feed"

    def add_fomc_statement(self, published_at: datetime, paragraphs: list[str]) -> str:
        """Publish an FOMC statement (title exactly as the Fed's); returns its URL."""
        path = f"/newsevents/pressreleases/monetary{published_at:%Y%m%d}a.htm"
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        self.monetary.append(
            Item("Federal Reserve issues FOMC statement", path, published_at, body)
        )
        return self.base + path

    def add_monetary(self, title: str, published_at: datetime, body_html: str = "") -> None:
        """Publish another monetary-policy release (minutes, discount rate, ...)."""
        slug = f"{published_at:%Y%m%d}{len(self.monetary)}"
        path = f"/newsevents/pressreleases/monetary{slug}.htm"
        self.monetary.append(Item(title, path, published_at, body_html))

    def add_treasury(self, title: str, published_at: datetime, paragraphs: list[str]) -> str:
        """Publish a Treasury press release; returns its URL."""
        path = f"/news/press-releases/sb{len(self.treasury) + 300:04d}"
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        self.treasury.append(Item(title, path, published_at, body, description=title))
        return self.base + path

    def _route(self, path: str, query: dict[str, list[str]], raw_query: str) -> Reply:
        if path == "/feeds/press_monetary.xml":
            body = _rss("FRB: Press Release - Monetary Policy", self.base, self.monetary)
            return Reply(200, body, "application/rss+xml")
        if path == "/news/press-releases/feed":
            return Reply(200, _rss("Press Releases", self.base, self.treasury),
                         "application/rss+xml; charset=utf-8")
        if path == "/json/calendar.json":
            return Reply(200, self.calendar_json, "application/json")
        for item in [*self.monetary, *self.treasury]:
            if item.path == path:
                stamp = f"{item.published_at:%B %d, %Y}"
                return Reply(200, _page(item.title, stamp, item.body_html), "text/html")
        return Reply(404, b"<html>Page not found</html>", "text/html")
