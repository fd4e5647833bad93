"""Parsing chat command lines and their arguments (durations, dates), and echoing input safely."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

_DURATION = re.compile(r"^([0-9]{1,4})([mhdw])$", re.ASCII)  # ASCII digits only: 1١d is not 11d
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", re.ASCII)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_MUTE = timedelta(days=365)
EARLIEST = date(1900, 1, 1)
MAX_ECHO = 40


def parse_line(line: str) -> tuple[str, tuple[str, ...]]:
    """`/regime@bot 2020-04-30` -> ("regime", ("2020-04-30",)); "cyclewatch why x" works too."""
    words = line.strip().split()
    if words and words[0].lstrip("/").lower() == "cyclewatch":
        words = words[1:]
    name = words[0].lstrip("/").split("@", 1)[0].lower() if words else ""
    return name or "help", tuple(words[1:])


def parse_duration(value: str) -> timedelta | None:
    """`12h`, `7d`, `2w`, `30m` -> timedelta (None when malformed, zero or over 365 days)."""
    match = _DURATION.match(value.strip().lower())
    if not match:
        return None
    span = timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    return span if timedelta(0) < span <= MAX_MUTE else None


def parse_day(value: str, today: date) -> date | None:
    """A YYYY-MM-DD date between 1900-01-01 and `today` (None otherwise)."""
    if not _DAY.match(value):
        return None
    try:
        found = date.fromisoformat(value)
    except ValueError:
        return None
    return found if EARLIEST <= found <= today else None


def ascii_hint(value: str) -> str | None:
    """`1١d` -> `11d`: the ASCII spelling of an argument written with other digits (for a
    "did you mean"), None when the argument has none."""
    if value.isascii():
        return None
    spelled = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in value)
    return spelled if spelled.isascii() else None


def shown(value: str) -> str:
    """User input made safe to echo: control characters dropped, at most 40 characters."""
    clean = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return clean if len(clean) <= MAX_ECHO else clean[: MAX_ECHO - 1] + "…"
