"""RSS 2.0 feed items and statement-page text for the release adapters (FOMC, refunding)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any


@dataclass(frozen=True)
class FeedItem:
    """One `<item>` of an RSS 2.0 channel."""

    title: str
    link: str
    published_at: datetime
    description: str


@dataclass(frozen=True)
class ReleaseRecord:
    """A non-numeric release (FOMC statement, refunding statement) for the `releases` table."""

    kind: str
    key: str
    published_at: datetime
    title: str
    url: str | None
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


class FeedError(ValueError):
    """The feed is not well-formed RSS 2.0, or an item lacks what every item must have."""


def _text(item: ET.Element, tag: str) -> str:
    node = item.find(tag)
    return (node.text or "").strip() if node is not None else ""


def parse_rss(raw: bytes) -> list[FeedItem]:
    """Every item of an RSS 2.0 document, newest first; FeedError on anything malformed."""
    try:
        root = ET.fromstring(raw)
    except (ET.ParseError, LookupError, ValueError) as err:  # LookupError: unknown encoding
        raise FeedError(f"not XML: {err}") from err
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise FeedError(f"not an RSS 2.0 channel (root <{root.tag}>)")
    items = []
    for n, item in enumerate(channel.findall("item"), start=1):
        title, link, stamp = _text(item, "title"), _text(item, "link"), _text(item, "pubDate")
        if not title or not link:
            raise FeedError(f"item {n} has no title or link")
        try:
            published = parsedate_to_datetime(stamp)
        except (TypeError, ValueError) as err:
            raise FeedError(f"item {n} ({title!r}): pubDate {stamp!r} is not a date") from err
        if published.tzinfo is None:
            published = published.replace(tzinfo=UTC)  # RFC 822 "-0000": GMT, stated as unknown
        items.append(FeedItem(title, link, published.astimezone(UTC), _text(item, "description")))
    return sorted(items, key=lambda i: i.published_at, reverse=True)


class _TextOnly(HTMLParser):
    SKIP = frozenset({"script", "style", "nav", "header", "footer"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in {"p", "div", "br", "li", "h1", "h2", "h3"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def page_text(raw: bytes) -> str:
    """The visible text of an HTML page, whitespace collapsed within paragraphs."""
    parser = _TextOnly()
    parser.feed(raw.decode("utf-8", "replace"))
    parser.close()
    lines = (re.sub(r"\s+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def sentences(text: str) -> list[str]:
    """Split prose into sentences (good enough for official statements)."""
    flat = re.sub(r"\s+", " ", text)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", flat) if s.strip()]
