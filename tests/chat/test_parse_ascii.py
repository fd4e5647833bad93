"""Durations and dates take ASCII digits only (issue 13, row 11): `1١d` is not 11 days."""

from __future__ import annotations

from datetime import date, timedelta

from bot.chat.parse import ascii_hint, parse_day, parse_duration


def test_other_digits_are_refused_with_the_ascii_spelling_as_a_hint() -> None:
    assert parse_duration("1١d") is None
    assert ascii_hint("1١d") == "11d"
    assert parse_duration("١٢h") is None and ascii_hint("١٢h") == "12h"
    assert parse_day("２０２４-01-05", date(2026, 1, 1)) is None
    assert ascii_hint("２０２４-01-05") == "2024-01-05"
    assert parse_duration("11d") == timedelta(days=11) and ascii_hint("11d") is None
