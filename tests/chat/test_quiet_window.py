"""Quiet hours at their exact first and last minute, in several zones and across DST
(bot/store/quiet.py): pure arithmetic on instants given in UTC, each worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.store.quiet import QuietHours

NIGHT = QuietHours(time(23), time(7), "hold")  # wraps past midnight
OFFICE = QuietHours(time(9), time(17, 30), "hold")  # inside one day
LATE = QuietHours(time(22), time(6, 30), "hold")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (window, zone, instant in UTC, inside?) — the local time is in each comment
EDGES = [
    # Shanghai, UTC+8 all year
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 14, 59), False),  # 22:59
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 15, 0), True),  # 23:00, the first minute
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 22, 59), True),  # 06:59, the last minute
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 22, 59, 59), True),  # 06:59:59
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 23, 0), False),  # 07:00, over
    # Kolkata, UTC+5:30
    (NIGHT, "Asia/Kolkata", utc(2026, 1, 10, 1, 29), True),  # 06:59
    (NIGHT, "Asia/Kolkata", utc(2026, 1, 10, 1, 30), False),  # 07:00
    (NIGHT, "Asia/Kolkata", utc(2026, 1, 10, 17, 29), False),  # 22:59
    (NIGHT, "Asia/Kolkata", utc(2026, 1, 10, 17, 30), True),  # 23:00
    # New York, spring forward on 2026-03-08 (02:00 EST -> 03:00 EDT)
    (NIGHT, "America/New_York", utc(2026, 3, 8, 3, 59), False),  # 22:59 EST on the 7th
    (NIGHT, "America/New_York", utc(2026, 3, 8, 4, 0), True),  # 23:00 EST
    (NIGHT, "America/New_York", utc(2026, 3, 8, 10, 59), True),  # 06:59 EDT
    (NIGHT, "America/New_York", utc(2026, 3, 8, 11, 0), False),  # 07:00 EDT (12:00 UTC in EST)
    (NIGHT, "America/New_York", utc(2026, 3, 8, 11, 30), False),  # 07:30 EDT
    # New York, fall back on 2026-11-01 (02:00 EDT -> 01:00 EST)
    (NIGHT, "America/New_York", utc(2026, 11, 1, 2, 59), False),  # 22:59 EDT on Oct 31
    (NIGHT, "America/New_York", utc(2026, 11, 1, 3, 0), True),  # 23:00 EDT
    (NIGHT, "America/New_York", utc(2026, 11, 1, 11, 59), True),  # 06:59 EST
    (NIGHT, "America/New_York", utc(2026, 11, 1, 12, 0), False),  # 07:00 EST
    # London, summer time from 2026-03-29 01:00 UTC; a window inside one day
    (OFFICE, "Europe/London", utc(2026, 3, 28, 8, 59), False),  # 08:59 GMT
    (OFFICE, "Europe/London", utc(2026, 3, 28, 9, 0), True),  # 09:00 GMT
    (OFFICE, "Europe/London", utc(2026, 3, 28, 17, 29), True),  # 17:29 GMT
    (OFFICE, "Europe/London", utc(2026, 3, 28, 17, 30), False),  # 17:30 GMT
    (OFFICE, "Europe/London", utc(2026, 3, 29, 7, 59), False),  # 08:59 BST
    (OFFICE, "Europe/London", utc(2026, 3, 29, 8, 0), True),  # 09:00 BST
    (OFFICE, "Europe/London", utc(2026, 3, 29, 16, 29), True),  # 17:29 BST
    (OFFICE, "Europe/London", utc(2026, 3, 29, 16, 30), False),  # 17:30 BST
    # Sydney, summer time ends on 2026-04-05 (03:00 AEDT -> 02:00 AEST) inside the window
    (LATE, "Australia/Sydney", utc(2026, 4, 4, 10, 59), False),  # 21:59 AEDT
    (LATE, "Australia/Sydney", utc(2026, 4, 4, 11, 0), True),  # 22:00 AEDT
    (LATE, "Australia/Sydney", utc(2026, 4, 4, 20, 29), True),  # 06:29 AEST
    (LATE, "Australia/Sydney", utc(2026, 4, 4, 20, 30), False),  # 06:30 AEST
]


@pytest.mark.parametrize(("quiet", "zone", "at", "inside"), EDGES)
def test_the_window_at_its_first_and_last_minute(
    quiet: QuietHours, zone: str, at: datetime, inside: bool
) -> None:
    assert quiet.inside(at, ZoneInfo(zone)) is inside
    assert (quiet.holds("info", at, ZoneInfo(zone)) is not None) is inside


# (window, zone, instant in UTC, the window's next end in UTC)
ENDS = [
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 18, 0), utc(2026, 6, 17, 23, 0)),  # 02:00 -> 07:00
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 22, 59), utc(2026, 6, 17, 23, 0)),  # at 06:59
    (NIGHT, "Asia/Shanghai", utc(2026, 6, 17, 23, 0), utc(2026, 6, 18, 23, 0)),  # 07:00: the next
    (NIGHT, "Asia/Kolkata", utc(2026, 1, 9, 20, 0), utc(2026, 1, 10, 1, 30)),  # 01:30 -> 07:00 IST
    # spring forward: the night is an hour shorter; 07:00 EDT is 11:00 UTC
    (NIGHT, "America/New_York", utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 11, 0)),
    (NIGHT, "America/New_York", utc(2026, 3, 8, 10, 59), utc(2026, 3, 8, 11, 0)),
    # fall back: an hour longer; 07:00 EST is 12:00 UTC
    (NIGHT, "America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 12, 0)),  # 01:30 EDT
    (NIGHT, "America/New_York", utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 12, 0)),  # 01:30 EST
    (OFFICE, "Europe/London", utc(2026, 3, 28, 12, 0), utc(2026, 3, 28, 17, 30)),
    (OFFICE, "Europe/London", utc(2026, 3, 29, 12, 0), utc(2026, 3, 29, 16, 30)),
    (LATE, "Australia/Sydney", utc(2026, 4, 4, 12, 0), utc(2026, 4, 4, 20, 30)),  # 23:00 AEDT
]


@pytest.mark.parametrize(("quiet", "zone", "at", "end"), ENDS)
def test_the_window_ends_on_the_wall_clock_minute(
    quiet: QuietHours, zone: str, at: datetime, end: datetime
) -> None:
    assert quiet.ends_after(at, ZoneInfo(zone)) == end


@pytest.mark.parametrize(("quiet", "zone", "at", "end"), [e for e in ENDS
                                                          if e[0].inside(e[2], ZoneInfo(e[1]))])
def test_a_hold_lasts_exactly_until_the_end(
    quiet: QuietHours, zone: str, at: datetime, end: datetime
) -> None:
    assert quiet.holds("warning", at, ZoneInfo(zone)) == end
    breaking = QuietHours(quiet.start, quiet.end, "hold", frozenset({"warning"}))
    assert breaking.holds("warning", at, ZoneInfo(zone)) is None
    silent = QuietHours(quiet.start, quiet.end, "silent")
    assert silent.holds("warning", at, ZoneInfo(zone)) is None
    assert silent.quiets("warning", at, ZoneInfo(zone))


@pytest.mark.parametrize(("typed", "start", "end"), [
    ("23:00-07:00", time(23), time(7)),
    ("22:30-6:45", time(22, 30), time(6, 45)),
    ("2300-0659", time(23), time(6, 59)),
    ("9-17:30", time(9), time(17, 30)),
    ("22-24", time(22), time(0)),
])
def test_the_typed_window_keeps_its_minutes(typed: str, start: time, end: time) -> None:
    quiet = QuietHours.parse([typed])
    assert quiet is not None and (quiet.start, quiet.end) == (start, end)
    assert QuietHours.from_spec(quiet.spec) == quiet
