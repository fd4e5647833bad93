"""Splitting on safe boundaries and HTML rendering that survives Telegram's entity parser."""

from __future__ import annotations

import random

import pytest

from bot.notifiers.textsplit import split_text, telegram_html_parts, utf16_len
from tests.fakes.telegram_rules import parsed_text


def test_prefers_paragraphs_then_lines_then_words() -> None:
    paragraphs = ["alpha " * 30, "beta " * 30, "gamma " * 30]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split_text(text, 200)
    assert parts == [p.strip() for p in paragraphs]
    lines = "\n".join(["x" * 60] * 5)
    assert all(part == "\n".join(["x" * 60] * len(part.split("\n")))
               for part in split_text(lines, 130))
    words = "word " * 100
    for part in split_text(words, 47):
        assert part.split() == ["word"] * len(part.split())


def test_no_break_at_all_gives_hard_cuts_and_keeps_every_character() -> None:
    text = "x" * 10_000
    parts = split_text(text, 4096)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_limits_count_utf16_units() -> None:
    text = "😀" * 3000  # each emoji counts 2 in Telegram
    parts = split_text(text, 4096)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts) == text


def test_bad_limit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_text("abc", 0)


@pytest.mark.parametrize("seed", range(20))
def test_html_parts_parse_and_fit_and_lose_nothing(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = ["<", ">", "&", "&amp;", "<b>", " ", "\n", "\n\n", "a", "中", "😀", "word"]
    body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6000)))
    title = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))
    parts = telegram_html_parts(title, body, limit=1000, first_limit=300)
    shown = [parsed_text(p, "HTML") for p in parts]  # raises if any part is broken HTML
    assert utf16_len(shown[0]) <= 300
    assert all(utf16_len(s) <= 1000 for s in shown)
    original = f"{title.strip()}\n\n{body}" if body.strip() else title.strip()
    assert "".join("".join(s.split()) for s in shown) == "".join(original.split())
    assert parts[0].startswith("<b>")
