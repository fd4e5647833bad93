"""A chat's quiet hours, a daily window in its own time zone: parsed, shown, and asked whether
an instant falls inside and when the window then ends (pure: the instant is always passed in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MODES = ("silent", "hold")
SEVERITIES = ("milestone", "warning", "info")
_CLOCK = re.compile(r"^(\d{1,2})(?::?(\d{2}))?$")


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The ZoneInfo of `name`, else of `default`, else UTC (a stored name may vanish)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def parse_clock(value: str) -> time | None:
    """23:00, 7:00, 0700 or 7 as a time of day; None when it is not one."""
    match = _CLOCK.match(value.strip())
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour == 24 and minute == 0:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end` local time (wrapping past midnight when end <= start): `silent`
    sends without ringing, `hold` keeps alerts until the end; `breaks` severities ring anyway."""

    start: time
    end: time
    mode: str = "silent"
    breaks: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, words: tuple[str, ...] | list[str]) -> QuietHours | None:
        """`23:00-07:00 [silent|hold] [except milestone[,warning]]`; None when malformed."""
        words = [w.lower() for w in words]
        if not words or "-" not in words[0]:
            return None
        first, _, last = words[0].partition("-")
        start, end = parse_clock(first), parse_clock(last)
        if start is None or end is None or start == end:
            return None
        rest = words[1:]
        mode = "silent"
        if rest and rest[0] in MODES:
            mode, rest = rest[0], rest[1:]
        breaks: set[str] = set()
        if rest:
            if rest[0] != "except" or len(rest) < 2:
                return None
            for word in ",".join(rest[1:]).split(","):
                if word and word not in SEVERITIES:
                    return None
                breaks |= {word} if word else set()
        return cls(start, end, mode, frozenset(breaks))

    @property
    def spec(self) -> str:
        """As stored and as typed: '23:00-07:00 hold except milestone'."""
        text = f"{self.start:%H:%M}-{self.end:%H:%M} {self.mode}"
        if self.breaks:
            text += " except " + ",".join(s for s in SEVERITIES if s in self.breaks)
        return text

    @classmethod
    def from_spec(cls, spec: str | None) -> QuietHours | None:
        """The stored form back (None for NULL or a form we no longer read)."""
        return cls.parse(spec.split()) if spec else None

    def inside(self, at: datetime, tz: ZoneInfo) -> bool:
        """Whether the instant `at` falls in the window, in zone `tz`."""
        local = at.astimezone(tz).time().replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, at: datetime, tz: ZoneInfo) -> datetime:
        """The first end of the window after `at` (UTC), wall-clock correct across DST."""
        local = at.astimezone(tz)
        for days in range(3):
            day = local.date() + timedelta(days=days)
            end = datetime.combine(day, self.end, tzinfo=tz).astimezone(UTC)
            if end > at:
                return end
        raise AssertionError("unreachable: a daily window ends within two days")

    def quiets(self, severity: str, at: datetime, tz: ZoneInfo) -> bool:
        """Whether an alert of `severity` at `at` is quieted (inside and not breaking through)."""
        return severity not in self.breaks and self.inside(at, tz)

    def holds(self, severity: str, at: datetime, tz: ZoneInfo) -> datetime | None:
        """When a hold keeps this alert: the window's end; None when it goes out now."""
        if self.mode != "hold" or not self.quiets(severity, at, tz):
            return None
        return self.ends_after(at, tz)
