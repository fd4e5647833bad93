"""A Message as the body an Apprise service takes: Markdown, HTML or plain text, whichever the
service speaks natively (its `notify_format`), so Apprise converts nothing."""

from __future__ import annotations

import html
import re

from bot.notifiers.base import Message

FORMATS = ("text", "markdown", "html")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]~|<>])")
_LINE_START = re.compile(r"^([#>+-]|\d+\.)", re.MULTILINE)


def markdown_escape(text: str) -> str:
    """Plain text that Markdown shows as written (no stray emphasis, links or headings)."""
    return _LINE_START.sub(r"\\\1", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def render_body(message: Message, fmt: str) -> str:
    """The message's body in `fmt` (one of FORMATS); the title goes separately."""
    paragraphs = [p for p in message.body.split("\n\n") if p.strip()]
    if fmt == "html" and not message.plain:
        return "".join(f"<p>{html.escape(p).replace(chr(10), '<br/>')}</p>" for p in paragraphs)
    if fmt == "markdown" and not message.plain:
        # Markdown joins single newlines; two trailing spaces keep each line its own.
        return "\n\n".join(markdown_escape(p).replace("\n", "  \n") for p in paragraphs)
    return "\n\n".join(paragraphs)


def render_title(message: Message, fmt: str) -> str:
    """The title, escaped only where the service reads the title as markup too."""
    return html.escape(message.title) if fmt == "html" and not message.plain else message.title
