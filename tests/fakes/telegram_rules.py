"""What the fake Bot API refuses, as Telegram does: its HTML subset (entity parsing), text
and caption lengths in UTF-16 units, callback_data size; and the token buckets of its limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

_ALLOWED_TAGS = frozenset(
    ["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
     "tg-spoiler", "span", "blockquote", "tg-emoji"]
)

class ApiError(Exception):
    """An error reply (status, description, optional parameters)."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


class EntityError(ValueError):
    """Broken HTML, as Telegram's entity parser reports it."""


class _TelegramHTML(HTMLParser):
    """Telegram's HTML subset: known tags, balanced, only the four named entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.chars: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise EntityError(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise EntityError(f'Unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data or "&" in data:
            raise EntityError("Unexpected <, > or & in text")
        self.chars.append(data)

    def handle_entityref(self, name: str) -> None:
        table = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
        if name not in table:
            raise EntityError(f'Unsupported HTML entity "&{name};"')
        self.chars.append(table[name])

    def handle_charref(self, name: str) -> None:
        self.chars.append("?")


def parsed_text(text: str, parse_mode: str | None) -> str:
    """The text after entity parsing (what Telegram counts and shows); EntityError if broken."""
    if parse_mode != "HTML":
        return text
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    return "".join(parser.chars)


def utf16_len(text: str) -> int:
    """Telegram's length unit."""
    return len(text.encode("utf-16-le")) // 2


class Bucket:
    """A token bucket in scaled time."""

    def __init__(self, rate: float, capacity: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens, self.stamp = capacity, clock()

    def take(self) -> float:
        """Take one token; return 0, or the seconds to wait when empty (nothing is taken)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def checked_text(
    text: str, parse_mode: Any, limit: int, too_long: str, *, allow_empty: bool = False
) -> str:
    """The shown text, or the ApiError Telegram answers (broken HTML, empty, too long)."""
    try:
        shown = parsed_text(text, parse_mode)
    except EntityError as err:
        raise ApiError(400, f"Bad Request: can't parse entities: {err}") from None
    if not shown.strip() and not allow_empty:
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(shown) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")
    return shown


def check_markup(markup: Any) -> None:
    """Refuse callback_data outside 1-64 bytes, as Telegram does."""
    if markup is None:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
