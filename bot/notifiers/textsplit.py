"""Length-aware splitting of plain text on safe boundaries, and Telegram-safe HTML rendering.

Text is split *before* it is escaped, so a cut can never fall inside a tag or an entity;
each part is then escaped and wrapped on its own.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024

# Boundaries tried in order; a break only counts when it keeps at least this share of the
# window, so a blank line near the start does not produce a tiny part.
_BREAKS = (("\n\n", 0.25), ("\n", 0.25), (" ", 0.0))


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units; emoji outside the BMP count 2)."""
    if text.isascii():  # the common case, without a pass over the characters in Python
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True)
class Span:
    """One part of a split text: `text[start:end]`."""

    start: int
    end: int


def _fit(text: str, start: int, limit: int, measure: Callable[[str], int]) -> int:
    """The largest end such that measure(text[start:end]) <= limit."""
    if measure(text[start : start + limit]) <= limit:
        return min(len(text), start + limit)
    end = start
    used = 0
    while end < len(text):
        step = measure(text[end])
        if used + step > limit:
            break
        used += step
        end += 1
    return end


def split_spans(
    text: str,
    limit: int,
    *,
    first_limit: int | None = None,
    measure: Callable[[str], int] = utf16_len,
) -> list[Span]:
    """Cut `text` into spans of at most `limit` units, preferring paragraph, line, then word
    breaks; the first span may have its own (smaller) limit. Whitespace at cuts is dropped."""
    if limit < 1 or (first_limit is not None and first_limit < 1):
        raise ValueError("split limits must be positive")
    spans: list[Span] = []
    start = _skip_space(text, 0)
    while start < len(text):
        cap = first_limit if (first_limit is not None and not spans) else limit
        end = _fit(text, start, cap, measure)
        if end < len(text):
            end = _best_break(text, start, end)
        part_end = _trim_right(text, start, end)
        if part_end > start:
            spans.append(Span(start, part_end))
        start = _skip_space(text, end)
    return spans


def split_text(text: str, limit: int, *, first_limit: int | None = None) -> list[str]:
    """The parts of `text` (see split_spans)."""
    return [text[s.start : s.end] for s in split_spans(text, limit, first_limit=first_limit)]


def _best_break(text: str, start: int, end: int) -> int:
    window = text[start:end]
    for sep, keep in _BREAKS:
        at = window.rfind(sep)
        if at > 0 and at >= keep * len(window):
            return start + at + len(sep)
    return end  # no break at all: a hard cut (between code points, never inside markup)


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _trim_right(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def escape(text: str) -> str:
    """Escape plain text for Telegram's HTML parse mode (only <, > and & matter)."""
    return html.escape(text, quote=False)


def telegram_html_parts(
    title: str, body: str, *, limit: int = TELEGRAM_TEXT_LIMIT, first_limit: int | None = None
) -> list[str]:
    """Render title (bold) and body as Telegram HTML, split so every part is within `limit`
    characters after entity parsing; the bold title is re-opened in whichever parts it spans."""
    title = title.strip()
    plain = f"{title}\n\n{body}" if title and body.strip() else (title or body)
    bold_end = len(title)
    parts = []
    for span in split_spans(plain, limit, first_limit=first_limit):
        bold_stop = min(bold_end, span.end)
        if span.start < bold_stop:
            head = plain[span.start : bold_stop]
            tail = plain[bold_stop : span.end]
            parts.append(f"<b>{escape(head)}</b>{escape(tail)}")
        else:
            parts.append(escape(plain[span.start : span.end]))
    return parts


def plain_parts(
    title: str, body: str, *, limit: int = TELEGRAM_TEXT_LIMIT, first_limit: int | None = None
) -> list[str]:
    """Title and body as unformatted text parts (for the no-markup fallback)."""
    title = title.strip()
    plain = f"{title}\n\n{body}" if title and body.strip() else (title or body)
    return split_text(plain, limit, first_limit=first_limit)
